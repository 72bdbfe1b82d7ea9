"""The private pieces of :mod:`mgclassifier.metrics`: checks of label
matrices, path agreement, per-level probability outcomes and reliability
bins. The estimator's ``score`` and the plots use them too; ``metrics``
holds the public functions only.
"""

from numbers import Integral

import numpy as np
from sklearn.utils import check_array, check_consistent_length

from ._hierarchy import is_missing_label
from ._upstream import _safe_indexing


def _check_label_matrix(y, name):
    """Return ``y`` as an object array of shape (n_samples, n_levels)."""
    # object dtype keeps str, int and missing markers side by side and makes
    # ``==`` compare Python values, so "1" never equals 1 by accident.
    arr = np.asarray(y, dtype=object)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 1-D or 2-D (n_samples, n_levels); got an array "
            f"with {arr.ndim} dimensions."
        )
    if arr.shape[1] == 0:
        raise ValueError(f"{name} must have at least one level (column).")
    # One marker for every kind of missing label, so that ``==`` never meets
    # pandas.NA (whose truth value is ambiguous); copy to keep ``y`` intact.
    arr = arr.copy()
    arr[_is_missing_vec(arr).astype(bool)] = None
    return arr


def _check_label_pair(y_true, y_pred):
    """Validate and convert a pair of label matrices of identical shape."""
    check_consistent_length(y_true, y_pred)
    y_true = _check_label_matrix(y_true, "y_true")
    y_pred = _check_label_matrix(y_pred, "y_pred")
    if y_true.shape[1] != y_pred.shape[1]:
        raise ValueError(
            f"y_true has {_n_levels(y_true.shape[1])} but y_pred has "
            f"{_n_levels(y_pred.shape[1])}: give both one column per level, "
            f"coarse to fine (a 1-D array is one level), e.g. y_pred = "
            f"clf.predict(X) for a classifier fitted on y_true's columns."
        )
    if y_true.shape[0] == 0:
        raise ValueError("y_true and y_pred must contain at least one sample.")
    return y_true, y_pred


_is_missing_vec = np.frompyfunc(is_missing_label, 1, 1)


def _n_levels(n):
    """'1 level', '2 levels': a count of levels for messages."""
    return f"{n} level" if n == 1 else f"{n} levels"


def _node_mask(Y):
    """Boolean mask of the entries of ``Y`` that are nodes of the tree.

    A path ends at its first missing label, so anything after it is ignored.
    """
    present = ~_is_missing_vec(Y).astype(bool)
    return np.cumprod(present, axis=1).astype(bool)


def _path_agreement(y_true, y_pred):
    """Node masks of both paths and where they share the same node."""
    true_nodes = _node_mask(y_true)
    pred_nodes = _node_mask(y_pred)
    # A node is its path from the root: two paths share the node of level l
    # exactly when both have nodes with equal labels at every level down to
    # l (an equal label under another parent is another node).
    equal = true_nodes & pred_nodes & (y_true == y_pred).astype(bool)
    shared = np.cumprod(equal, axis=1).astype(bool)
    return true_nodes, pred_nodes, shared


def _drop_rows_without_finest_label(X, y, sample_weight=None):
    """``X``, ``y`` and ``sample_weight`` without the rows whose finest label
    is missing.

    The estimator trains each level only on the rows labelled there, so a
    row without a finest label has no full path to score a prediction
    against. Inputs come back unchanged when every row is
    labelled.
    """
    finest = _check_label_matrix(y, "y")[:, -1]
    keep = ~_is_missing_vec(finest).astype(bool)
    if keep.all():
        return X, y, sample_weight
    if not keep.any():
        raise ValueError(
            "No sample of y has a label at the finest level; there is nothing to score."
        )
    check_consistent_length(X, finest, sample_weight)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight)[keep]
    return _safe_indexing(X, keep), _safe_indexing(y, keep), sample_weight


def _correct_per_level(y_true, y_pred):
    """Per sample and level: same node, or no node on either side."""
    true_nodes, pred_nodes, shared = _path_agreement(y_true, y_pred)
    return shared | (~true_nodes & ~pred_nodes)


def _path_correct(y_true, y_pred):
    """Whether each predicted row is exactly the true path."""
    return _correct_per_level(*_check_label_pair(y_true, y_pred)).all(axis=1)


def _safe_ratio(num, den):
    """``num / den`` as a float, 0.0 when the denominator is zero."""
    return float(num / den) if den else 0.0


def _as_level_list(values, ndim):
    """Per-level list from either a list of levels or a single level.

    ``values`` is a list of levels when it is a list/tuple whose items all
    have ``ndim`` dimensions (2 for probabilities, 1 for classes); anything
    else, e.g. a nested list of floats or a list of labels, is one level.
    """
    is_list_of_levels = (
        isinstance(values, (list, tuple))
        and len(values) > 0
        and all(np.ndim(v) == ndim for v in values)
    )
    return list(values) if is_list_of_levels else [values]


