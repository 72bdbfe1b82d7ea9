"""target_accuracy on the real tables: is the accuracy reached, how deep are paths?

Run with::

    python benchmarks/selective.py --threads 1 --seeds 20 --grid-seeds 5

(``--quick``: two seeds, at most 5 epochs, 2,000 training rows; a smoke
run. ``--sets`` picks data sets.)

The guarantee assumes the rows predicted later are exchangeable with the
held-out ones. The published test splits of these sets were collected apart
from their training splits and are harder (the full-path accuracy of the
same model is lower on the test split than on its held-out training rows).
``--resplit`` pools each set's training and test rows and, per seed, draws
a test split of the published size at random from the pool (the rest
trains): held-out and test rows are then exchangeable by construction, the
setting the guarantee is about. Its results go to ``selective_resplit.*``.
``--test-share 0.5`` draws half the pool as the test split instead, so that
the test accuracy measures the accuracy over future rows with a small error
against the held-out rows' (``selective_resplit_test50.*``). ``--fresh-rows``
also chooses each threshold on as many rows of the test split as ``fit``
held out, rows that picked no epoch and fitted no temperature, and tests
both thresholds on the rest (``..._fresh.*``): whether sharing the
early-stopping rows makes the guarantee optimistic. ``--fresh-share 0.5``
chooses them with ``choose_threshold`` on half the test split, published or
re-drawn (``..._fresh50.*``): what a user does whose future rows differ from
the training rows, with a labelled sample of them.

On ImCLEF07A, ImCLEF07D and Diatoms, for each seed (``random_state``):

- ``target_accuracy``: ``MultiGranularityClassifier(target_accuracy=0.9,
  target_confidence=0.9)``, otherwise at its defaults, fitted on the
  training split (it holds ``validation_fraction``, 10%, of the rows out to
  choose its threshold). The thresholds of the other targets (0.95, 0.99)
  are chosen on the same held-out rows with the same function ``fit`` calls
  (``_calibration.held_out_threshold``): a fit with another target and the
  same ``random_state`` trains the same network on the same rows, so only
  the threshold differs. The script checks this on seed 0 of each set by
  fitting with target 0.95 and comparing the thresholds.
- ``target_batch_size``: the same held-out rows and network, with the
  thresholds chosen for the accuracy over a batch of as many rows as the
  test split the threshold is judged on (``target_batch_size=n_test``):
  what the check below asks of each run. The seed-0 check refits with it.
- no threshold: ``MultiGranularityClassifier()`` at its defaults (every row
  trains), full paths (on the first ``--baseline-seeds`` seeds).
- ``GridSearchCV``: ``min_path_probability`` in {0.3, 0.5, 0.7, 0.9} tuned
  with ``hierarchical_f1_scorer`` and ``cv=KFold(2, shuffle=True)`` on the
  training split, then applied to the no-threshold model (what
  ``refit=True`` would fit again: same parameters, data and seed). Its 8
  fits per seed make it the slow part: run on the first ``--grid-seeds``
  seeds only.

A returned path is right when every label in it is right; a row given no
label is never wrong (the definition ``target_accuracy`` certifies). For
each target the table gives the share of runs (seeds) whose test accuracy
reaches it (to be at least ``target_confidence``), the test accuracy, and
the depth kept on the test split: mean levels returned, share of full
paths, share of rows given no label; and the same for the two comparisons.
The test accuracy is itself an estimate on ~1,000 rows (its standard error
is about 0.007 at 0.95), so a run whose long-run accuracy is just above the
target can fall below it on the test split: the long-run rule
(``target_batch_size=None``) is not built to pass this check on one batch,
the batch rule is. Each share comes with its 95% Clopper-Pearson interval,
and with the share over the first 20 seeds when more ran.

The plot (``<out>/selective.png``) draws, per data set, test accuracy
against coverage (mean levels returned over the number of levels) as the
threshold sweeps from 1 to 0 for seed 0's ``target_accuracy`` model, with
every run's point for each target and for the two comparisons.

Results: stdout, ``<out>/selective.md`` and ``<out>/selective.json``
(``selective_quick.*`` with ``--quick``).
"""

