"""Metrics and scorers for multi-granularity (hierarchical) classification.

Label matrices have shape ``(n_samples, n_levels)`` with columns ordered
from the coarsest to the finest level; a 1-D ``y`` is treated as a single
level.  A node of the hierarchy is identified by its path from the root:
two rows share the node of level ``l`` when they agree on every level down
to ``l``.  So the same label at two different levels, or under two
different parents ("Accessories" under "Clothing" and under "Electronics"),
denotes different nodes.  Empty strings, ``None`` and NaN mark a path that
stops early (as :meth:`~mgclassifier.MultiGranularityClassifier.predict` returns with
``min_path_probability``): such entries, and every entry after them on the
same row, are not nodes.

The metrics that read probabilities (AU(PRC), log-loss, Brier score,
expected calibration error) take one array per level whose columns follow
``classes[l]``, e.g. ``estimator.predict_proba(X)`` and
``estimator.classes_``: one column per label of the level.

The scorers (``scorer(estimator, X, y)``) are for a fitted
:class:`~mgclassifier.MultiGranularityClassifier`: they skip the rows whose
finest label is missing (partially labelled data), as the estimator's
``score`` does.
"""

import numpy as np

# Private: scikit-learn's function is not one of this module's metrics.
from sklearn.metrics import average_precision_score as _average_precision_score

from ._metric_parts import (
    _check_label_pair,
    _check_n_bins,
    _check_proba_inputs,
    _correct_per_level,
    _drop_rows_without_finest_label,
    _level_outcomes,
    _level_targets_scores,
    _node_mask,
    _path_agreement,
    _per_level,
    _reliability_bins,
    _safe_ratio,
)

__all__ = [
    "SCORERS",
    "accuracy_per_level",
    "average_precision_scorer",
    "brier_score_per_level",
    "expected_calibration_error_per_level",
    "fine_accuracy_scorer",
    "hierarchical_average_precision",
    "hierarchical_f1_score",
    "hierarchical_f1_scorer",
    "hierarchical_precision_recall_fscore",
    "log_loss_per_level",
    "mistake_severity",
    "neg_brier_score_scorer",
    "neg_expected_calibration_error_scorer",
    "neg_log_loss_scorer",
]


# ---------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------


def accuracy_per_level(y_true, y_pred):
    """Accuracy computed separately for every level of the hierarchy.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_levels) or (n_samples,)
        True labels, columns ordered from coarse to fine.
    y_pred : array-like of the same shape as ``y_true``
        Predicted labels.

    Returns
    -------
    accuracy : ndarray of shape (n_levels,)
        Fraction of samples whose node is correct at each level: the
        predicted path agrees with the true one on every level down to that
        one. Two missing labels (shorter paths on both sides) count as
        agreeing; a right label under a wrong parent does not.

    Examples
    --------
    >>> from mgclassifier.metrics import accuracy_per_level
    >>> y_true = [["a", "a1"], ["a", "a2"], ["b", "b1"], ["b", "b2"]]
    >>> y_pred = [["a", "a1"], ["a", "a1"], ["b", "b1"], ["a", "a2"]]
    >>> accuracy_per_level(y_true, y_pred)
    array([0.75, 0.5 ])
    """
    return _correct_per_level(*_check_label_pair(y_true, y_pred)).mean(axis=0)