def _check_proba_inputs(y_true, y_proba, classes):
    """Validate ``hierarchical_average_precision`` inputs, level by level."""
    y_true = _check_label_matrix(y_true, "y_true")
    n_samples, n_levels = y_true.shape
    probas = _as_level_list(y_proba, ndim=2)
    classes = _as_level_list(classes, ndim=1)
    if len(probas) != n_levels or len(classes) != n_levels:
        raise ValueError(
            f"y_true has {_n_levels(n_levels)} but y_proba has {len(probas)} "
            f"and classes has {len(classes)}: pass one probability array and "
            "one class array per level (clf.predict_proba(X) and clf.classes_)."
        )
    probas = [
        check_array(p, dtype=np.float64, input_name=f"y_proba[{level}]")
        for level, p in enumerate(probas)
    ]
    classes = [np.asarray(c, dtype=object) for c in classes]
    for level, (proba, cls) in enumerate(zip(probas, classes, strict=True)):
        if proba.shape != (n_samples, len(cls)):
            raise ValueError(
                f"y_proba[{level}] has shape {proba.shape}, expected "
                f"{(n_samples, len(cls))} (n_samples, len(classes[{level}]))."
            )
    return y_true, probas, classes


def _level_targets_scores(labels, nodes, proba, cls):
    """One-hot targets and scores of one level, unseen labels appended.

    A true label absent from ``cls`` is a node the model cannot score; it
    gets its own column with score 0 so that it still counts as a missed
    positive instead of vanishing from the metric.
    """
    known = set(cls.tolist())
    unseen = sorted({lab for lab in labels[nodes] if lab not in known}, key=repr)
    all_classes = np.array(list(cls) + unseen, dtype=object)
    targets = (labels[:, None] == all_classes[None, :]) & nodes[:, None]
    zeros = np.zeros((proba.shape[0], len(unseen)))
    return targets.astype(int), np.hstack([proba, zeros])


_PROBA_TOLERANCE = 1e-5
"""How far outside [0, 1] a probability may lie (rounding) before it is refused."""


def _level_outcomes(y_true, y_proba, classes):
    """Per level: one-hot targets and probabilities of the labelled rows.

    Rows whose true path stops above a level are left out of that level; a
    true label missing from ``classes[l]`` gets a column of probability 0.
    """
    y_true, probas, classes = _check_proba_inputs(y_true, y_proba, classes)
    for level, proba in enumerate(probas):
        outside = (proba < -_PROBA_TOLERANCE) | (proba > 1 + _PROBA_TOLERANCE)
        if outside.any():
            raise ValueError(
                f"y_proba[{level}] holds values outside [0, 1] (e.g. "
                f"{proba[outside][0]:.6g}); calibration metrics need probabilities."
            )
    # Summed float32 probabilities can overshoot 1 by a few ulps (a copy:
    # the caller's arrays stay as they are).
    probas = [np.clip(proba, 0.0, 1.0) for proba in probas]
    nodes = _node_mask(y_true)
    if not nodes.any():
        raise ValueError("y_true contains no labelled node; the metric is undefined.")
    outcomes = []
    for level, (proba, cls) in enumerate(zip(probas, classes, strict=True)):
        rows = nodes[:, level]
        targets, scores = _level_targets_scores(y_true[:, level], rows, proba, cls)
        outcomes.append((targets[rows].astype(bool), scores[rows]))
    return outcomes


def _per_level(outcomes, level_metric, average):
    """Apply ``level_metric(targets, scores)`` per level; NaN for empty levels."""
    if average not in (None, "macro"):
        raise ValueError(f"average must be None or 'macro', got {average!r}.")
    values = np.array(
        [
            level_metric(targets, scores) if len(targets) else np.nan
            for targets, scores in outcomes
        ]
    )
    return values if average is None else float(np.nanmean(values))


def _check_n_bins(n_bins):
    if isinstance(n_bins, bool) or not isinstance(n_bins, Integral) or n_bins < 1:
        raise ValueError(f"n_bins must be an integer >= 1, got {n_bins!r}.")


def _reliability_bins(targets, scores, n_bins):
    """Top-label confidence bins: (confidence sum, correct count, count) per bin.

    Bin ``b`` holds the samples whose highest probability lies in
    ``(b / n_bins, (b + 1) / n_bins]`` (0 goes to the first bin).
    """
    confidence = scores.max(axis=1)
    correct = targets[np.arange(len(targets)), scores.argmax(axis=1)]
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    return (
        np.bincount(bins, weights=confidence, minlength=n_bins),
        np.bincount(bins, weights=correct, minlength=n_bins),
        np.bincount(bins, minlength=n_bins),
    )


def _level_reliability(y_true, y_proba, classes, n_bins):
    """Per level ``(confidence sum, correct count, count)`` of each bin."""
    _check_n_bins(n_bins)
    return [
        _reliability_bins(targets, scores, n_bins)
        for targets, scores in _level_outcomes(y_true, y_proba, classes)
    ]
