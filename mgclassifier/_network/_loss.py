"""The multi-level training loss: weighted cross-entropy per level plus a
coarse/fine consistency penalty."""

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._tensors import as_buffer


class MultiLevelLoss(nn.Module):
    """Weighted sum of per-level cross-entropies, plus hierarchy consistency.

    Parameters
    ----------
    level_sizes : sequence of int
        Number of classes per level; splits the concatenated logits.
    parents : list of array-like of int
        ``parents[l][j]``: index at level ``l`` of the parent of class ``j`` of
        level ``l + 1``.
    level_weights : sequence of float
        Loss weight of each level. Stored in a buffer so a callback can move
        weight between levels during training.
    label_smoothing : float, default=0.0
        Applied to the training loss only.
    class_weights : list of array-like, default=None
        Per-level weight of each class (e.g. "balanced"); None for equal.
    consistency : float, default=0.0
        Weight of the squared difference between each coarse head's
        probabilities and the summed probabilities of its children's classes
        in the next finer head (training loss only).
    has_missing : bool, default=True
        Whether some labels may be missing (code -1). When none are and no
        weights apply, each level's loss is a plain mean over the batch.

    Notes
    -----
    Without label smoothing each level is torch's fused cross-entropy. With
    it the loss is computed directly: per level one log-softmax, the
    target's log-probability (``gather``) and the mean log-probability over
    the classes, combined for all levels at once.
    ``F.cross_entropy(..., label_smoothing=...)`` launches about a dozen
    kernels per level, which halved the training throughput on a GPU, where
    the host queueing kernels is the bottleneck at these model sizes.

    Missing labels (code -1) and sample weights are handled by weighting each
    sample's cross-entropy; each level's loss is the weighted mean over the
    samples labelled at that level.

    Examples
    --------
    >>> import torch
    >>> loss = MultiLevelLoss([2, 3], parents=[[0, 0, 1]], level_weights=[1.0, 1.0])
    >>> total, per_level = loss(torch.zeros(4, 5), torch.tensor([[0, 1]] * 4))
    >>> per_level  # log(2), log(3): uniform logits
    tensor([0.6931, 1.0986])
    """

    def __init__(
        self,
        level_sizes,
        parents,
        level_weights,
        class_weights=None,
        label_smoothing=0.0,
        consistency=0.0,
        has_missing=True,
    ):
        super().__init__()
        self.level_sizes = tuple(level_sizes)
        self.label_smoothing = label_smoothing
        self.consistency = consistency
        self.register_buffer("level_weights", as_buffer(level_weights, torch.float32))
        # What the training loss uses; a schedule callback may change it, while
        # the validation loss (early stopping) keeps the fixed level_weights.
        self.register_buffer("train_level_weights", self.level_weights.clone())
        for level, parent in enumerate(parents):
            self.register_buffer(f"parent_{level}", as_buffer(parent, torch.long))
        self.has_class_weights = class_weights is not None
        self.has_missing = has_missing
        for level, weights in enumerate(class_weights or []):
            self.register_buffer(
                f"class_weight_{level}", as_buffer(weights, torch.float32)
            )

    def forward(self, logits, codes, sample_weight=None, training=True):
        """Return ``(total_loss, per_level_losses)``.

        ``per_level_losses`` is the unweighted cross-entropy of each level,
        detached, for the training history. ``logits`` of shape
        ``(n_samples, n_members, n_logits)`` are an ensemble's: training
        averages the members' losses (each member learns on its own), the
        validation loss is the ensemble's, of the members' averaged
        probabilities (what early stopping should keep the best of).
        """
        logits = logits.float()  # bfloat16 under mixed precision: sum in float32
        if logits.dim() == 3 and training:
            # Each member a sample of its own: the mean over samples and
            # members is the mean of the members' losses.
            n_members = logits.shape[1]
            logits = logits.reshape(-1, logits.shape[2])
            codes = codes.repeat_interleave(n_members, dim=0)
            if sample_weight is not None:
                sample_weight = sample_weight.repeat_interleave(n_members, dim=0)
        level_logits = logits.split(self.level_sizes, dim=-1)
        targets = codes.clamp_min(0)
        weight = self._sample_level_weights(codes, targets, sample_weight)
        smoothing = self.label_smoothing if training else 0.0
        if logits.dim() == 3:  # the ensemble's validation loss
            per_sample = self._ensemble_cross_entropy(level_logits, targets)
        elif smoothing > 0:
            per_sample = self._smoothed_cross_entropy(level_logits, targets, smoothing)
        else:
            # torch's fused cross-entropy (log-softmax and pick in one kernel
            # each way): no (n_samples, n_classes) log-probabilities are kept.
            reduction = "mean" if weight is None else "none"
            losses = [
                F.cross_entropy(block, targets[:, level], reduction=reduction)
                for level, block in enumerate(level_logits)
            ]
            per_sample = torch.stack(losses, dim=-1)  # per level if "mean"
        if weight is None:
            per_level = per_sample if per_sample.dim() == 1 else per_sample.mean(dim=0)
        else:
            per_level = (per_sample * weight).sum(dim=0) / weight.sum(dim=0).clamp_min(
                1e-12
            )
        weights = self.train_level_weights if training else self.level_weights
        total = weights.dot(per_level)
        if training and self.consistency > 0:
            total = total + self.consistency * self._consistency_penalty(level_logits)
        return total, per_level.detach()

    @staticmethod
    def _smoothed_cross_entropy(level_logits, targets, smoothing):
        """(n_samples, n_levels) cross-entropies against (1 - s) one-hot + s uniform.

        Per level one log-softmax, then the target's log-probability and the
        mean log-probability, combined for all levels at once.
        """
        hits, means = [], []
        for level, block in enumerate(level_logits):
            log_proba = F.log_softmax(block, dim=1)
            hits.append(log_proba.gather(1, targets[:, level, None]))
            means.append(log_proba.mean(dim=1, keepdim=True))
        log_likelihood = torch.cat(hits, dim=1).mul_(1.0 - smoothing)
        return log_likelihood.add_(torch.cat(means, dim=1), alpha=smoothing).neg_()

    @staticmethod
    def _ensemble_cross_entropy(level_logits, targets):
        """(n_samples, n_levels) cross-entropies of the members' averaged
        probabilities: ``-log(mean_k p_k(target))`` per level, from blocks of
        shape ``(n_samples, n_members, n_classes)``."""
        log_members = math.log(level_logits[0].shape[1])
        losses = []
        for level, block in enumerate(level_logits):
            log_proba = F.log_softmax(block, dim=-1).logsumexp(dim=1) - log_members
            losses.append(log_proba.gather(1, targets[:, level, None]))
        return torch.cat(losses, dim=1).neg_()

    def _sample_level_weights(self, codes, targets, sample_weight):
        """Weight of each (sample, level) term; None when all weigh 1."""
        if sample_weight is None and not (self.has_class_weights or self.has_missing):
            return None
        weight = (codes >= 0).float()
        if sample_weight is not None:
            weight = weight * sample_weight[:, None]
        if self.has_class_weights:
            weight = weight * torch.stack(
                [
                    getattr(self, f"class_weight_{level}")[targets[:, level]]
                    for level in range(codes.shape[1])
                ],
                dim=1,
            )
        return weight

    def _consistency_penalty(self, level_logits):
        """Mean squared gap between coarse probabilities and summed children."""
        probas = [lg.softmax(dim=1) for lg in level_logits]
        penalty = 0.0
        for level in range(len(probas) - 1):
            parent = getattr(self, f"parent_{level}")
            summed = torch.zeros_like(probas[level]).index_add_(
                1, parent, probas[level + 1]
            )
            penalty = penalty + (probas[level] - summed).pow(2).sum(dim=1).mean()
        return penalty