def hierarchical_precision_recall_fscore(y_true, y_pred):
    """Hierarchical precision, recall and F-score (set-of-ancestors).

    Each sample is represented by the set of nodes on its path (the label and
    all its ancestors, each node identified by its path from the root); the
    measures are micro-averaged over samples, as in Kiritchenko et al. (2005)
    and HiClass::

        hP = sum_i |T_i & P_i| / sum_i |P_i|
        hR = sum_i |T_i & P_i| / sum_i |T_i|
        hF = 2 * hP * hR / (hP + hR)

    A correct path that stops early scores better than a longer path that
    goes wrong: the first loses recall only, the second precision as well.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_levels) or (n_samples,)
        True paths, columns ordered from coarse to fine. Empty strings,
        ``None`` or NaN at the end of a row mean a shorter path.
    y_pred : array-like of the same shape as ``y_true``
        Predicted paths.

    Returns
    -------
    hP : float
        Hierarchical precision (0.0 when no node is predicted).
    hR : float
        Hierarchical recall (0.0 when no true node exists).
    hF : float
        Harmonic mean of ``hP`` and ``hR`` (0.0 when both are zero).

    Examples
    --------
    >>> from mgclassifier.metrics import hierarchical_precision_recall_fscore
    >>> y_true = [["a", "a1"], ["a", "a2"], ["b", ""]]
    >>> y_pred = [["a", "a1"], ["a", "a1"], ["a", "a2"]]
    >>> hp, hr, hf = hierarchical_precision_recall_fscore(y_true, y_pred)
    >>> print(f"{hp:.3f} {hr:.3f} {hf:.3f}")
    0.500 0.600 0.545

    Stopping at the right parent beats guessing the wrong child:

    >>> y_true = [["a", "a1"]]
    >>> hierarchical_f1_score(y_true, [["a", None]]) > hierarchical_f1_score(
    ...     y_true, [["a", "a2"]])
    True
    """
    y_true, y_pred = _check_label_pair(y_true, y_pred)
    true_nodes, pred_nodes, shared = _path_agreement(y_true, y_pred)
    n_shared = shared.sum()
    precision = _safe_ratio(n_shared, pred_nodes.sum())
    recall = _safe_ratio(n_shared, true_nodes.sum())
    fscore = _safe_ratio(2 * precision * recall, precision + recall)
    return precision, recall, fscore


def hierarchical_f1_score(y_true, y_pred):
    """Hierarchical F1 score (set-of-ancestors, micro-averaged).

    See :func:`hierarchical_precision_recall_fscore` for the definition.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_levels) or (n_samples,)
        True paths, columns ordered from coarse to fine.
    y_pred : array-like of the same shape as ``y_true``
        Predicted paths.

    Returns
    -------
    hF : float
        Hierarchical F1 score in [0, 1].

    Examples
    --------
    >>> from mgclassifier.metrics import hierarchical_f1_score
    >>> y_true = [["a", "a1"], ["b", "b1"]]
    >>> hierarchical_f1_score(y_true, [["a", "a1"], ["b", "b2"]])
    0.75
    """
    return hierarchical_precision_recall_fscore(y_true, y_pred)[2]


def hierarchical_average_precision(y_true, y_proba, classes):
    """Area under the micro-averaged precision-recall curve, AU(PRC).

    Every node of the hierarchy is treated as one binary target, as in
    C-HMCNN (Giunchiglia & Lukasiewicz, 2020): targets are the one-hot
    encodings of every level concatenated, scores are the per-level
    probabilities concatenated, and
    :func:`sklearn.metrics.average_precision_score` is computed on all the
    (target, score) pairs pooled together, i.e. ``average="micro"``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_levels) or (n_samples,)
        True paths, columns ordered from coarse to fine.
    y_proba : list of array-like of shape (n_samples, n_classes_l), or \
array-like of shape (n_samples, n_classes)
        Scores per level, columns following ``classes[l]``; a single array
        for a single level.
    classes : list of array-like, or array-like
        Class labels of each level (e.g. ``estimator.classes_``); a single
        array for a single level. A true label missing from ``classes[l]``
        is counted as a positive with score 0.

    Returns
    -------
    auprc : float
        Micro-averaged average precision in [0, 1].

    Raises
    ------
    ValueError
        If the number of levels or the shapes of ``y_proba`` do not match
        ``y_true`` and ``classes``, or if ``y_true`` contains no node.

    Examples
    --------
    >>> from mgclassifier.metrics import hierarchical_average_precision
    >>> y_true = ["a", "b", "a"]
    >>> y_proba = [[0.9, 0.1], [0.4, 0.6], [0.3, 0.7]]
    >>> round(hierarchical_average_precision(y_true, y_proba, ["a", "b"]), 4)
    0.7556
    """
    y_true, probas, classes = _check_proba_inputs(y_true, y_proba, classes)
    nodes = _node_mask(y_true)
    parts = [
        _level_targets_scores(y_true[:, level], nodes[:, level], proba, cls)
        for level, (proba, cls) in enumerate(zip(probas, classes, strict=True))
    ]
    targets = np.hstack([t for t, _ in parts])
    scores = np.hstack([s for _, s in parts])
    if not targets.any():
        raise ValueError("y_true contains no labelled node; AU(PRC) is undefined.")
    return float(_average_precision_score(targets.ravel(), scores.ravel()))