import argparse
import time
import warnings

import numpy as np
import torch
from _common import set_threads, warm_up_torch, write_results
from _real_data import add_run_arguments, load_real
from scipy.stats import beta
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    StratifiedKFold,
    cross_val_score,
)

from mgclassifier import MultiGranularityClassifier
from mgclassifier._data._batches import HoldoutSplit
from mgclassifier._metric_parts import _path_agreement
from mgclassifier._prediction._calibration import held_out_threshold
from mgclassifier._prediction._selective import SelectiveTarget
from mgclassifier.metrics import hierarchical_f1_scorer

SETS = ("imclef07a", "imclef07d", "diatoms")
TARGETS = (0.9, 0.95, 0.99)
CONFIDENCE = 0.9
GRID = [0.3, 0.5, 0.7, 0.9]
QUICK_TRAIN, QUICK_EPOCHS = 2000, 5


class _Codes:
    """What ``HoldoutSplit.indices`` reads of a dataset: its node codes."""

    def __init__(self, codes):
        self.codes = torch.as_tensor(codes)

    def __len__(self):
        return len(self.codes)


def test_outcome(Y_pred, Y_test):
    """Accuracy (a returned path right in every label; none is never wrong)
    and depth kept on the test split."""
    _, kept, shared = _path_agreement(
        np.asarray(Y_test, dtype=object), np.asarray(Y_pred, dtype=object)
    )
    depth = kept.sum(axis=1)
    n_levels = kept.shape[1]
    right = (shared | ~kept).all(axis=1)
    return dict(
        accuracy=float(right.mean()),
        mean_depth=float(depth.mean()),
        full_paths=float((depth == n_levels).mean()),
        no_label=float((depth == 0).mean()),
    )


def held_out_indices(model, Y_train):
    """The rows ``model``'s fit set aside for its threshold (its split is
    seeded and repeatable)."""
    split = model.net_.train_split
    assert isinstance(split, HoldoutSplit)
    codes = model.hierarchy_.encode(Y_train)
    return split.parts(_Codes(codes))[2], codes


def with_threshold(model, target, threshold, batch_size=None):
    """``model`` predicting with the threshold chosen for ``target`` (and
    ``target_batch_size=batch_size``)."""
    model.set_params(
        target_accuracy=target,
        target_confidence=CONFIDENCE,
        target_batch_size=batch_size,
    )
    model.path_threshold_ = threshold
    model._selective_target = SelectiveTarget.of(model)
    return model


def sweep(model, X_test, Y_test):
    """(coverage, accuracy) on the test split as the threshold sweeps."""
    saved = (model.target_accuracy, model.path_threshold_, model._selective_target)
    model.set_params(target_accuracy=None)
    points = []
    for threshold in np.r_[np.linspace(1.0, 0.05, 40), 0.0]:
        model.set_params(min_path_probability=float(threshold))
        outcome = test_outcome(model.predict(X_test), Y_test)
        points.append((outcome["mean_depth"] / Y_test.shape[1], outcome["accuracy"]))
    model.set_params(min_path_probability=None, target_accuracy=saved[0])
    model.path_threshold_, model._selective_target = saved[1], saved[2]
    return points


def resplit(data, seed, test_share=None):
    """``data`` with its training and test rows pooled and a test split drawn
    at random (seeded) from the pool: ``test_share`` of it, or the published
    test split's size when None."""
    X = np.concatenate([data.X_train, data.X_test])
    Y = np.concatenate([data.Y_train, data.Y_test])
    n_test = len(data.Y_test) if test_share is None else round(test_share * len(Y))
    rows = np.random.RandomState(1000 + seed).permutation(len(Y))
    test, train = rows[:n_test], rows[n_test:]
    return type(data)(data.name, X[train], Y[train], X[test], Y[test])


def below_beyond_noise(accuracy, n_test, target, confidence=0.95):
    """Whether a test accuracy is below ``target`` by more than its sampling
    noise: the one-sided Clopper-Pearson upper bound (at ``confidence``) of
    the accuracy behind ``n_test`` rows, ``accuracy`` of them right, is below
    the target."""
    n_right = round(accuracy * n_test)
    if n_right >= n_test:
        return False
    return bool(beta.ppf(confidence, n_right + 1, n_test - n_right) < target)


