"""What any ensemble of k default networks could add: k independent fits averaged.

Run with::

    python benchmarks/independent_fits.py --seeds 5 --members 3
    python benchmarks/independent_fits.py --seeds 5 --members 2 --views

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
training split, as in ``suite.py``.

``--views`` gives every second member another view of the same rows: the
features through ``QuantileTransformer`` (fitted on the training split) for
a table, each term's presence (1 where the TF-IDF value is non-zero) for
text; the transform's time counts in that member's fit. Members that read
the rows differently err differently, which independent fits of one view
do not. Tables go to stdout and ``<out>/independent_fits[_views].md``,
numbers and provenance to the ``.json`` beside it.
"""

import argparse
import time

import numpy as np
import scipy.sparse as sp
from _common import set_threads, warm_up_torch, write_results
from _real_data import REAL_SETS, add_run_arguments
from neighbor_votes import split
from sklearn.preprocessing import QuantileTransformer

from mgclassifier import MultiGranularityClassifier
from mgclassifier.metrics import hierarchical_average_precision


def averaged_scores(probas, classes, Y_test):
    """``(fine accuracy, AU(PRC))`` of the level-by-level mean of ``probas``."""
    mean = [np.mean(level, axis=0) for level in zip(*probas)]
    predicted = classes[-1][mean[-1].argmax(axis=1)]
    accuracy = float(np.mean(predicted == Y_test[:, -1]))
    return accuracy, hierarchical_average_precision(Y_test, mean, classes)


def other_view(X_train, X_test):
    """The rows seen another way: terms' presence for a sparse matrix, each
    feature's quantile (``QuantileTransformer``, fitted on ``X_train``) for
    a table."""
    if sp.issparse(X_train):
        return [(X > 0).astype(np.float32) for X in (X_train, X_test)]
    quantiles = QuantileTransformer(random_state=0).fit(X_train)
    return [quantiles.transform(X).astype(np.float32) for X in (X_train, X_test)]


def run_seed(data, seed, n_members, cap, views=False):
    """Scores of the first 1..n_members independent fits averaged, and the
    summed fit seconds of each prefix; with ``views`` every odd member reads
    :func:`other_view`."""
    X_train, Y_train, X_test, Y_test, _ = data
    probas, rows, seconds = [], [], 0.0
    for member in range(n_members):
        model = MultiGranularityClassifier(random_state=100 * seed + member, **cap)
        start = time.perf_counter()
        train, test = X_train, X_test
        if views and member % 2:
            train, test = other_view(X_train, X_test)
        model.fit(train, Y_train)
        seconds += time.perf_counter() - start
        probas.append(model.predict_proba(test))
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
    parser.add_argument(
        "--views", action="store_true", help="every second member reads another view"
    )
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
            runs.append(run_seed(data, seed, args.members, cap, args.views))
            print(f"{name} seed {seed}: {runs[-1]}", flush=True)
        results[name] = runs
        lines += summary(name, runs)
    views = ", every second on another view of X" if args.views else ""
    text = (
        f"### Independent default fits averaged{views}, {len(seeds)} seeds\n\n"
        + "\n".join(lines)
        + "\n"
    )
    print(text)
    name = "independent_fits" + ("_views" if args.views else "")
    name += "_quick" if args.quick else ""
    write_results(name, text, results, {**vars(args), "seeds": seeds}, args.out)


if __name__ == "__main__":
    main()