def mistake_severity(y_true, y_pred):
    """Mean tree distance of the mistakes made on the finest label.

    The distance between two paths is the number of edges between their
    deepest nodes: ``len(a) + len(b) - 2 * common_prefix``, which is
    ``2 * (L - common_prefix)`` for two full paths of length ``L``. Paths are
    compared level by level from the coarsest; a sample is a mistake when
    its predicted path differs from the true one (a right label under a
    wrong parent is another node, so it is a mistake).

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_levels) or (n_samples,)
        True paths, columns ordered from coarse to fine.
    y_pred : array-like of the same shape as ``y_true``
        Predicted paths.

    Returns
    -------
    severity : float
        Mean distance over the samples whose deepest node is wrong; 0.0 if
        every sample is right. A sibling mistake costs 2, a cousin 4.

    Examples
    --------
    >>> from mgclassifier.metrics import mistake_severity
    >>> y_true = [["a", "a/x"], ["a", "a/x"], ["a", "a/x"]]
    >>> y_pred = [["a", "a/x"], ["a", "a/y"], ["b", "b/z"]]
    >>> mistake_severity(y_true, y_pred)
    3.0
    """
    y_true, y_pred = _check_label_pair(y_true, y_pred)
    true_nodes, pred_nodes, shared = _path_agreement(y_true, y_pred)
    true_len, pred_len = true_nodes.sum(axis=1), pred_nodes.sum(axis=1)
    prefix = shared.sum(axis=1)
    distance = true_len + pred_len - 2 * prefix
    # Right exactly when both deepest nodes are the same node (path).
    wrong = (true_len != pred_len) | (prefix != true_len)
    return float(distance[wrong].mean()) if wrong.any() else 0.0


# ---------------------------------------------------------------------------
# Calibration: log-loss, Brier score, expected calibration error per level
# ---------------------------------------------------------------------------


def log_loss_per_level(y_true, y_proba, classes, *, average=None):
    """Log-loss (cross-entropy) of each level's probabilities.

    The mean over the samples labelled at a level of ``-log p(true label)``,
    with probabilities clipped to ``[eps, 1]`` (float64 ``eps``), as
    :func:`sklearn.metrics.log_loss` does. Samples whose true path stops
    above a level are left out of it.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_levels) or (n_samples,)
        True paths, columns ordered from coarse to fine.
    y_proba : list of array-like of shape (n_samples, n_classes_l), or \
array-like of shape (n_samples, n_classes)
        Probabilities per level, columns following ``classes[l]`` (e.g.
        ``estimator.predict_proba(X)``).
    classes : list of array-like, or array-like
        Class labels of each level (e.g. ``estimator.classes_``). A true
        label missing from ``classes[l]`` has probability 0.
    average : {None, "macro"}, default=None
        None: one number per level. "macro": their unweighted mean (levels
        without labelled samples left out), one summary number.

    Returns
    -------
    loss : ndarray of shape (n_levels,) or float
        Lower is better; NaN for a level without labelled samples.

    Examples
    --------
    >>> import numpy as np
    >>> from mgclassifier.metrics import log_loss_per_level
    >>> y_true = [["a", "a1"], ["b", "b1"]]
    >>> classes = [["a", "b"], ["a1", "a2", "b1"]]
    >>> proba = [np.array([[0.8, 0.2], [0.5, 0.5]]),
    ...          np.array([[0.6, 0.2, 0.2], [0.25, 0.25, 0.5]])]
    >>> log_loss_per_level(y_true, proba, classes).round(3)
    array([0.458, 0.602])
    >>> round(log_loss_per_level(y_true, proba, classes, average="macro"), 3)
    0.53
    """
    eps = np.finfo(np.float64).eps

    def level_log_loss(targets, scores):
        return -np.mean(np.log(np.clip(scores[targets], eps, 1.0)))

    outcomes = _level_outcomes(y_true, y_proba, classes)
    return _per_level(outcomes, level_log_loss, average)


