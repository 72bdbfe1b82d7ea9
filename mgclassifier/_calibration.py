"""From logits to calibrated per-level log-probabilities (numpy only).

A single temperature divides every head's logits before the softmax. It is
fitted after training by minimising the negative log-likelihood of the
held-out early-stopping split: the ranking of classes within a sample does
not change, but confidence becomes comparable across samples, which is what
ranking metrics over many samples (AU(PRC)) and probability thresholds need.
"""

import numpy as np
from scipy.optimize import minimize_scalar


def level_log_proba(logits, level_sizes, temperature=1.0):
    """Split concatenated logits per level and log-softmax each block.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, sum(level_sizes))
    level_sizes : sequence of int
    temperature : float, default=1.0

    Returns
    -------
    list of ndarray of shape (n_samples, level_sizes[l])

    Examples
    --------
    >>> import numpy as np
    >>> blocks = level_log_proba(np.zeros((1, 5)), [2, 3])
    >>> [np.exp(b).round(3).tolist() for b in blocks]
    [[[0.5, 0.5]], [[0.333, 0.333, 0.333]]]
    """
    bounds = np.cumsum(level_sizes)[:-1]
    return [log_softmax(block / temperature) for block in np.split(logits, bounds, 1)]


def softmax_(scores, temperature=1.0):
    """Row-wise softmax of ``scores / temperature``, written into ``scores``.

    In place because a prediction on many rows would otherwise allocate
    several arrays of the full size, each paid for in page faults.

    Examples
    --------
    >>> import numpy as np
    >>> softmax_(np.log([[1.0, 3.0]])).tolist()
    [[0.25, 0.75]]
    """
    if temperature != 1.0:
        scores *= 1.0 / temperature
    scores -= scores.max(axis=1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=1, keepdims=True)
    return scores


def log_softmax(scores):
    """Row-wise log-softmax in plain numpy (a few µs on one row, unlike scipy's)."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def fit_temperature(logits, leaf_codes, hierarchy, coarse_weight):
    """Temperature minimising the path NLL of labelled held-out samples.

    The targets are smoothed by ``1 / (n_samples + 1)`` towards uniform, so a
    small held-out split without errors does not claim certainty.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, sum(n_classes))
    leaf_codes : ndarray of shape (n_samples,)
        Index of each sample's finest-level class.
    hierarchy : LabelHierarchy
    coarse_weight : float
        As in :meth:`LabelHierarchy.leaf_log_proba`.

    Returns
    -------
    float
        In [0.05, 20]; 1.0 when there are no samples.
    """
    if len(leaf_codes) == 0:
        return 1.0
    rows = np.arange(len(leaf_codes))
    # Laplace-style smoothing of the targets by 1/(n+1): a small held-out split
    # that happens to be classified perfectly would otherwise drive the
    # temperature to 0 (certainty); on a large split the effect vanishes.
    smoothing = 1.0 / (len(leaf_codes) + 1)

    def nll(log_temperature):
        blocks = level_log_proba(logits, hierarchy.n_classes, np.exp(log_temperature))
        leaf = hierarchy.leaf_log_proba(blocks, coarse_weight=coarse_weight)
        hit = leaf[rows, leaf_codes].mean()
        return -((1 - smoothing) * hit + smoothing * leaf.mean())

    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20)), method="bounded")
    return float(np.exp(result.x))