def shift_auc(data, seed=0):
    """How well a classifier tells the published training rows from the test
    rows: cross-validated ROC AUC of a gradient-boosting classifier on the
    features (0.5 when they are exchangeable)."""
    X = np.concatenate([data.X_train, data.X_test])
    is_test = np.r_[np.zeros(len(data.X_train)), np.ones(len(data.X_test))]
    return float(
        cross_val_score(
            HistGradientBoostingClassifier(random_state=seed),
            X,
            is_test,
            scoring="roc_auc",
            cv=StratifiedKFold(5, shuffle=True, random_state=seed),
        ).mean()
    )


def run_set(name, args):
    published = load_real(name, args.data_dir)
    extra = dict(max_epochs=QUICK_EPOCHS) if args.quick else {}
    runs, curve, check = [], None, None
    for seed in range(args.seeds):
        data = resplit(published, seed, args.test_share) if args.resplit else published
        X_train, Y_train = data.X_train, data.Y_train
        if args.quick:
            rows = np.random.RandomState(0).permutation(len(Y_train))[:QUICK_TRAIN]
            X_train, Y_train = X_train[rows], Y_train[rows]
        run = {"seed": seed}
        start = time.perf_counter()
        model = MultiGranularityClassifier(
            target_accuracy=TARGETS[0],
            target_confidence=CONFIDENCE,
            random_state=seed,
            **extra,
        ).fit(X_train, Y_train)
        run["fit_s"] = time.perf_counter() - start
        valid, codes = held_out_indices(model, Y_train)
        X32 = np.asarray(X_train, dtype=np.float32)
        if args.fresh_rows or args.fresh_share:
            # Rows of the test split, drawn at random: they trained nothing,
            # chose no epoch and no temperature. As many as fit held out, or
            # a share of the test split.
            n_test = len(data.Y_test)
            n_fresh = (
                len(valid) if args.fresh_rows else round(args.fresh_share * n_test)
            )
            order = np.random.RandomState(2000 + seed).permutation(n_test)
            fresh, rest = order[:n_fresh], order[n_fresh:]
            X_fresh, Y_fresh = data.X_test[fresh], data.Y_test[fresh]
            data = type(data)(
                data.name, X_train, Y_train, data.X_test[rest], data.Y_test[rest]
            )
        # The rows each threshold is judged on: the batch target_batch_size
        # is asked about.
        n_judged = len(data.Y_test)
        for target in TARGETS:
            # The long-run rule (target_batch_size=None) and the rule for a
            # batch of the rows the threshold is judged on.
            for key, batch_size in (("target", None), ("batch", n_judged)):
                threshold, coverage = held_out_threshold(
                    model._predictor(),
                    X32,
                    codes,
                    valid,
                    SelectiveTarget(target, CONFIDENCE, batch_size),
                )
                if (key, target) == ("target", TARGETS[0]):
                    assert threshold == model.path_threshold_
                with_threshold(model, target, threshold, batch_size)
                run[f"{key} {target}"] = dict(
                    threshold=threshold,
                    held_out=coverage,
                    test=test_outcome(model.predict(data.X_test), data.Y_test),
                )
                if args.fresh_rows or args.fresh_share:
                    # What a user does with rows like the ones to predict.
                    model.choose_threshold(X_fresh, Y_fresh)
                    run[f"fresh {key} {target}"] = dict(
                        threshold=model.path_threshold_,
                        held_out=model.held_out_coverage_,
                        test=test_outcome(model.predict(data.X_test), data.Y_test),
                    )
            with_threshold(model, target, run[f"target {target}"]["threshold"])
        if seed == 0:
            curve = sweep(model, data.X_test, data.Y_test)
            # Another target refitted with the same seed: the same network.
            refit = MultiGranularityClassifier(
                target_accuracy=TARGETS[1],
                target_confidence=CONFIDENCE,
                target_batch_size=n_judged,
                random_state=seed,
                **extra,
            ).fit(X_train, Y_train)
            check = dict(
                refit=refit.path_threshold_,
                computed=run[f"batch {TARGETS[1]}"]["threshold"],
            )
            assert np.isclose(check["refit"], check["computed"], rtol=1e-6), check
        if args.baseline_seeds is None or seed < args.baseline_seeds:
            start = time.perf_counter()
            full = MultiGranularityClassifier(random_state=seed, **extra).fit(
                X_train, Y_train
            )
            run["full_fit_s"] = time.perf_counter() - start
            run["no threshold"] = test_outcome(full.predict(data.X_test), data.Y_test)
        if seed < args.grid_seeds:
            search = GridSearchCV(
                MultiGranularityClassifier(random_state=seed, **extra),
                {"min_path_probability": GRID},
                scoring=hierarchical_f1_scorer,
                cv=KFold(2, shuffle=True, random_state=seed),
                refit=False,
            ).fit(X_train, Y_train)
            best = search.best_params_["min_path_probability"]
            full.set_params(min_path_probability=best)
            run["grid search"] = dict(
                threshold=best,
                test=test_outcome(full.predict(data.X_test), data.Y_test),
            )
        runs.append(run)
        print(
            f"{name} seed {seed}: "
            + ", ".join(
                f"{t}: acc {run[f'target {t}']['test']['accuracy']:.3f} "
                f"depth {run[f'target {t}']['test']['mean_depth']:.2f}"
                for t in TARGETS
            )
            + (
                f" | full acc {run['no threshold']['accuracy']:.3f}"
                if "no threshold" in run
                else ""
            ),
            flush=True,
        )
    return dict(
        runs=runs,
        curve=curve,
        refit_check=check,
        n_levels=Y_train.shape[1],
        n_test=n_judged,
        # The published split's train-test shift (the same for every seed).
        shift_auc=None if args.resplit else shift_auc(published),
    )