def brier_score_per_level(y_true, y_proba, classes, *, average=None):
    """Multiclass Brier score of each level's probabilities.

    The mean over the samples labelled at a level of
    ``sum_k (p_k - y_k) ** 2`` over that level's classes (Brier, 1950), in
    [0, 2]: the same scale at every level, two classes included. For one
    level this is :func:`sklearn.metrics.brier_score_loss` with
    ``scale_by_half=False`` (sklearn's default halves it for two classes).

    Parameters
    ----------
    y_true, y_proba, classes, average
        See :func:`log_loss_per_level`.

    Returns
    -------
    score : ndarray of shape (n_levels,) or float
        Lower is better; NaN for a level without labelled samples.

    Examples
    --------
    >>> import numpy as np
    >>> from mgclassifier.metrics import brier_score_per_level
    >>> y_true = [["a", "a1"], ["b", "b1"]]
    >>> classes = [["a", "b"], ["a1", "a2", "b1"]]
    >>> proba = [np.array([[0.8, 0.2], [0.5, 0.5]]),
    ...          np.array([[0.6, 0.2, 0.2], [0.25, 0.25, 0.5]])]
    >>> brier_score_per_level(y_true, proba, classes).round(4)
    array([0.29  , 0.3075])
    """

    def level_brier(targets, scores):
        return np.mean(np.sum((scores - targets) ** 2, axis=1))

    outcomes = _level_outcomes(y_true, y_proba, classes)
    return _per_level(outcomes, level_brier, average)


def expected_calibration_error_per_level(
    y_true, y_proba, classes, *, n_bins=15, average=None
):
    """Expected calibration error (ECE) of each level's top label.

    At each level the samples are binned by their highest probability (the
    confidence of the predicted label) into ``n_bins`` equal-width bins of
    [0, 1]; the ECE is the average over bins, weighted by their share of
    samples, of ``|accuracy - mean confidence|`` (Guo et al., 2017). 0 is
    perfectly calibrated. :class:`~mgclassifier.plotting.ReliabilityDiagramDisplay`
    draws the bins.

    Parameters
    ----------
    y_true, y_proba, classes
        See :func:`log_loss_per_level`.
    n_bins : int, default=15
        Number of equal-width confidence bins.
    average : {None, "macro"}, default=None
        See :func:`log_loss_per_level`.

    Returns
    -------
    ece : ndarray of shape (n_levels,) or float
        In [0, 1], lower is better; NaN for a level without labelled samples.

    Examples
    --------
    >>> import numpy as np
    >>> from mgclassifier.metrics import expected_calibration_error_per_level
    >>> y_true = ["a", "a", "b", "a"]
    >>> proba = np.array([[0.95, 0.05], [0.92, 0.08], [0.85, 0.15], [0.35, 0.65]])
    >>> # Bin (0.9, 1]: 2 right, confidence 1.87 in all; (0.8, 0.9]: 0 right of
    >>> # 0.85; (0.6, 0.7]: 0 right of 0.65. ECE = (0.13 + 0.85 + 0.65) / 4.
    >>> expected_calibration_error_per_level(
    ...     y_true, proba, ["a", "b"], n_bins=10).round(4)
    array([0.4075])
    """
    _check_n_bins(n_bins)

    def level_ece(targets, scores):
        confidence, correct, count = _reliability_bins(targets, scores, n_bins)
        return np.abs(correct - confidence).sum() / count.sum()

    outcomes = _level_outcomes(y_true, y_proba, classes)
    return _per_level(outcomes, level_ece, average)


