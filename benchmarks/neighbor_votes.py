"""Neighbour votes (``n_neighbors``) against the network alone, every real set.

Run with::

    python benchmarks/neighbor_votes.py --seeds 5 --members 4

Each seed fits the defaults, then the defaults with ``n_neighbors=5`` (the
fit keeps the trained rows' learned features; the weights are the default
fit's, since the votes take no part in training: checked, the table says
otherwise), and predicts the test split with the network alone
(``n_neighbors=0``) and with the votes blended in at each ``--weights``
value. Paired on the same network, the table gives fine accuracy and
AU(PRC) over every node, their paired difference, each fit's seconds (the
network alone: the plain fit's) and ``predict_proba``'s. ``--members k`` adds
the same pair for ``n_members=k`` on the dense sets (the most accurate
setting). Text sets go through ``TfidfVectorizer()`` fitted on the training
split, as in ``suite.py``; ``--sets`` may name ``suite.py``'s synthetic
hierarchies (a new draw each seed; results to ``neighbor_votes_synthetic``).
Tables go to stdout and ``<out>/neighbor_votes.md``, numbers and provenance
to ``<out>/neighbor_votes.json``.
"""

import argparse
import time

import numpy as np
from _common import set_threads, warm_up_torch, write_results
from _real_data import REAL_SETS, add_run_arguments, load_real
from accuracy import SYNTHETIC_SETS, synthetic_data
from sklearn.feature_extraction.text import TfidfVectorizer

from mgclassifier import MultiGranularityClassifier
from mgclassifier.metrics import hierarchical_average_precision

N_NEIGHBORS = 5
WEIGHTS = (0.3, 0.4, 0.5)


def split(name, data_dir, seed=0):
    """``(X_train, Y_train, X_test, Y_test, text)``; text as TF-IDF rows; a
    synthetic hierarchy drawn for ``seed`` (as in ``suite.py``)."""
    if name in SYNTHETIC_SETS:
        return (*synthetic_data(SYNTHETIC_SETS[name], seed, False), False)
    data = load_real(name, data_dir)
    X_train, X_test = data.X_train, data.X_test
    if data.text:
        vectorizer = TfidfVectorizer().fit(X_train)
        X_train, X_test = vectorizer.transform(X_train), vectorizer.transform(X_test)
    return X_train, data.Y_train, X_test, data.Y_test, data.text


def scored(model, X_test, Y_test):
    """``(fine accuracy, AU(PRC), predict_proba seconds)`` at the model's
    current ``n_neighbors`` / ``neighbors_weight``."""
    start = time.perf_counter()
    proba = model.predict_proba(X_test)
    seconds = time.perf_counter() - start
    accuracy = float(np.mean(model.predict(X_test)[:, -1] == Y_test[:, -1]))
    auprc = hierarchical_average_precision(Y_test, proba, model.classes_)
    return accuracy, auprc, seconds


def run_pair(params, data, seed, weights):
    """A fit without votes and one with them kept (back to back: their
    times), the network alone and each blend weight."""
    X_train, Y_train, X_test, Y_test, _ = data
    plain = MultiGranularityClassifier(random_state=seed, **params)
    start = time.perf_counter()
    plain.fit(X_train, Y_train)
    plain_s = time.perf_counter() - start
    model = MultiGranularityClassifier(
        random_state=seed, n_neighbors=N_NEIGHBORS, **params
    )
    start = time.perf_counter()
    model.fit(X_train, Y_train)
    fit_s = time.perf_counter() - start
    rows = {"plain_fit_s": plain_s, "fit_s": fit_s}
    rows["network"] = scored(model.set_params(n_neighbors=0), X_test, Y_test)
    # The votes take no part in training: the same network as the plain fit.
    same = np.array_equal(
        plain.predict_proba(X_test)[-1], model.predict_proba(X_test)[-1]
    )
    rows["same_network"] = bool(same)
    model.set_params(n_neighbors=N_NEIGHBORS)
    for weight in weights:
        model.set_params(neighbors_weight=weight)
        rows[f"votes {weight}"] = scored(model, X_test, Y_test)
    return rows


def summary(name, label, runs, weights):
    """Markdown rows for one set and setting over the seeds."""
    lines = []
    net = np.array([run["network"] for run in runs])
    fit = np.array([run["fit_s"] for run in runs])
    plain = np.array([run["plain_fit_s"] for run in runs])
    same = all(run["same_network"] for run in runs)

    def cell(values, digits=3):
        return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"

    lines.append(
        f"| {name} | {label} | network alone{'' if same else ' (NOT the plain fit)'} "
        f"| {cell(net[:, 0])} | {cell(net[:, 1])} | | | {cell(plain, 1)} "
        f"| {cell(net[:, 2])} |"
    )
    for weight in weights:
        votes = np.array([run[f"votes {weight}"] for run in runs])
        lines.append(
            f"| {name} | {label} | votes, weight {weight} | {cell(votes[:, 0])} "
            f"| {cell(votes[:, 1])} | {cell(votes[:, 0] - net[:, 0])} "
            f"| {cell(votes[:, 1] - net[:, 1], 4)} | {cell(fit, 1)} "
            f"| {cell(votes[:, 2])} |"
        )
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser)
    parser.add_argument(
        "--sets",
        nargs="+",
        default=list(REAL_SETS),
        choices=[*REAL_SETS, *SYNTHETIC_SETS],
        help="real sets by default; the synthetic ones of suite.py by name",
    )
    parser.add_argument("--weights", type=float, nargs="+", default=list(WEIGHTS))
    parser.add_argument(
        "--members", type=int, default=0, help="also n_members=k (dense sets)"
    )
    args = parser.parse_args(argv)
    _limits = set_threads(args.threads)  # noqa: F841  (keeps the limit active)
    seeds = list(range(1 if args.quick else args.seeds))
    cap = {"max_epochs": 3} if args.quick else {}
    lines = [
        "| set | setting | prediction | fine acc | AU(PRC) | Δ acc (paired) "
        "| Δ AU(PRC) (paired) | fit s | predict_proba s |",
        "|---|---|---|---|---|---|---|---:|---:|",
    ]
    results = {}
    for name in args.sets:
        data = split(name, args.data_dir)
        if not results:
            warm_up_torch(data[0], data[1])
        settings = [("defaults", {})]
        if args.members > 1 and not data[4]:
            settings.append((f"n_members={args.members}", {"n_members": args.members}))
        for label, params in settings:
            runs = []
            for seed in seeds:
                if name in SYNTHETIC_SETS:  # a new draw each seed
                    data = split(name, args.data_dir, seed)
                runs.append(run_pair({**params, **cap}, data, seed, args.weights))
                print(f"{name} {label} seed {seed}: {runs[-1]}", flush=True)
            results[f"{name} {label}"] = runs
            lines += summary(name, label, runs, args.weights)
    text = (
        f"### Neighbour votes (n_neighbors={N_NEIGHBORS}), {len(seeds)} seeds\n\n"
        + "\n".join(lines)
        + "\n"
    )
    print(text)
    name = "neighbor_votes_quick" if args.quick else "neighbor_votes"
    if set(args.sets) <= set(SYNTHETIC_SETS):
        name += "_synthetic"
    write_results(name, text, results, {**vars(args), "seeds": seeds}, args.out)


if __name__ == "__main__":
    main()
