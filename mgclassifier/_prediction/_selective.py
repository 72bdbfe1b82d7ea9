"""Selective prediction: the path threshold that certifies a target accuracy.

``target_accuracy`` asks ``fit`` for paths that are right at least that
often, as deep as possible. ``predict`` cuts each predicted path at the
deepest level whose probability reaches a threshold (the rule of
``min_path_probability``); here that threshold is chosen on held-out rows,
the way hierarchical selective classification does (Goren, Galil and
El-Yaniv, NeurIPS 2024: climb the tree until a confidence threshold holds,
the threshold calibrated on held-out data).

What is certified. A returned path is right when every label in it is
right; a row cut above its coarsest level (all None) says nothing and so
is never wrong. The accuracy of a threshold ``t`` is the share of rows whose
returned path is right, ``1 - P(a wrong label is returned)``. Raising ``t``
only shortens paths, so a row's returned path can only turn from wrong to
right: the accuracy never falls as ``t`` rises. The rule scans thresholds
from the top down and keeps the lowest one at which the one-sided
Clopper-Pearson bound of the held-out error rate, at ``target_confidence``,
is still within ``1 - target_accuracy``. Because the accuracy is monotone
in ``t``, the chosen threshold falls below the true boundary only if the
bound failed at that fixed boundary point, which has probability at most
``1 - target_confidence`` (the argument of risk-controlling prediction sets,
Bates et al., JACM 2021). The guarantee is over the draw of the held-out
rows and needs them exchangeable with the rows predicted later: drawn from
the same distribution, and not used to train the weights.

Long run or one batch. That bound is on the long-run accuracy, the share
right over all future rows. The accuracy measured on a batch of ``m`` rows
scatters around it (by about 0.01 on 1,000 rows at 0.9), so a threshold
whose long-run accuracy just reaches the target misses it on about half of
such batches. ``target_batch_size=m`` certifies the batch's own accuracy
instead, by a rank argument: put the held-out and batch rows (exchangeable)
in one list ordered by the probability at which each would return a wrong
label, most sure first. The threshold stops just above the ``(K + 1)``-th
held-out error, so the batch gets more than ``e = floor((1 - target) m)``
errors only if the first ``K + e + 1`` erring rows of the list hold at most
``K`` held-out ones; their number of held-out rows is hypergeometric, and
the rule takes the largest ``K`` for which that has probability at most
``1 - target_confidence``. Exact for any ``m``, with no distribution assumed.

The rule is plain statistics: arrays of the held-out rows' prefix
probabilities and first wrong levels in, numbers out
(``_calibration.held_out_threshold`` computes those arrays with the fitted
network).
"""

from typing import NamedTuple

import numpy as np
from scipy.stats import beta, hypergeom


class SelectiveTarget(NamedTuple):
    """What a threshold is chosen for.

    ``accuracy`` and ``confidence`` are ``target_accuracy`` and
    ``target_confidence``; ``batch_size`` is ``target_batch_size`` (None:
    the long-run accuracy).

    Examples
    --------
    >>> SelectiveTarget(0.95, 0.9, 500).describe()
    'target_accuracy=0.95, target_confidence=0.9, target_batch_size=500'
    """

    accuracy: float
    confidence: float
    batch_size: int | None = None

    def describe(self):
        """The parameters that set it, as a user writes them."""
        text = (
            f"target_accuracy={self.accuracy!r}, target_confidence={self.confidence!r}"
        )
        if self.batch_size is not None:
            text += f", target_batch_size={self.batch_size!r}"
        return text


def first_wrong_depth(predicted, true):
    """Depth (1-based) of the first wrong level of each predicted path.

    Parameters
    ----------
    predicted, true : ndarray of int of shape (n_samples, n_levels)
        Node codes, coarse to fine. A node is a path from the root, so a
        prefix is right exactly when its deepest node is.

    Returns
    -------
    ndarray of int of shape (n_samples,)
        ``n_levels + 1`` for a path right to the end.

    Examples
    --------
    >>> first_wrong_depth(np.array([[0, 1], [0, 1], [1, 2]]),
    ...                   np.array([[0, 1], [0, 2], [0, 0]])).tolist()
    [3, 2, 1]
    """
    wrong = np.asarray(predicted) != np.asarray(true)
    n_levels = wrong.shape[1]
    return np.where(wrong.any(axis=1), wrong.argmax(axis=1) + 1, n_levels + 1)


