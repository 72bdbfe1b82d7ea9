"""The multi-level training loss: weighted cross-entropy per level plus a
coarse/fine consistency penalty."""

import torch
import torch.nn.functional as F
from torch import nn

from ._module import as_buffer


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
        weights apply, each level uses the plain fused cross-entropy.

    Notes
    -----
    Missing labels (code -1) and sample weights are handled by weighting each
    sample's cross-entropy; each level's loss is the weighted mean over the
    samples labelled at that level.
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
        detached, for the training history.
        """
        per_level = []
        level_logits = logits.split(self.level_sizes, dim=1)
        smoothing = self.label_smoothing if training else 0.0
        plain = sample_weight is None and not self.has_class_weights
        for level, level_logit in enumerate(level_logits):
            target = codes[:, level]
            if plain and not self.has_missing:
                # Every sample counts once: the fused mean cross-entropy.
                per_level.append(
                    F.cross_entropy(level_logit, target, label_smoothing=smoothing)
                )
                continue
            labelled = (target >= 0).to(logits.dtype)
            if sample_weight is not None:
                labelled = labelled * sample_weight
            if self.has_class_weights:
                class_weight = getattr(self, f"class_weight_{level}")
                labelled = labelled * class_weight[target.clamp_min(0)]
            entropy = F.cross_entropy(
                level_logit,
                target.clamp_min(0),
                reduction="none",
                label_smoothing=smoothing,
            )
            per_level.append(
                (entropy * labelled).sum() / labelled.sum().clamp_min(1e-12)
            )
        per_level = torch.stack(per_level)
        weights = self.train_level_weights if training else self.level_weights
        total = weights.dot(per_level)
        if training and self.consistency > 0:
            total = total + self.consistency * self._consistency_penalty(level_logits)
        return total, per_level.detach()

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
