"""Helpers shared by the benchmark scripts: peers' node scores and tables."""

import time

import numpy as np

from mgclassifier import LabelHierarchy
from mgclassifier.metrics import (
    accuracy_per_level,
    hierarchical_average_precision,
    hierarchical_f1_score,
    mistake_severity,
)

# Metrics of a results row that are summarised as mean ± std over seeds.
METRIC_KEYS = ("fit_s", "acc", "hf1", "auprc", "severity", "valid")


def set_threads(n_threads):
    """Limit torch and the BLAS/OpenMP pools to ``n_threads`` (None: leave as is).

    Returns the ``threadpoolctl`` limiter (keep a reference) or None.
    """
    if n_threads is None:
        return None
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n_threads)
    return threadpool_limits(limits=n_threads)


def flat_level_proba(tree, leaf_classes, leaf_proba):
    """Per-level probabilities of a flat leaf classifier, summed up the tree.

    ``leaf_classes``/``leaf_proba`` are the flat model's ``classes_`` and
    ``predict_proba``; leaves it never saw get probability 0.
    """
    columns = np.searchsorted(tree.classes[-1], leaf_classes)
    full = np.zeros((len(leaf_proba), len(tree.classes[-1])))
    full[:, columns] = leaf_proba
    return tree.level_proba(full)


def valid_path_fraction(Y_pred, Y_train):
    """Fraction of predicted rows that are root-to-leaf paths seen in ``Y_train``."""
    paths = {tuple(row) for row in np.asarray(Y_train).tolist()}
    rows = np.asarray(Y_pred).tolist()
    return float(np.mean([tuple(row) in paths for row in rows]))


def evaluate(Y_test, Y_pred, probas, classes, Y_train=None):
    """One results row: accuracy per level, hierarchical F1, AU(PRC), severity.

    With ``Y_train`` the row also gets ``valid``, the fraction of predicted
    rows that are paths of the training hierarchy.
    """
    row = {
        "acc": accuracy_per_level(Y_test, Y_pred),
        "hf1": hierarchical_f1_score(Y_test, Y_pred),
        "auprc": np.nan
        if probas is None
        else hierarchical_average_precision(Y_test, probas, classes),
        "severity": mistake_severity(Y_test, Y_pred),
    }
    if Y_train is not None:
        row["valid"] = valid_path_fraction(Y_pred, Y_train)
    return row


def fit_flat_leaf_model(model, X_train, Y_train, X_test):
    """Fit ``model`` on the finest level; return fit time, paths and node scores."""
    tree, _ = LabelHierarchy.from_labels(Y_train)
    start = time.perf_counter()
    model.fit(X_train, Y_train[:, -1])
    seconds = time.perf_counter() - start
    leaf_pred = np.searchsorted(tree.classes[-1], model.predict(X_test))
    probas = None
    if hasattr(model, "predict_proba"):
        probas = flat_level_proba(tree, model.classes_, model.predict_proba(X_test))
    return seconds, tree.decode_leaves(leaf_pred), probas, tree.classes


def fit_path_model(model, X_train, Y_train, X_test, proba=True):
    """Fit ``model`` on all levels of ``Y_train``; return fit time, paths, scores.

    For models whose ``predict`` returns paths (the multi-granularity
    classifier, HiClass). With ``proba=True`` the node scores are the model's
    ``predict_proba`` (a list of per-level arrays in ``model.classes_``
    order), else None.
    """
    tree, _ = LabelHierarchy.from_labels(Y_train)
    start = time.perf_counter()
    model.fit(X_train, Y_train)
    seconds = time.perf_counter() - start
    Y_pred = np.asarray(model.predict(X_test))
    if not proba:
        return seconds, Y_pred, None, tree.classes
    return seconds, Y_pred, model.predict_proba(X_test), model.classes_


def summarize(method, runs):
    """Mean ± std over runs (one results row per seed) of one method.

    Returns one row with the means under the usual keys, their standard
    deviations under ``"std"`` and the number of runs under ``"n_runs"``.
    """
    row = {"method": method, "n_runs": len(runs), "std": {}}
    for key in METRIC_KEYS:
        if key not in runs[0]:
            continue
        values = np.array([np.asarray(run[key], dtype=float) for run in runs])
        row[key] = values.mean(axis=0)
        row["std"][key] = values.std(axis=0)
    return row


def mean_std(row, key, digits=3, index=None):
    """``"mean ± std"`` of ``row[key]`` (just the mean for a single run)."""
    value = row[key] if index is None else row[key][index]
    if np.isnan(value):
        return "n/a"
    text = f"{value:.{digits}f}"
    if row.get("n_runs", 1) > 1 and key in row.get("std", {}):
        std = row["std"][key] if index is None else row["std"][key][index]
        text += f" ± {std:.{digits}f}"
    return text


def format_table(rows, title=None):
    """Markdown table of result rows ``{"method", "fit_s", "acc", "hf1", ...}``.

    Rows from :func:`summarize` show ``mean ± std``; a ``valid`` column
    (fraction of predictions that are valid paths) is added when any row has
    it.
    """
    n_levels = max(len(row["acc"]) for row in rows)
    acc_head = "/".join(str(level + 1) for level in range(n_levels))
    show_valid = any("valid" in row for row in rows)
    show_runs = any(row.get("n_runs", 1) > 1 for row in rows)
    lines = [] if title is None else [title, ""]
    head = f"| method | fit s | acc level {acc_head} | hier. F1 | AU(PRC) | severity |"
    rule = "|---|---:|---|---:|---:|---:|"
    if show_valid:
        head, rule = head + " valid paths |", rule + "---:|"
    if show_runs:
        head, rule = head + " runs |", rule + "---:|"
    lines += [head, rule]
    for row in rows:
        acc = " / ".join(
            mean_std(row, "acc", index=level) for level in range(len(row["acc"]))
        )
        line = (
            f"| {row['method']} | {mean_std(row, 'fit_s', 1)} | {acc} "
            f"| {mean_std(row, 'hf1')} | {mean_std(row, 'auprc')} "
            f"| {mean_std(row, 'severity', 2)} |"
        )
        if show_valid:
            line += f" {mean_std(row, 'valid') if 'valid' in row else 'n/a'} |"
        if show_runs:
            line += f" {row.get('n_runs', 1)} |"
        lines.append(line)
    return "\n".join(lines)
