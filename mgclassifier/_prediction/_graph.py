"""The whole prediction of a fitted estimator as one torch module, for export.

:class:`PredictionGraph` runs the fitted network and then the prediction
engine that ``predict_proba`` and ``predict`` use (``_engine``):
coarse votes, the calibration temperature, the softmax over root-to-leaf
paths, child sums up the tree and, where a label sits under several
parents, the sum over its nodes. ``mgclassifier.onnx`` exports it.
"""

import copy

import torch
from torch import nn

from ._engine import PredictionEngine


class PredictionGraph(nn.Module):
    """A fitted network followed by path decoding and coherent probabilities.

    ``forward(X)`` returns the index of the most probable root-to-leaf path
    of each row (int64, a row of ``hierarchy.paths``) and one float32 tensor
    of probabilities per level, columns in ``hierarchy.classes[l]`` order.

    Parameters
    ----------
    network : torch.nn.Module
        The fitted module (``net_.module_``); a float32 CPU copy in eval mode
        is kept, so the estimator's own module is never touched.
    hierarchy : LabelHierarchy
    coarse_weight : float
        ``coarse_decoding_weight``.
    temperature : float
        ``temperature_``.
    votes : NeighborVotes or None, default=None
        The training rows' votes (``n_neighbors > 0``), blended into the path
        scores as ``predict_proba`` does; their search is recorded as torch
        operations (:meth:`NeighborVotes.traceable`).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from mgclassifier import LabelHierarchy
    >>> tree, _ = LabelHierarchy.from_labels(
    ...     np.array([["a", "a1"], ["a", "a2"], ["b", "b1"]]))
    >>> network = torch.nn.Linear(4, 5)  # 2 coarse + 3 fine logits
    >>> leaf, coarse, fine = PredictionGraph(network, tree, 0.25, 1.0)(
    ...     torch.zeros(2, 4))
    >>> leaf.shape, coarse.shape, fine.shape
    (torch.Size([2]), torch.Size([2, 2]), torch.Size([2, 3]))
    >>> torch.allclose(coarse.sum(1), torch.ones(2))
    True
    """

    def __init__(self, network, hierarchy, coarse_weight, temperature, votes=None):
        super().__init__()
        self.network = copy.deepcopy(network).to("cpu", torch.float32).eval()
        self.engine = PredictionEngine(hierarchy, coarse_weight, temperature)
        self.votes = None if votes is None else votes.traceable()
        self.eval()

    def forward(self, X):
        if self.votes is None:
            return self.engine(self.network(X))
        features, logits = self._features_and_logits(X)
        scores = self.engine.path_scores(logits[..., self.engine.scored_columns])
        self.votes.blend(scores, features, self.engine.temperature)
        return self.engine.decode(scores)

    def _features_and_logits(self, X):
        """The rows' learned features (an ensemble's per member) and the
        network's logits, the trunk run once where the heads are one layer."""
        network, heads = self.network, getattr(self.network, "fused_heads", None)
        features = network.features(X)
        logits = network(X) if heads is None else heads(features)
        return features, logits