def _mean_std(values, digits=3):
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return "-"
    if not np.isfinite(values).all():  # a threshold of inf: no label at all
        finite = values[np.isfinite(values)]
        n_inf = len(values) - len(finite)
        return f"inf ({n_inf} of {len(values)} runs)" + (
            f", else {_mean_std(finite, digits)}" if len(finite) else ""
        )
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def _below(test, result, target):
    return below_beyond_noise(test["accuracy"], result["n_test"], target)


def reaching(tests, target, first=None):
    """Share of runs whose test accuracy reaches ``target``, with its 95%
    Clopper-Pearson interval (and the share in the ``first`` runs)."""
    hits = np.array([t["accuracy"] >= target for t in tests])
    n, k = len(hits), int(hits.sum())
    low = beta.ppf(0.025, k, n - k + 1) if k > 0 else 0.0
    high = beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
    text = f"{k / n:.2f} [{low:.2f}, {high:.2f}]"
    if first is not None and n > first:
        text += f" (first {first}: {hits[:first].mean():.2f})"
    return text


KINDS = (
    ("target", "target_accuracy={}"),
    ("batch", "target_accuracy={}, target_batch_size=test rows"),
    ("fresh target", "choose_threshold for {} on test rows"),
    ("fresh batch", "choose_threshold for {}, target_batch_size=test rows"),
)


