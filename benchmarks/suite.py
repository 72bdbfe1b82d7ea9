"""The benchmark suite: the defaults and their peers on every real hierarchy.

Run with::

    python benchmarks/suite.py --threads 1 --seeds 5 [--first-release]

(``--quick``: one seed, at most 30 epochs, ImCLEF07A subsampled; a smoke
run. ``--sets`` picks data sets, e.g. ``--sets diatoms trec``.)

Defaults are chosen on all of these, never on one. Every method is fitted
with its defaults, end to end, once per seed before the next seed (a change
of load hits all alike), after a warm-up fit that pays torch's one-time
cost:

- ImCLEF07A (bundled), ImCLEF07D, Diatoms (``--data-dir``, by default
  ``shared/data`` beside the repository): tables of 10,000 / 10,000 / 2,065
  training rows, 80 / 80 / 371 features, 63 / 26 / 304 leaves. Peers:
  ``make_pipeline(StandardScaler(), MLPClassifier((512, 256),
  early_stopping=True))`` and skorch's ``NeuralNetClassifier`` with the same
  MLP (``accuracy.EncodedSkorchMLP``), both flat on the finest level.
- TREC questions through ``TfidfVectorizer()`` (fitted once on the training
  questions; every method gets the same sparse matrix): 5,452 rows, 8,412
  columns, 6 / 50 classes. Peers: ``LogisticRegression()`` and
  ``LogisticRegression(C=10)`` (the regularisation a user's first search
  finds), and ``MLPClassifier((512, 256), early_stopping=True)`` on the
  unscaled TF-IDF (scikit-learn's scalers would densify it or, without
  centring, blow up rare terms).
- The three synthetic hierarchies of ``accuracy.py`` (5,000 / 2,000 rows,
  one data set per seed), against the same peers as the tables.
- With ``--first-release``: the first release's defaults (trunk (1024,
  512), constant learning rate 1e-3, up to 200 epochs, patience 10) on the
  real sets, the accuracy the defaults must keep (slow: ~30-80 s a fit).

One table per data set (whole-fit seconds, fit time over the reference
peer's, fine accuracy, hierarchical F1, AU(PRC) over every node, mean ± std
over seeds) and a summary across sets go to stdout and ``<out>/suite.md``;
every run's numbers and what produced them to ``<out>/suite.json``
(``suite_quick.*`` with ``--quick``).
"""

import argparse
import sys
from unittest import mock

import numpy as np
from _common import format_table, set_threads, warm_up_torch, write_results
from _real_data import REAL_SETS, TEXT_SETS, add_run_arguments, load_real
from accuracy import SYNTHETIC_SETS, EncodedSkorchMLP, run_methods, synthetic_data
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from time_to_accuracy import EARLIER_DEFAULTS

from mgclassifier import MultiGranularityClassifier
from mgclassifier._devices import cpu_has_native_bfloat16
from mgclassifier._network import _grouped_dropout as grouped_dropout

QUICK_EPOCHS = 30
QUICK_TRAIN = 2000
OURS = "MultiGranularityClassifier() defaults"
FIRST_RELEASE = "first release's defaults"
MLP = "MLPClassifier (512, 256), early stopping"
SKORCH = "skorch NeuralNetClassifier, same MLP"
LOGISTIC = "LogisticRegression()"
OWN_PREFIX = "MultiGranularityClassifier"
FLOAT32 = f"{OWN_PREFIX}(precision='float32')"
PER_ROW_MASKS = f"{OWN_PREFIX}() defaults, one dropout mask a row"
EMBEDDED = f"{OWN_PREFIX}(numeric_embeddings='piecewise_linear')"
WIDE_TEXT = ("news20",)


def ours(quick, estimator=MultiGranularityClassifier, **params):
    cap = {"max_epochs": QUICK_EPOCHS} if quick else {}
    return lambda seed: estimator(random_state=seed, **{**params, **cap})


class OneMaskARow(MultiGranularityClassifier):
    """The defaults with one dropout mask a row in every batch: the CPU
    training step before masks were shared by groups of rows in batches of
    128 rows or more (``mgclassifier._network._grouped_dropout``)."""

    def fit(self, X, y, **params):
        with mock.patch.object(grouped_dropout, "MIN_GROUPS", sys.maxsize):
            return super().fit(X, y, **params)


def mlp(quick, scaled):
    cap = {"max_iter": QUICK_EPOCHS} if quick else {}

    def factory(seed):
        model = MLPClassifier((512, 256), early_stopping=True, random_state=seed, **cap)
        return make_pipeline(StandardScaler(), model) if scaled else model

    return factory


