"""Calibration per level on ImCLEF07A, and the threshold that stops paths early.

Run with::

    python benchmarks/calibration.py --threads 1

Part 1 fits, on the ImCLEF07A training split, ``MultiGranularityClassifier``
with ``calibrate=True`` (the default: one temperature fitted on the
early-stopping split) and with ``calibrate=False``, both with
``early_stopping=True`` (which "auto" turns off on these 10,000 rows) and
otherwise at their defaults with ``random_state=0``, and ``MLPClassifier((512, 256),
early_stopping=True, random_state=0)`` flat on the finest level, its
probabilities summed up the tree. It prints, per level and as the mean over
levels, the expected calibration error (15 bins), the Brier score and the
log-loss on the test split (``mgclassifier.metrics``), and saves their
reliability diagrams.

Part 2 tunes ``min_path_probability`` with ``GridSearchCV`` and the
hierarchical F1 scorer (``cv=KFold(2, shuffle=True, random_state=0)``, the
training split only) and compares, on the test split, the tuned model's
hierarchical F1 with that of the same fitted model predicting full paths
(``min_path_probability=None``). The threshold is read at predict time and
does not change training, so both rows come from one set of weights: the
``calibrate=True`` model of part 1, which is what ``refit=True`` would fit
again (same parameters, data and ``random_state``); ``refit=False`` saves
that minute.

Cost on one core of the 2-core machine: 3 fits on 10000 samples and 10 on
5000, about 6 minutes.

``--quick`` is a smoke run (2000 training samples, at most 20 epochs).

The report goes to stdout and ``<out>/calibration.md`` (``--out``, default
``benchmarks/results``), the numbers and what produced them to
``<out>/calibration.json``, the reliability diagrams to
``<out>/calibration_imclef.png`` (``calibration_quick.*`` with ``--quick``).
"""

import argparse
import pathlib
import time

import numpy as np
from _common import (
    RESULTS,
    flat_level_proba,
    set_threads,
    warm_up_torch,
    write_results,
)
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neural_network import MLPClassifier

from mgclassifier import LabelHierarchy, MultiGranularityClassifier
from mgclassifier.datasets import load_imclef07a
from mgclassifier.metrics import (
    brier_score_per_level,
    expected_calibration_error_per_level,
    hierarchical_f1_scorer,
    hierarchical_precision_recall_fscore,
    log_loss_per_level,
)

THRESHOLDS = [None, 0.3, 0.5, 0.7, 0.9]
N_BINS = 15
METRICS = {
    f"ECE ({N_BINS} bins)": lambda y, p, c: expected_calibration_error_per_level(
        y, p, c, n_bins=N_BINS
    ),
    "Brier score": brier_score_per_level,
    "log-loss": log_loss_per_level,
}


def calibration_rows(data, random_state, max_epochs):
    """Fit the three models; return their per-level probabilities and info."""
    rows = []
    for calibrate in (True, False):
        # Calibration needs early stopping's held-out rows, which "auto"
        # leaves out on ImCLEF07A's 10,000 rows.
        model = MultiGranularityClassifier(
            calibrate=calibrate, early_stopping=True, random_state=random_state
        )
        if max_epochs is not None:  # --quick only: the defaults otherwise
            model.set_params(max_epochs=max_epochs)
        start = time.perf_counter()
        model.fit(data.X_train, data.y_train)
        rows.append(
            {
                "method": f"MultiGranularityClassifier(calibrate={calibrate})",
                "fit_s": time.perf_counter() - start,
                "proba": model.predict_proba(data.X_test),
                "classes": model.classes_,
                "note": f"temperature {model.temperature_:.3f}, "
                f"epoch {model.best_epoch_} of {model.n_epochs_}",
                "params": model.get_params(),
                "model": model,
            }
        )
    mlp = MLPClassifier((512, 256), early_stopping=True, random_state=random_state)
    tree, _ = LabelHierarchy.from_labels(data.y_train)
    start = time.perf_counter()
    mlp.fit(data.X_train, data.y_train[:, -1])
    rows.append(
        {
            "method": "MLPClassifier (512, 256), early stopping, flat on leaf",
            "fit_s": time.perf_counter() - start,
            "proba": flat_level_proba(
                tree, mlp.classes_, mlp.predict_proba(data.X_test)
            ),
            "classes": tree.classes,
            "note": f"{mlp.n_iter_} epochs",
        }
    )
    for row in rows:
        for name, metric in METRICS.items():
            row[name] = metric(data.y_test, row["proba"], row["classes"])
    return rows