def table(name, result, args):
    runs = result["runs"]
    lines = [
        f"### {name} ({len(runs)} seeds; GridSearchCV on "
        f"{min(args.grid_seeds, len(runs))})",
        "",
        "| method | runs reaching target [95% CI] | runs below beyond test noise | "
        "test accuracy | mean levels | full paths | no label | threshold | "
        "held-out rows | held-out accuracy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in KINDS:
        if f"{key} {TARGETS[0]}" not in runs[0]:
            continue
        for target in TARGETS:
            entries = [run[f"{key} {target}"] for run in runs]
            tests = [e["test"] for e in entries]
            held_out = [e["held_out"] for e in entries if "held_out" in e]
            lines.append(
                f"| {label.format(target)} "
                f"| {reaching(tests, target, first=20)} "
                f"| {np.mean([_below(t, result, target) for t in tests]):.2f} "
                f"| {_mean_std([t['accuracy'] for t in tests])} "
                f"| {_mean_std([t['mean_depth'] for t in tests], 2)} "
                f"| {_mean_std([t['full_paths'] for t in tests], 2)} "
                f"| {_mean_std([t['no_label'] for t in tests], 2)} "
                f"| {_mean_std([e['threshold'] for e in entries], 2)} "
                f"| {held_out[0]['rows'] if held_out else '-'} "
                f"| {_mean_std([h['accuracy'] for h in held_out])} |"
            )
    grid = [run["grid search"] for run in runs if "grid search" in run]
    if grid:
        tests = [g["test"] for g in grid]
        reached = " / ".join(
            f"{np.mean([t['accuracy'] >= target for t in tests]):.2f}"
            for target in TARGETS
        )
        lines.append(
            f"| GridSearchCV min_path_probability ({len(grid)} seeds) | {reached} | "
            f"| {_mean_std([t['accuracy'] for t in tests])} "
            f"| {_mean_std([t['mean_depth'] for t in tests], 2)} "
            f"| {_mean_std([t['full_paths'] for t in tests], 2)} "
            f"| {_mean_std([t['no_label'] for t in tests], 2)} "
            f"| {_mean_std([g['threshold'] for g in grid], 2)} | - | - |"
        )
    tests = [run["no threshold"] for run in runs if "no threshold" in run]
    reached = " / ".join(
        f"{np.mean([t['accuracy'] >= target for t in tests]):.2f}" for target in TARGETS
    )
    lines.append(
        f"| no threshold | {reached} | "
        f"| {_mean_std([t['accuracy'] for t in tests])} "
        f"| {_mean_std([t['mean_depth'] for t in tests], 2)} "
        f"| 1.00 | 0.00 | - | - | - |"
    )
    fit = _mean_std([run["fit_s"] for run in runs], 1)
    full_fit = _mean_std([run["full_fit_s"] for run in runs if "full_fit_s" in run], 1)
    lines += [
        "",
        f"Fit seconds: target_accuracy {fit}, no threshold {full_fit} "
        f"({len(tests)} seeds). "
        f"Levels: {result['n_levels']}. For the comparisons, 'runs reaching "
        f"target' is given for {' / '.join(map(str, TARGETS))}. Test rows: "
        f"{result['n_test']}; 'below beyond test noise': the test accuracy's "
        f"one-sided 95% Clopper-Pearson upper bound is below the target.",
    ]
    if result["shift_auc"] is not None:
        lines.append(
            f"Train-test shift of the published split: a gradient-boosting "
            f"classifier tells its training rows from its test rows with ROC AUC "
            f"{result['shift_auc']:.3f} (5-fold; 0.5 when exchangeable)."
        )
    return "\n".join(lines)


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4.8))
    axes = np.atleast_1d(axes)
    colours = dict(zip(TARGETS, ("tab:blue", "tab:orange", "tab:red")))
    for ax, (name, result) in zip(axes, results.items()):
        n_levels = result["n_levels"]
        curve = np.array(result["curve"])
        ax.plot(curve[:, 0], curve[:, 1], color="grey", lw=1, label="sweep (seed 0)")
        for target in TARGETS:
            tests = [run[f"target {target}"]["test"] for run in result["runs"]]
            ax.scatter(
                [t["mean_depth"] / n_levels for t in tests],
                [t["accuracy"] for t in tests],
                s=12,
                color=colours[target],
                label=f"target_accuracy={target}",
            )
            batch = [run[f"batch {target}"]["test"] for run in result["runs"]]
            ax.scatter(
                [t["mean_depth"] / n_levels for t in batch],
                [t["accuracy"] for t in batch],
                s=14,
                facecolors="none",
                edgecolors=colours[target],
                label=(
                    "hollow: target_batch_size=test rows"
                    if target == TARGETS[0]
                    else None
                ),
            )
            ax.axhline(target, color=colours[target], lw=0.6, ls="--")
        grid = [
            run["grid search"]["test"] for run in result["runs"] if "grid search" in run
        ]
        if grid:
            ax.scatter(
                [t["mean_depth"] / n_levels for t in grid],
                [t["accuracy"] for t in grid],
                marker="x",
                color="black",
                label="GridSearchCV threshold",
            )
        full = [run["no threshold"] for run in result["runs"] if "no threshold" in run]
        ax.scatter(
            [1.0] * len(full),
            [t["accuracy"] for t in full],
            marker="s",
            s=12,
            color="tab:green",
            label="no threshold",
        )
        ax.set_title(name)
        ax.set_xlabel("coverage (mean levels returned / levels)")
        ax.set_ylabel("test accuracy (returned path right)")
        ax.set_xlim(0, 1.02)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_run_arguments(parser)
    parser.set_defaults(seeds=20)
    parser.add_argument("--grid-seeds", type=int, default=5)
    parser.add_argument(
        "--baseline-seeds",
        type=int,
        default=None,
        help="fit the no-threshold model on the first this many seeds only "
        "(default: every seed)",
    )
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument(
        "--resplit",
        action="store_true",
        help="draw each seed's test split at random from the pooled rows",
    )
    parser.add_argument(
        "--fresh-rows",
        action="store_true",
        help="with --resplit: also choose each threshold on as many rows of "
        "the test split as fit held out (rows that chose no epoch and no "
        "temperature), and test both on the rest",
    )
    parser.add_argument(
        "--test-share",
        type=float,
        default=None,
        help="with --resplit: the test split's share of the pooled rows "
        "(default: the published test split's size)",
    )
    parser.add_argument(
        "--fresh-share",
        type=float,
        default=None,
        help="also choose each threshold with choose_threshold on this share "
        "of the test split (drawn at random per seed), and test both on the "
        "rest; published or re-drawn test splits",
    )
    args = parser.parse_args()
    if (args.fresh_rows or args.test_share) and not args.resplit:
        parser.error(
            "--fresh-rows and --test-share draw from pooled rows: add --resplit"
        )
    if args.fresh_rows and args.fresh_share:
        parser.error("--fresh-rows and --fresh-share: give one of them")
    if args.quick:
        args.seeds, args.grid_seeds = 2, 1
    _limits = set_threads(args.threads)  # noqa: F841 (keeps the limits)
    warnings.filterwarnings("ignore", module="mgclassifier")
    warnings.filterwarnings("ignore", category=UserWarning)
    first = load_real(SETS[0], args.data_dir)
    warm_up_torch(first.X_train[:500], first.Y_train[:500])
    results = {name: run_set(name, args) for name in args.sets}
    suffix = (
        ("_resplit" if args.resplit else "")
        + (f"_test{round(100 * args.test_share)}" if args.test_share else "")
        + ("_fresh" if args.fresh_rows else "")
        + (f"_fresh{round(100 * args.fresh_share)}" if args.fresh_share else "")
        + ("_quick" if args.quick else "")
    )
    report = [
        "## target_accuracy: reached accuracy and depth kept",
        "",
        f"target_confidence={CONFIDENCE}; test accuracy: share of test rows whose "
        f"returned path is right in every label (a row given no label is never "
        f"wrong). "
        + (
            "Test splits drawn at random from the pooled training and test rows "
            "(--resplit): exchangeable with the held-out rows."
            if args.resplit
            else "The published test splits."
        ),
        "",
    ]
    for name, result in results.items():
        report += [table(name, result, args), ""]
        check = result["refit_check"]
        report += [
            f"Refit check (seed 0, target {TARGETS[1]}, target_batch_size "
            f"{result['n_test']}): threshold {check['refit']:.6f} refitted, "
            f"{check['computed']:.6f} computed.",
            "",
        ]
    markdown = "\n".join(report)
    print(markdown)
    from pathlib import Path

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot(results, out / f"selective{suffix}.png")
    write_results(
        f"selective{suffix}",
        markdown,
        data=results,
        params=dict(
            targets=TARGETS,
            confidence=CONFIDENCE,
            grid=GRID,
            seeds=args.seeds,
            grid_seeds=args.grid_seeds,
            sets=args.sets,
            quick=args.quick,
            resplit=args.resplit,
            test_share=args.test_share,
            fresh_rows=args.fresh_rows,
            fresh_share=args.fresh_share,
            baseline_seeds=args.baseline_seeds,
        ),
        out=args.out,
    )


if __name__ == "__main__":
    main()