def methods(
    quick,
    text,
    first_release,
    members=(),
    wide_text=False,
    float32_row=False,
    per_row_masks=False,
    embeddings=False,
):
    """``(name, kind, factory(seed), random?)`` rows for one data set.

    ``members``: ensemble sizes to add as rows of ours (``n_members=k``).
    ``float32_row``: add ours with ``precision="float32"`` (on a CPU where
    the defaults train in bfloat16: the precision of CPUs without it).
    ``embeddings``: add ours with ``numeric_embeddings="piecewise_linear"``
    (dense sets only: a sparse X is refused).
    ``wide_text``: a text set with too many TF-IDF columns for
    ``MLPClassifier`` (its dense float64 first layer and Adam over every
    column's weights take tens of minutes a fit), which is left out there.
    """
    rows = [(OURS, "path", ours(quick), 1)]
    rows += [
        (f"{OWN_PREFIX}(n_members={k})", "path", ours(quick, n_members=k), 1)
        for k in members
    ]
    if float32_row:
        rows.append((FLOAT32, "path", ours(quick, precision="float32"), 1))
    if per_row_masks:
        rows.append((PER_ROW_MASKS, "path", ours(quick, OneMaskARow), 1))
    if embeddings and not text:
        params = {"numeric_embeddings": "piecewise_linear"}
        rows.append((EMBEDDED, "path", ours(quick, **params), 1))
    if first_release:
        params = EARLIER_DEFAULTS["MultiGranularityClassifier, first defaults"]
        rows.append((FIRST_RELEASE, "path", ours(quick, **params), 1))
    if text:
        return (
            rows
            + [
                (LOGISTIC, "flat", lambda s: LogisticRegression(max_iter=1000), 0),
                (
                    "LogisticRegression(C=10)",
                    "flat",
                    lambda s: LogisticRegression(C=10, max_iter=1000),
                    0,
                ),
            ]
            + (
                []
                if wide_text
                else [(MLP + ", unscaled TF-IDF", "flat", mlp(quick, scaled=False), 1)]
            )
        )
    epochs = QUICK_EPOCHS if quick else 200
    return rows + [
        (MLP + ", scaled", "flat", mlp(quick, scaled=True), 1),
        (
            SKORCH,
            "flat",
            lambda s: EncodedSkorchMLP(max_epochs=epochs, random_state=s),
            1,
        ),
    ]


def real_data(name, quick, data_dir):
    """``(X_train, Y_train, X_test, Y_test)``; text as a TF-IDF matrix."""
    data = load_real(name, data_dir)
    X_train, Y_train = data.X_train, data.Y_train
    if quick and len(Y_train) > QUICK_TRAIN:
        keep = np.random.RandomState(0).permutation(len(Y_train))[:QUICK_TRAIN]
        X_train = [X_train[i] for i in keep] if data.text else X_train[keep]
        Y_train = Y_train[keep]
    if not data.text:
        return X_train, Y_train, data.X_test, data.Y_test
    vectorizer = TfidfVectorizer().fit(X_train)
    return (
        vectorizer.transform(X_train).astype(np.float32),
        Y_train,
        vectorizer.transform(data.X_test).astype(np.float32),
        data.Y_test,
    )


def reference(rows, text):
    """The peer a user would try first: LogisticRegression on text, MLP else."""
    prefix = LOGISTIC if text else MLP
    return next(row for row in rows if row["method"].startswith(prefix))


def ratio_table(rows, text):
    peer = reference(rows, text)
    lines = [
        "",
        f"| method | fit s ÷ {peer['method']}'s | fine acc − its | AU(PRC) − its |",
        "|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['method']} | {row['fit_s'] / peer['fit_s']:.2f} "
            f"| {row['acc'][-1] - peer['acc'][-1]:+.3f} "
            f"| {row['auprc'] - peer['auprc']:+.3f} |"
        )
    return "\n".join(lines)


def _is_ours(row):
    """Our defaults, an ensemble row or the first release: not a peer."""
    return row["method"].startswith(OWN_PREFIX) or row["method"] == FIRST_RELEASE