# ---------------------------------------------------------------------------
# Scorers: plain callables ``scorer(estimator, X, y) -> float``
# ---------------------------------------------------------------------------


def hierarchical_f1_scorer(estimator, X, y):
    """Scorer returning the hierarchical F1 of ``estimator.predict(X)``.

    Usable as ``scoring=`` in :class:`~sklearn.model_selection.GridSearchCV`
    or :func:`~sklearn.model_selection.cross_val_score`, alone or inside a
    dict of scorers.

    Parameters
    ----------
    estimator : object
        Fitted estimator with a ``predict`` method.
    X : array-like of shape (n_samples, n_features)
        Input samples.
    y : array-like of shape (n_samples, n_levels) or (n_samples,)
        True paths. Rows whose finest label is missing are skipped (see
        Notes).

    Returns
    -------
    score : float
        Hierarchical F1 score; greater is better.

    Notes
    -----
    The estimator trains each level on the rows labelled there and always
    predicts full paths; a row whose finest label is missing (None, NaN,
    "") is unlabelled for the score, not a shorter path, and is left out, as
    in ``MultiGranularityClassifier.score``.

    Examples
    --------
    >>> import numpy as np
    >>> from mgclassifier.metrics import hierarchical_f1_scorer
    >>> class Constant:
    ...     def predict(self, X):
    ...         return np.array([["a", "a1"]] * len(X))
    >>> hierarchical_f1_scorer(Constant(), [[0], [1]], [["a", "a1"], ["a", "a2"]])
    0.75
    """
    X, y, _ = _drop_rows_without_finest_label(X, y)
    return hierarchical_f1_score(y, estimator.predict(X))


def average_precision_scorer(estimator, X, y):
    """Scorer returning the AU(PRC) of ``estimator.predict_proba(X)``.

    The probability columns are matched to labels through
    ``estimator.classes_``; see :func:`hierarchical_average_precision`.

    Parameters
    ----------
    estimator : object
        Fitted estimator with ``predict_proba`` and ``classes_``.
    X : array-like of shape (n_samples, n_features)
        Input samples.
    y : array-like of shape (n_samples, n_levels) or (n_samples,)
        True paths. Rows whose finest label is missing are skipped, as in
        :func:`hierarchical_f1_scorer`.

    Returns
    -------
    score : float
        Micro-averaged average precision over all nodes; greater is better.

    Examples
    --------
    >>> import numpy as np
    >>> from mgclassifier.metrics import average_precision_scorer
    >>> class Fixed:
    ...     classes_ = np.array(["a", "b"])
    ...     def predict_proba(self, X):
    ...         return np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7]])
    >>> score = average_precision_scorer(Fixed(), [[0], [1], [2]], ["a", "b", "a"])
    >>> round(score, 4)
    0.7556
    """
    X, y, _ = _drop_rows_without_finest_label(X, y)
    proba = estimator.predict_proba(X)
    return hierarchical_average_precision(y, proba, estimator.classes_)


