"""What any ensemble of k default networks could add: k independent fits averaged.

Run with::

    python benchmarks/independent_fits.py --seeds 5 --members 3

Each seed fits the defaults ``--members`` times (``random_state`` 100 * seed
+ j for member j: new initial weights, batches and dropout masks) and
averages the first 1, 2, ..., k fits' probabilities, level by level, on the
test split. Independent members are the most diverse a k-member ensemble of
these networks can be (an efficient ensemble shares weights, and its members
differ less), at k times one fit's cost: a set whose AU(PRC) does not rise
here will not rise for a k-member ensemble within k times a default fit. The
table gives fine accuracy (the argmax of the averaged finest level) and
AU(PRC) over every node, their paired gain over one fit, and the members'
summed fit seconds. Text sets go through ``TfidfVectorizer()`` fitted on the
training split, as in ``suite.py``. Tables go to stdout and
``<out>/independent_fits.md``, numbers and provenance to
``<out>/independent_fits.json``.
"""

import argparse
import time

import numpy as np
from _common import set_threads, warm_up_torch, write_results
from _real_data import REAL_SETS, add_run_arguments
from neighbor_votes import split

from mgclassifier import MultiGranularityClassifier
from mgclassifier.metrics import hierarchical_average_precision


def averaged_scores(probas, classes, Y_test):
    """``(fine accuracy, AU(PRC))`` of the level-by-level mean of ``probas``."""
    mean = [np.mean(level, axis=0) for level in zip(*probas)]
    predicted = classes[-1][mean[-1].argmax(axis=1)]
    accuracy = float(np.mean(predicted == Y_test[:, -1]))
    return accuracy, hierarchical_average_precision(Y_test, mean, classes)


def run_seed(data, seed, n_members, cap):
    """Scores of the first 1..n_members independent fits averaged, and the
    summed fit seconds of each prefix."""
    X_train, Y_train, X_test, Y_test, _ = data
    probas, rows, seconds = [], [], 0.0
    for member in range(n_members):
        model = MultiGranularityClassifier(random_state=100 * seed + member, **cap)
        start = time.perf_counter()
        model.fit(X_train, Y_train)
        seconds += time.perf_counter() - start
        probas.append(model.predict_proba(X_test))
        rows.append((*averaged_scores(probas, model.classes_, Y_test), seconds))
    return rows


def summary(name, runs):
    """Markdown rows for one set: one row per number of members."""
    runs = np.array(runs)  # (seeds, members, 3)

    def cell(values, digits=4):
        return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"

    one = runs[:, 0]
    return [
        f"| {name} | {k + 1} | {cell(runs[:, k, 0], 3)} | {cell(runs[:, k, 1])} "
        f"| {cell(runs[:, k, 0] - one[:, 0], 3)} | {cell(runs[:, k, 1] - one[:, 1])} "
        f"| {cell(runs[:, k, 2], 1)} |"
        for k in range(runs.shape[1])
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser)
    parser.add_argument("--sets", nargs="+", default=list(REAL_SETS), choices=REAL_SETS)
    parser.add_argument("--members", type=int, default=3, help="fits averaged, at most")
    args = parser.parse_args(argv)
    _limits = set_threads(args.threads)  # noqa: F841  (keeps the limit active)
    seeds = list(range(1 if args.quick else args.seeds))
    cap = {"max_epochs": 3} if args.quick else {}
    lines = [
        "| set | fits averaged | fine acc | AU(PRC) | Δ acc (paired) "
        "| Δ AU(PRC) (paired) | fit s, summed |",
        "|---|---:|---|---|---|---|---:|",
    ]
    results = {}
    for name in args.sets:
        data = split(name, args.data_dir)
        if not results:
            warm_up_torch(data[0], data[1])
        runs = []
        for seed in seeds:
            runs.append(run_seed(data, seed, args.members, cap))
            print(f"{name} seed {seed}: {runs[-1]}", flush=True)
        results[name] = runs
        lines += summary(name, runs)
    text = (
        f"### Independent default fits averaged, {len(seeds)} seeds\n\n"
        + "\n".join(lines)
        + "\n"
    )
    print(text)
    name = "independent_fits_quick" if args.quick else "independent_fits"
    write_results(name, text, results, {**vars(args), "seeds": seeds}, args.out)


if __name__ == "__main__":
    main()
