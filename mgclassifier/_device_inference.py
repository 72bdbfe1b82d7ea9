"""Prediction maths in torch, on the device that holds the logits.

The temperature fit and, for a model on a GPU, ``predict_proba`` and
``predict`` run here, so validation and prediction logits never leave the
device; only a scalar (per objective evaluation) or the final arrays are
copied to the host. The numpy twins for small CPU calls live in
``_calibration`` and ``_hierarchy``.
"""

import math

import torch
import torch.nn.functional as F
from scipy.optimize import minimize_scalar

TEMPERATURE_BOUNDS = (0.05, 20.0)


def path_logits(logits, level_sizes, paths=None, coarse_weight=0.0):
    """Unnormalised score of every root-to-leaf path (torch twin of
    :func:`mgclassifier._calibration.path_logits`).

    Parameters
    ----------
    logits : tensor of shape (n_samples, sum(level_sizes))
    level_sizes : sequence of int
        Width of each level's block of ``logits`` (just the finest level's
        when only its logits are given).
    paths : tensor of shape (n_leaves, n_levels), default=None
        Class index of each leaf's ancestor per level
        (``LabelHierarchy.paths``); needed when ``coarse_weight > 0``.
    coarse_weight : float, default=0.0
        As in :meth:`LabelHierarchy.leaf_log_proba`.

    Returns
    -------
    tensor of shape (n_samples, n_leaves)
    """
    blocks = logits.split(list(level_sizes), dim=1)
    if coarse_weight == 0 or len(blocks) == 1:
        return blocks[-1]
    scores = blocks[-1].clone()
    for level, block in enumerate(blocks[:-1]):
        scores.add_(block[:, paths[:, level]], alpha=coarse_weight)
    return scores


@torch.inference_mode()
def fit_temperature(logits, leaf_codes, level_sizes, paths=None, coarse_weight=0.0):
    """Temperature minimising the path NLL of labelled held-out samples.

    A bounded scalar search (Brent's method) over ``log(temperature)``; each
    evaluation runs on the logits' device and returns one number. The
    targets are smoothed by ``1 / (n_samples + 1)`` towards uniform, so a
    small held-out split without errors does not claim certainty.

    Parameters
    ----------
    logits : tensor of shape (n_samples, sum(level_sizes))
    leaf_codes : tensor of shape (n_samples,)
        Index of each sample's finest-level class.
    level_sizes, paths, coarse_weight
        As in :func:`path_logits`.

    Returns
    -------
    float
        In [0.05, 20]; 1.0 when there are no samples.
    """
    if len(leaf_codes) == 0:
        return 1.0
    logits = logits.float()
    rows = torch.arange(len(leaf_codes), device=logits.device)
    # Laplace-style smoothing of the targets by 1/(n+1): a small held-out split
    # that happens to be classified perfectly would otherwise drive the
    # temperature to 0 (certainty); on a large split the effect vanishes.
    smoothing = 1.0 / (len(leaf_codes) + 1)

    scores = path_logits(logits, level_sizes, paths, coarse_weight)

    def nll(log_temperature):
        leaf = F.log_softmax(scores / math.exp(log_temperature), dim=1)
        hit = leaf[rows, leaf_codes].mean()
        return -float((1 - smoothing) * hit + smoothing * leaf.mean())

    bounds = tuple(math.log(t) for t in TEMPERATURE_BOUNDS)
    # 1e-2 in log-temperature is a 1% change of the temperature (a probability
    # p becomes about p**1.01): below what moves a metric, and a third fewer
    # evaluations than scipy's default tolerance.
    result = minimize_scalar(
        nll, bounds=bounds, method="bounded", options={"xatol": 1e-2}
    )
    return float(math.exp(result.x))


def level_proba(leaf_proba, parents, n_classes):
    """Sum path probabilities up the tree: one tensor per level, coarse first.

    Parameters
    ----------
    leaf_proba : tensor of shape (n_samples, n_leaves)
    parents : list of tensor of int
        ``parents[l][j]``: index at level ``l`` of the parent of class ``j``
        of level ``l + 1`` (``LabelHierarchy.parents``).
    n_classes : sequence of int
        Number of classes of each level.

    Examples
    --------
    >>> import torch
    >>> leaf_proba = torch.tensor([[0.2, 0.3, 0.5]])
    >>> coarse, fine = level_proba(leaf_proba, [torch.tensor([0, 0, 1])], [2, 3])
    >>> coarse
    tensor([[0.5000, 0.5000]])
    """
    probas = [leaf_proba]
    for level in range(len(parents) - 1, -1, -1):
        summed = leaf_proba.new_zeros((leaf_proba.shape[0], n_classes[level]))
        probas.insert(0, summed.index_add_(1, parents[level], probas[0]))
    return probas