def summary_table(results):
    """One line per data set: ours, the first release, the best peer."""
    lines = [
        "| data set | ours: fine acc / AU(PRC), fit s | first release | "
        "best peer (fine acc) | ours − best peer: fine acc / AU(PRC) | "
        "fit s ÷ reference peer's |",
        "|---|---|---|---|---|---:|",
    ]
    for name, (rows, text) in results.items():
        by_name = {row["method"]: row for row in rows}
        own = by_name[OURS]
        peers = [row for row in rows if not _is_ours(row)]
        best = max(peers, key=lambda row: row["acc"][-1])
        best_auprc = max(row["auprc"] for row in peers)
        first = by_name.get(FIRST_RELEASE)
        first_text = (
            "–"
            if first is None
            else f"{first['acc'][-1]:.3f} / {first['auprc']:.3f}, {first['fit_s']:.1f}"
        )
        lines.append(
            f"| {name} | {own['acc'][-1]:.3f} / {own['auprc']:.3f}, "
            f"{own['fit_s']:.1f} | {first_text} | {best['method']} "
            f"{best['acc'][-1]:.3f} | {own['acc'][-1] - best['acc'][-1]:+.3f} / "
            f"{own['auprc'] - best_auprc:+.3f} | "
            f"{own['fit_s'] / reference(rows, text)['fit_s']:.2f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser)
    parser.add_argument(
        "--sets",
        nargs="+",
        default=[*REAL_SETS, *SYNTHETIC_SETS],
        choices=[*REAL_SETS, *SYNTHETIC_SETS],
    )
    parser.add_argument("--first-release", action="store_true")
    parser.add_argument(
        "--members",
        type=int,
        nargs="*",
        default=[],
        help="also fit n_members=k ensembles of ours, one row per k",
    )
    parser.add_argument(
        "--per-row-masks",
        action="store_true",
        help="also fit the defaults with one dropout mask a row in every batch",
    )
    parser.add_argument(
        "--embeddings",
        action="store_true",
        help="also fit numeric_embeddings='piecewise_linear' (dense sets)",
    )
    args = parser.parse_args(argv)
    _limits = set_threads(args.threads)  # noqa: F841  (keeps the limit active)
    seeds = list(range(1 if args.quick else args.seeds))
    bfloat16 = cpu_has_native_bfloat16()  # what precision="auto" trains in
    warm = real_data("imclef07a", True, args.data_dir)
    first_fit_s = warm_up_torch(warm[0], warm[1])

    results = {}
    for name in args.sets:
        text = name in TEXT_SETS
        if name in REAL_SETS:
            data = real_data(name, args.quick, args.data_dir)
            first_release = args.first_release
            data_for_seed = lambda seed, data=data: data  # noqa: E731
        else:
            first_release = False
            data_for_seed = lambda seed, p=SYNTHETIC_SETS[name]: (  # noqa: E731
                synthetic_data(p, seed, args.quick)
            )
        rows = run_methods(
            methods(
                args.quick,
                text,
                first_release,
                args.members,
                name in WIDE_TEXT,
                float32_row=bfloat16,
                per_row_masks=args.per_row_masks,
                embeddings=args.embeddings,
            ),
            data_for_seed,
            seeds,
            f"{name}: ",
        )
        results[name] = (rows, text)

    report = ["### Summary", "", summary_table(results), ""]
    for name, (rows, text) in results.items():
        report.append(format_table(rows, title=f"### {name} ({len(seeds)} seeds)"))
        report.append(ratio_table(rows, text) + "\n")
    report.append(
        "The defaults trained in bfloat16 here (native on this CPU); the "
        "precision='float32' rows are the precision of CPUs without it.\n"
        if bfloat16
        else "The defaults trained in float32 here (no native bfloat16 on this "
        "CPU), the precision of every row of ours.\n"
    )
    report.append(
        f"A first fit in a fresh process pays {first_fit_s:.2f} s of one-time "
        f"costs (torch's optimizer machinery), not counted above."
    )
    text = "\n".join(report)
    print(text)
    params = {
        **vars(args),
        "seeds": seeds,
        "synthetic": {
            name: SYNTHETIC_SETS[name] for name in args.sets if name in SYNTHETIC_SETS
        },
        "first_release_params": EARLIER_DEFAULTS[
            "MultiGranularityClassifier, first defaults"
        ],
        "defaults": MultiGranularityClassifier().get_params(),
        "first_fit_extra_s": first_fit_s,
        "defaults_precision": "bfloat16" if bfloat16 else "float32",
    }
    results_json = {name: rows for name, (rows, _) in results.items()}
    write_results(
        "suite_quick" if args.quick else "suite", text, results_json, params, args.out
    )


if __name__ == "__main__":
    main()