def calibration_table(rows):
    """One markdown table: metric x method, levels 1/2/3 and their mean."""
    lines = [
        "| metric | method | level 1 | level 2 | level 3 | mean |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name in METRICS:
        for row in rows:
            values = row[name]
            cells = " | ".join(f"{v:.4f}" for v in [*values, values.mean()])
            lines.append(f"| {name} | {row['method']} | {cells} |")
    lines += ["", "| method | fit s | |", "|---|---:|---|"]
    lines += [f"| {r['method']} | {r['fit_s']:.1f} | {r['note']} |" for r in rows]
    return "\n".join(lines)


def save_reliability(rows, data, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mgclassifier.plotting import ReliabilityDiagramDisplay

    fig, axes = plt.subplots(1, len(rows), figsize=(6 * len(rows), 5.5))
    for ax, row in zip(axes, rows):
        ReliabilityDiagramDisplay.from_predictions(
            data.y_test,
            row["proba"],
            row["classes"],
            n_bins=N_BINS,
            level_names=["level 1", "level 2", "level 3"],  # as in the table
            ax=ax,
        )
        ax.set_title(row["method"], fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def threshold_rows(data, model):
    """GridSearchCV over min_path_probability; test hF1 tuned vs full path.

    ``model`` is the fitted ``calibrate=True`` model of part 1: the refit.
    Returns the markdown and the numbers.
    """
    search = GridSearchCV(
        MultiGranularityClassifier(**model.get_params()),
        {"min_path_probability": THRESHOLDS},
        scoring=hierarchical_f1_scorer,
        cv=KFold(2, shuffle=True, random_state=0),
        refit=False,
    )
    start = time.perf_counter()
    search.fit(data.X_train, data.y_train)
    seconds = time.perf_counter() - start
    best = search.best_params_["min_path_probability"]
    numbers = {"cv": [], "test": []}
    lines = [
        "| min_path_probability | CV hier. F1 (2-fold, training split) |",
        "|---|---:|",
    ]
    for params, mean, std in zip(
        search.cv_results_["params"],
        search.cv_results_["mean_test_score"],
        search.cv_results_["std_test_score"],
    ):
        lines.append(f"| {params['min_path_probability']} | {mean:.4f} ± {std:.4f} |")
        numbers["cv"].append(
            {
                "min_path_probability": params["min_path_probability"],
                "hf1": mean,
                "hf1_std": std,
            }
        )
    lines += [
        "",
        "| test split, one refitted model | hier. P | hier. R | hier. F1 "
        "| rows cut short |",
        "|---|---:|---:|---:|---:|",
    ]
    for threshold in (None, best) if best is not None else (None,):
        Y_pred = model.set_params(min_path_probability=threshold).predict(data.X_test)
        hp, hr, hf = hierarchical_precision_recall_fscore(data.y_test, Y_pred)
        cut = np.mean([row[-1] is None for row in Y_pred])
        label = "full path (None)" if threshold is None else f"tuned ({threshold})"
        lines.append(f"| {label} | {hp:.4f} | {hr:.4f} | {hf:.4f} | {cut:.3f} |")
        numbers["test"].append(
            {
                "min_path_probability": threshold,
                "hp": hp,
                "hr": hr,
                "hf1": hf,
                "cut_short": cut,
            }
        )
    lines.append("")
    model.set_params(min_path_probability=None)
    lines.append(
        f"GridSearchCV: {len(THRESHOLDS)} candidates x 2 folds, {seconds:.0f} s; "
        f"best min_path_probability = {best}."
    )
    numbers.update(best=best, search_s=seconds)
    return "\n".join(lines), numbers


def main(threads=None, out=None, quick=False, random_state=0):
    limiter = set_threads(threads)  # noqa: F841 (kept alive for the whole run)
    start = time.perf_counter()
    data = load_imclef07a()
    warm_up_torch(data.X_train, data.y_train)  # the first fit would pay ~1 s more
    max_epochs = None
    if quick:
        subset = np.random.RandomState(0).permutation(len(data.y_train))[:2000]
        data.X_train, data.y_train = data.X_train[subset], data.y_train[subset]
        max_epochs = 20
    rows = calibration_rows(data, random_state, max_epochs)
    threshold_text, thresholds = threshold_rows(data, rows[0]["model"])
    text = [
        f"## Calibration on the ImCLEF07A test split ({len(data.y_test)} samples)",
        "",
        calibration_table(rows),
        "",
        "MultiGranularityClassifier parameters (calibrate aside): "
        + ", ".join(
            f"{k}={v!r}" for k, v in rows[0]["params"].items() if k != "calibrate"
        ),
        "",
        "## min_path_probability tuned by GridSearchCV (hierarchical F1)",
        "",
        threshold_text,
        "",
        f"Total {time.perf_counter() - start:.0f} s, threads={threads}.",
    ]
    report = "\n".join(text)
    print(report)
    if out is not None:
        name = "calibration_quick" if quick else "calibration"
        numbers = {
            "calibration": [
                {key: row[key] for key in ("method", "fit_s", "note", *METRICS)}
                for row in rows
            ],
            "min_path_probability": thresholds,
        }
        params = {
            "threads": threads,
            "quick": quick,
            "random_state": random_state,
            "max_epochs": max_epochs,
            "n_bins": N_BINS,
            "thresholds": THRESHOLDS,
            "estimator": rows[0]["params"],
        }
        write_results(name, report, numbers, params, out)
        plot = pathlib.Path(out) / f"calibration_imclef{'_quick' if quick else ''}.png"
        save_reliability(rows, data, plot)
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=RESULTS, help="folder for the results")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args()
    main(args.threads, args.out, args.quick, args.random_state)