def error_upper_bound(n_errors, n_rows, confidence):
    """One-sided Clopper-Pearson upper bound of an error rate.

    The true rate is at most this with probability ``confidence`` over the
    draw of ``n_rows`` independent rows of which ``n_errors`` erred.

    Examples
    --------
    >>> round(error_upper_bound(0, 45, 0.9), 4)  # 1 - 0.1 ** (1 / 45)
    0.0499
    """
    if n_errors >= n_rows:
        return 1.0
    return float(beta.ppf(confidence, n_errors + 1, n_rows - n_errors))


def batch_miss_probability(n_errors, n_rows, target, batch_size):
    """Bound on the chance that a batch's accuracy falls below ``target``.

    At a threshold where ``n_errors`` of ``n_rows`` held-out rows err, the
    next ``batch_size`` rows (exchangeable with them) return more than
    ``floor((1 - target) * batch_size)`` wrong paths only if the first
    ``n_errors + floor(...) + 1`` erring rows of both, ordered by how sure
    the model was, hold at most ``n_errors`` held-out rows (see the module's
    docstring): a hypergeometric tail.

    Examples
    --------
    A batch of 10 at 0.95 must be perfect; with one held-out error among
    1,000, it is not in about 2% of draws:

    >>> round(batch_miss_probability(1, 1000, 0.95, 10), 4)
    0.0197
    """
    # The epsilon keeps 10 rows at 0.9 allowing 1 error despite 1 - 0.9 < 0.1.
    allowed_in_batch = int(np.floor((1.0 - target) * batch_size + 1e-9))
    n_pooled = n_rows + batch_size
    draws = min(n_errors + allowed_in_batch + 1, n_pooled)
    return float(hypergeom.cdf(n_errors, n_pooled, n_rows, draws))


def max_certified_errors(n_rows, target, confidence, batch_size=None):
    """The most errors among ``n_rows`` whose bound still certifies ``target``.

    -1 when not even a perfect record does (too few rows). The bound grows
    with the errors, so a bisection finds it.

    Parameters
    ----------
    n_rows : int
        Held-out rows.
    target, confidence : float
        ``target_accuracy`` and ``target_confidence``.
    batch_size : int or None, default=None
        ``target_batch_size``: certify the accuracy over a batch of that
        many future rows (:func:`batch_miss_probability`); None: the
        long-run accuracy (Clopper-Pearson).

    Returns
    -------
    int

    Examples
    --------
    >>> max_certified_errors(1000, 0.95, 0.9), max_certified_errors(40, 0.95, 0.9)
    (40, -1)
    >>> max_certified_errors(1000, 0.95, 0.9, batch_size=1000)
    38
    """
    if batch_size is None:

        def certifies(n_errors):
            return error_upper_bound(n_errors, n_rows, confidence) <= 1.0 - target

    else:

        def certifies(n_errors):
            miss = batch_miss_probability(n_errors, n_rows, target, batch_size)
            return miss <= 1.0 - confidence

    if n_rows == 0 or not certifies(0):
        return -1
    # certifies(0); not certifies(n_rows), where every row errs.
    return _last_true(certifies, 0, n_rows)


def min_rows(target, confidence, batch_size=None):
    """Fewest held-out rows that can certify ``target`` (with no error).

    Examples
    --------
    >>> min_rows(0.95, 0.9), min_rows(0.99, 0.9), min_rows(0.95, 0.9, 1000)
    (45, 230, 46)
    """
    if batch_size is None:
        return int(np.ceil(np.log(1.0 - confidence) / np.log(target)))

    # More rows only lower the chance that none of them is among the erring.
    def too_few(n_rows):
        return max_certified_errors(n_rows, target, confidence, batch_size) < 0

    high = 1
    while too_few(high):
        high *= 2
    return _last_true(too_few, 0, high) + 1  # too_few(0): no rows


def _last_true(predicate, low, high):
    """The last integer in ``[low, high)`` where a predicate that is true at
    ``low`` and false at ``high``, and flips once between, holds
    (bisection)."""
    while high - low > 1:
        middle = (low + high) // 2
        if predicate(middle):
            low = middle
        else:
            high = middle
    return low