def fine_accuracy_scorer(estimator, X, y):
    """Scorer returning the finest-level accuracy of ``estimator.predict(X)``.

    Parameters
    ----------
    estimator : object
        Fitted estimator with a ``predict`` method.
    X : array-like of shape (n_samples, n_features)
        Input samples.
    y : array-like of shape (n_samples, n_levels) or (n_samples,)
        True paths; only the last column is used. Rows whose finest label is
        missing are skipped, as in :func:`hierarchical_f1_scorer`.

    Returns
    -------
    score : float
        Fraction of the labelled samples whose finest node is right (the
        finest label under the right ancestors: the whole path); greater is
        better.

    Examples
    --------
    >>> import numpy as np
    >>> from mgclassifier.metrics import fine_accuracy_scorer
    >>> class Constant:
    ...     def predict(self, X):
    ...         return np.array([["a", "a1"]] * len(X))
    >>> fine_accuracy_scorer(Constant(), [[0], [1]], [["a", "a1"], ["a", "a2"]])
    0.5
    """
    X, y, _ = _drop_rows_without_finest_label(X, y)
    return float(accuracy_per_level(y, estimator.predict(X))[-1])


def _neg_macro(metric, estimator, X, y):
    """Minus the mean over levels of a calibration metric (greater is better),
    over the rows that have a finest label, as every scorer here."""
    X, y, _ = _drop_rows_without_finest_label(X, y)
    proba = estimator.predict_proba(X)
    return -metric(y, proba, estimator.classes_, average="macro")


def neg_log_loss_scorer(estimator, X, y):
    """Scorer returning minus the log-loss, averaged over levels.

    :func:`log_loss_per_level` with ``average="macro"`` on
    ``estimator.predict_proba(X)``, negated so that greater is better (as
    sklearn's ``"neg_log_loss"``). Rows whose finest label is missing are
    skipped, as by the other scorers.

    Parameters
    ----------
    estimator : object
        Fitted estimator with ``predict_proba`` and ``classes_``.
    X : array-like of shape (n_samples, n_features)
        Input samples.
    y : array-like of shape (n_samples, n_levels) or (n_samples,)
        True paths.

    Returns
    -------
    score : float
        At most 0; greater is better.

    Examples
    --------
    >>> import numpy as np
    >>> from mgclassifier.metrics import neg_log_loss_scorer
    >>> class Fixed:
    ...     classes_ = np.array(["a", "b"])
    ...     def predict_proba(self, X):
    ...         return np.array([[0.5, 0.5], [0.5, 0.5]])
    >>> round(neg_log_loss_scorer(Fixed(), [[0], [1]], ["a", "b"]), 4)
    -0.6931
    """
    return _neg_macro(log_loss_per_level, estimator, X, y)


def neg_brier_score_scorer(estimator, X, y):
    """Scorer returning minus the Brier score, averaged over levels.

    :func:`brier_score_per_level` with ``average="macro"``, negated.

    Parameters
    ----------
    estimator : object
        Fitted estimator with ``predict_proba`` and ``classes_``.
    X : array-like of shape (n_samples, n_features)
        Input samples.
    y : array-like of shape (n_samples, n_levels) or (n_samples,)
        True paths.

    Returns
    -------
    score : float
        At most 0; greater is better.
    """
    return _neg_macro(brier_score_per_level, estimator, X, y)


def neg_expected_calibration_error_scorer(estimator, X, y):
    """Scorer returning minus the expected calibration error, averaged over levels.

    :func:`expected_calibration_error_per_level` (15 bins) with
    ``average="macro"``, negated.

    Parameters
    ----------
    estimator : object
        Fitted estimator with ``predict_proba`` and ``classes_``.
    X : array-like of shape (n_samples, n_features)
        Input samples.
    y : array-like of shape (n_samples, n_levels) or (n_samples,)
        True paths.

    Returns
    -------
    score : float
        At most 0; greater is better.
    """
    return _neg_macro(expected_calibration_error_per_level, estimator, X, y)


#: Scorers by name, e.g. ``GridSearchCV(..., scoring=SCORERS)``.
SCORERS = {
    "hierarchical_f1": hierarchical_f1_scorer,
    "average_precision": average_precision_scorer,
    "fine_accuracy": fine_accuracy_scorer,
    "neg_log_loss": neg_log_loss_scorer,
    "neg_brier_score": neg_brier_score_scorer,
    "neg_expected_calibration_error": neg_expected_calibration_error_scorer,
}
