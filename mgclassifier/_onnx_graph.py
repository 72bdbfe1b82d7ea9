"""The whole prediction of a fitted estimator as one torch module, for export.

:class:`PredictionGraph` runs the fitted network and then the maths of
``predict_proba`` and ``predict`` in torch ops (the twins in
``_device_prediction`` that GPU prediction uses): coarse votes added to the
leaf logits, division by the calibration temperature, softmax over the
root-to-leaf paths, child sums up the tree and, where a label sits under
several parents, the sum over its nodes. ``mgclassifier.onnx`` exports it.
"""

import copy

import numpy as np
import torch
from torch import nn

from . import _device_prediction


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

    def __init__(self, network, hierarchy, coarse_weight, temperature):
        super().__init__()
        self.network = copy.deepcopy(network).to("cpu", torch.float32).eval()
        self.level_sizes = tuple(int(n) for n in hierarchy.n_classes)
        self.coarse_weight = float(coarse_weight)
        self.inverse_temperature = 1.0 / float(temperature)
        self.register_buffer("paths", _index(hierarchy.paths))
        # One buffer per level (buffers are named), read back in order.
        for level, parent in enumerate(hierarchy.parents):
            self.register_buffer(f"parents_{level}", _index(parent))
        # Where a label repeats, the node -> label map its column sums over.
        self.label_sums = {}
        for level, classes in enumerate(hierarchy.classes):
            if hierarchy._repeated[level]:  # as LabelHierarchy.label_proba sums
                index = hierarchy.label_index[level]
                self.register_buffer(f"label_index_{level}", _index(index))
                self.label_sums[level] = len(classes)
        self.eval()

    def forward(self, X):
        logits = self.network(X)
        paths = self.paths if self.coarse_weight else None
        scores = _device_prediction.path_logits(
            logits, self.level_sizes, paths, self.coarse_weight
        )
        leaf = scores.argmax(dim=1)
        leaf_proba = torch.softmax(scores * self.inverse_temperature, dim=1)
        parents = [
            getattr(self, f"parents_{level}")
            for level in range(len(self.level_sizes) - 1)
        ]
        probas = _device_prediction.level_proba(leaf_proba, parents, self.level_sizes)
        for level, n_labels in self.label_sums.items():
            index = getattr(self, f"label_index_{level}")
            summed = probas[level].new_zeros((probas[level].shape[0], n_labels))
            probas[level] = summed.index_add(1, index, probas[level])
        return (leaf, *probas)


def _index(array):
    return torch.as_tensor(np.asarray(array), dtype=torch.int64)