def choose_threshold(prefix, first_wrong, target, confidence, batch_size=None):
    """The lowest threshold whose held-out error count the bound certifies.

    Parameters
    ----------
    prefix : ndarray of shape (n_samples, n_levels)
        Probability of each prefix of each row's predicted path.
    first_wrong : ndarray of int of shape (n_samples,)
        :func:`first_wrong_depth` of each row.
    target, confidence : float
        ``target_accuracy`` and ``target_confidence``.
    batch_size : int or None, default=None
        ``target_batch_size`` (see :func:`max_certified_errors`).

    Returns
    -------
    float
        0.0 when every full path may be returned, ``inf`` when no threshold
        certifies the target (every row returns no label), else halfway
        between the probability at which the first uncertified error would
        be returned and the next held-out prefix probability above it.

    Examples
    --------
    One level, probabilities 0.9 ... 0.1 and the two least sure rows wrong;
    46 rows hold ``target=0.95`` with 90% confidence when none errs:

    >>> prefix = np.linspace(0.95, 0.05, 50)[:, None]
    >>> first_wrong = np.where(np.arange(50) >= 48, 1, 2)
    >>> float(choose_threshold(prefix, first_wrong, 0.95, 0.9)) > 0.05
    True
    >>> choose_threshold(prefix, first_wrong, 0.5, 0.9)
    0.0
    """
    prefix = np.asarray(prefix, dtype=np.float64)
    n_rows, n_levels = prefix.shape
    # depth(t) = #{levels whose cumulative minimum reaches t}, the cumprod rule.
    sure = np.minimum.accumulate(prefix, axis=1) if n_rows else prefix
    erring = np.flatnonzero(first_wrong <= n_levels)
    # A row returns a wrong label exactly when t is at most this probability.
    wrong_from = np.sort(sure[erring, first_wrong[erring] - 1])[::-1]
    allowed = max_certified_errors(n_rows, target, confidence, batch_size)
    if allowed < 0:
        return float("inf")
    if allowed >= len(wrong_from):
        return 0.0
    cut = wrong_from[allowed]  # t <= cut returns allowed + 1 wrong paths
    above = sure[sure > cut]
    if len(above) == 0:
        return float("inf") if cut >= 1.0 else float((cut + 1.0) / 2)
    return float((cut + above.min()) / 2)


def returned_depth(prefix, threshold):
    """Levels ``predict`` returns: the longest prefix of each path whose
    nodes all reach ``threshold`` (the rule of ``min_path_probability``).

    Examples
    --------
    >>> returned_depth(np.array([[0.9, 0.6], [0.5, 0.4], [0.3, 0.8]]), 0.5).tolist()
    [2, 1, 0]
    """
    return np.cumprod(np.asarray(prefix) >= threshold, axis=1).sum(axis=1)


def coverage_at(prefix, first_wrong, threshold, confidence):
    """What the held-out rows return at ``threshold``.

    Returns
    -------
    dict
        ``rows`` (labelled held-out rows), ``mean_depth`` (levels returned,
        averaged), ``full_paths`` (share of rows given every level),
        ``no_label`` (share given none), ``accuracy`` (share whose returned
        path is right) and ``accuracy_bound`` (its lower confidence bound
        at ``confidence``; what the threshold was chosen to keep at or
        above the target).

    Examples
    --------
    >>> prefix = np.array([[0.9, 0.6], [0.5, 0.4]])
    >>> cov = coverage_at(prefix, np.array([3, 2]), 0.45, 0.9)
    >>> cov["mean_depth"], cov["full_paths"], cov["accuracy"]
    (1.5, 0.5, 1.0)
    """
    prefix = np.asarray(prefix, dtype=np.float64)
    n_rows, n_levels = prefix.shape
    if n_rows == 0:
        return dict(
            rows=0,
            mean_depth=0.0,
            full_paths=0.0,
            no_label=1.0,
            accuracy=1.0,
            accuracy_bound=0.0,
        )
    depth = returned_depth(prefix, threshold)
    n_errors = int((depth >= first_wrong).sum())
    return dict(
        rows=int(n_rows),
        mean_depth=float(depth.mean()),
        full_paths=float((depth == n_levels).mean()),
        no_label=float((depth == 0).mean()),
        accuracy=1.0 - n_errors / n_rows,
        accuracy_bound=1.0 - error_upper_bound(n_errors, n_rows, confidence),
    )
