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


def flat_level_proba(tree, leaf_classes, leaf_proba):
    """Per-level probabilities of a flat leaf classifier, summed up the tree.

    ``leaf_classes``/``leaf_proba`` are the flat model's ``classes_`` and
    ``predict_proba``; leaves it never saw get probability 0.
    """
    columns = np.searchsorted(tree.classes[-1], leaf_classes)
    full = np.zeros((len(leaf_proba), len(tree.classes[-1])))
    full[:, columns] = leaf_proba
    return tree.level_proba(full)


def evaluate(Y_test, Y_pred, probas, classes):
    """One results row: accuracy per level, hierarchical F1, AU(PRC), severity."""
    return {
        "acc": accuracy_per_level(Y_test, Y_pred),
        "hf1": hierarchical_f1_score(Y_test, Y_pred),
        "auprc": np.nan
        if probas is None
        else hierarchical_average_precision(Y_test, probas, classes),
        "severity": mistake_severity(Y_test, Y_pred),
    }


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


def format_table(rows, title=None):
    """Markdown table of result rows ``{"method", "fit_s", "acc", "hf1", ...}``."""
    n_levels = max(len(row["acc"]) for row in rows)
    acc_head = "/".join(str(level + 1) for level in range(n_levels))
    lines = [] if title is None else [title, ""]
    lines += [
        f"| method | fit s | acc level {acc_head} | hier. F1 | AU(PRC) | severity |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for row in rows:
        acc = "/".join(f"{a:.3f}" for a in row["acc"])
        auprc = "n/a" if np.isnan(row["auprc"]) else f"{row['auprc']:.3f}"
        lines.append(
            f"| {row['method']} | {row['fit_s']:.1f} | {acc} | {row['hf1']:.3f} "
            f"| {auprc} | {row['severity']:.2f} |"
        )
    return "\n".join(lines)
