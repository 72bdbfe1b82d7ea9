"""Prediction maths in torch, on the device that holds the logits.

For a model on a GPU, ``predict_proba`` and ``predict`` run here (and the
temperature fit, in ``_calibration``, scores paths with the same function),
so prediction logits never leave the device; only the final arrays are
copied to the host. The numpy twins for CPU calls live in ``_prediction``
and ``_hierarchy``.
"""


def path_logits(logits, level_sizes, paths=None, coarse_weight=0.0):
    """Unnormalised score of every root-to-leaf path (torch twin of
    :func:`mgclassifier._prediction.path_logits`).

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
