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
    blocks = []
    for block in np.split(logits / temperature, bounds, axis=1):
        shifted = block - block.max(axis=1, keepdims=True)
        blocks.append(shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))
    return blocks


def fit_temperature(logits, leaf_codes, hierarchy, coarse_weight):
    """Temperature minimising the path NLL of labelled held-out samples.

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

    def nll(log_temperature):
        blocks = level_log_proba(logits, hierarchy.n_classes, np.exp(log_temperature))
        leaf = hierarchy.leaf_log_proba(blocks, coarse_weight=coarse_weight)
        return -leaf[rows, leaf_codes].mean()

    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20)), method="bounded")
    return float(np.exp(result.x))
