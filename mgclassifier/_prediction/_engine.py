"""The prediction maths, once: from a network's logits to path scores, the
best path, and node and label probabilities.

A root-to-leaf path is scored by the finest head's logit of its leaf plus
``coarse_weight`` times the logits of its ancestors. That is the finest
head's log-softmax plus ``coarse_weight`` times the coarse heads'
log-softmaxes, up to one number per row (each level's log-normaliser), which
cancels in the softmax over paths and does not move the argmax. A node has
one parent, so the coarse votes are summed level by level: each node adds its
own vote to its parent's running sum (one gather per level, the last one as
wide as the leaves), and the best path is the argmax over the leaves, exact
and without any array wider than one level. The scores are linear in the
logits, so for a network whose heads are one linear layer the sums can be
folded into that layer (:meth:`PredictionEngine.fold`): the scores are then
one matrix product of the features. Path probabilities are the softmax of
the scores divided by the calibration temperature; a node's probability is
the sum of its children's, and a label under several parents sums its nodes.

:class:`PredictionEngine` is that maths as a torch module. Prediction on
every device and call size (``_predict``), the temperature fit
(``_calibration``), the threshold of ``target_accuracy`` and the ONNX graph
(``_graph``) all use it. Scores are read along their last axis, so a
leading axis of ensemble members passes through :meth:`path_scores`,
:meth:`fold` and the softmax unchanged: the scores of an ensemble's members, of shape
``(n_samples, n_members, n_leaves)``, give each member's path probabilities,
which :meth:`path_proba` averages (the members vote with probabilities, not
scores), before :meth:`node_proba` sums them up the tree.
"""

import math

import numpy as np
import torch
from torch import nn


class PredictionEngine(nn.Module):
    """The prediction maths of one label tree, as a torch module.

    The tree's index arrays are buffers (moved with ``to``). ``forward(logits)``
    returns the best path of each row (int64, an index into ``paths``) and
    each level's label probabilities; the other methods are its steps, which
    chunked prediction calls one by one to write into its own buffers.

    Parameters
    ----------
    hierarchy : LabelHierarchy
    coarse_weight : float, default=0.0
        ``coarse_decoding_weight``: the weight of the coarse heads' votes.
    temperature : float, default=1.0
        The calibration temperature dividing the path scores.

    Attributes
    ----------
    node_counts : tuple of int
        Nodes of each level (the width of its head), coarse to fine.
    label_counts : tuple of int
        Distinct labels of each level.
    scored_sizes : tuple of int
        The levels whose logits score a path: all of them with coarse
        votes, else just the finest.
    paths : ndarray of int64 of shape (n_leaves, n_levels)
        Each leaf's node at every level (also a buffer, ``path_nodes``, for
        the torch steps).

    Examples
    --------
    >>> import torch
    >>> from mgclassifier import LabelHierarchy
    >>> tree, _ = LabelHierarchy.from_labels([["a", "x"], ["a", "y"], ["b", "z"]])
    >>> engine = PredictionEngine(tree, coarse_weight=0.5)
    >>> logits = torch.tensor([[1.0, 0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    >>> engine.path_scores(logits)  # 2 coarse logits, 3 fine: 3 paths
    tensor([[0.5000, 0.5000, 0.0000]], dtype=torch.float64)
    >>> nodes = engine.node_proba(engine.path_proba(engine.path_scores(logits)))
    >>> [p.numpy().round(3).tolist() for p in nodes]
    [[[0.767, 0.233]], [[0.384, 0.384, 0.233]]]
    >>> leaf, coarse, fine = engine(torch.tensor([[1.0, 0.0, 0.0, 0.0, 2.0]]))
    >>> leaf.tolist(), [round(p, 3) for p in coarse[0].tolist()]
    ([2], [0.309, 0.691])
    """

    def __init__(self, hierarchy, coarse_weight=0.0, temperature=1.0):
        super().__init__()
        self.coarse_weight = float(coarse_weight)
        self.temperature = float(temperature)
        self.node_counts = tuple(int(n) for n in hierarchy.n_nodes)
        self.label_counts = tuple(len(c) for c in hierarchy.classes)
        votes = self.coarse_weight != 0 and len(self.node_counts) > 1
        self.scored_sizes = self.node_counts if votes else self.node_counts[-1:]
        self.paths = _int64(hierarchy.paths)
        # Buffers are named: one per level, read back in order.
        self._parent_index = [_int64(parent) for parent in hierarchy.parents]
        self._parent_names = [
            f"parents_{level}" for level in range(len(self._parent_index))
        ]
        for name, parent in zip(self._parent_names, self._parent_index):
            self.register_buffer(name, torch.as_tensor(parent))
        self.register_buffer("path_nodes", torch.as_tensor(self.paths))
        self._label_index = {
            level: _int64(index)
            for level, index in enumerate(hierarchy.label_index)
            if hierarchy._repeated[level]
        }
        for level, index in self._label_index.items():
            self.register_buffer(f"label_index_{level}", torch.as_tensor(index))
        # The CPU kernel of a group sum, by key: (order or None when the
        # columns are already sorted by group, start of each group).
        self._runs = {}

    @property
    def scored_columns(self):
        """The columns of the concatenated logits that score a path."""
        return slice(-sum(self.scored_sizes), None)

    @property
    def repeated_levels(self):
        """The levels where a label sits under several parents."""
        return tuple(self._label_index)

    def _parents(self):
        # From the buffers' dict: a module's __getattr__ is slow.
        return [self._buffers[name] for name in self._parent_names]

    def path_scores(self, logits, out=None):
        """Score of every root-to-leaf path (unnormalised).

        Parameters
        ----------
        logits : tensor of shape (..., n_logits)
            The concatenated logits, or just their ``scored_columns``.
        out : tensor of shape (..., n_leaves), default=None
            Where to write the scores (a new tensor if None).

        Returns
        -------
        tensor of shape (..., n_leaves)
        """
        blocks = _blocks(logits, self.scored_sizes)
        if len(blocks) == 1:
            return blocks[0].clone() if out is None else out.copy_(blocks[0])
        parents = self._parents()
        running = blocks[0] * self.coarse_weight
        for parent, block in zip(parents, blocks[1:-1]):
            running = running.index_select(-1, parent).add_(
                block, alpha=self.coarse_weight
            )
        if out is None:
            scores = running.index_select(-1, parents[-1])
        else:
            scores = torch.index_select(running, -1, parents[-1], out=out)
        return scores.add_(blocks[-1])

    def fold(self, weight, bias):
        """The heads with the coarse votes folded in: ``(weight, bias)`` of the
        path scores as an affine map of the features the heads read.

        A path's score is a fixed sum of logits, and logits are an affine
        map of the features (``features @ weight + bias``, ``weight`` of
        shape ``(n_features, n_logits)``), so the path scores are one too:
        ``path_scores(weight)`` and ``path_scores(bias)``. One matrix product
        as wide as the leaves then gives the scores, with no coarse logits
        and no gather.

        An ensemble's heads, ``weight`` of shape ``(n_members, n_features,
        n_logits)`` and ``bias`` of ``(n_members, n_logits)``, fold member by
        member.

        Returns
        -------
        weight : tensor of shape ([n_members,] n_features, n_leaves), contiguous
        bias : tensor of shape ([n_members,] n_leaves)
        """
        columns = self.scored_columns
        with torch.inference_mode(False), torch.no_grad():
            folded_weight = self.path_scores(weight.detach()[..., columns]).contiguous()
            folded_bias = self.path_scores(bias.detach()[..., columns])
        return folded_weight, folded_bias

    def path_proba(self, scores, in_place=False):
        """Softmax of ``scores / temperature`` over the paths.

        ``scores`` is divided by the temperature in place. torch's fused
        softmax reads the scores twice where in-place steps would take five
        passes. ``in_place``: write the result over ``scores`` (each row is
        read whole before it is written), else into a new tensor. An
        ensemble's scores ``(n_samples, n_members, n_leaves)`` give the mean
        of the members' probabilities, ``(n_samples, n_leaves)``.
        """
        if self.temperature != 1.0:
            scores.mul_(1.0 / self.temperature)
        if in_place:
            proba = torch.softmax(scores, dim=-1, out=scores)
        else:
            proba = torch.softmax(scores, dim=-1)
        return proba.mean(dim=-2) if proba.dim() == 3 else proba

    def path_log_proba(self, scores, temperature):
        """Log of the path probabilities at ``temperature`` (the temperature
        fit's): a log-softmax, of the members' mean for an ensemble."""
        log_proba = torch.log_softmax(scores / temperature, dim=-1)
        if log_proba.dim() == 3:
            return log_proba.logsumexp(dim=-2) - math.log(log_proba.shape[-2])
        return log_proba

    def best_leaf(self, scores):
        """The most probable path of each row: the argmax of the scores, or
        of an ensemble's averaged probabilities (its members' scores are
        not on one scale)."""
        if scores.dim() == 3:
            return self.path_proba(scores.clone()).argmax(dim=-1)
        return scores.argmax(dim=-1)

    def node_proba(self, path_proba, cpu_kernels=True):
        """Probability of every node of every level (list, coarse to fine),
        the last one ``path_proba`` itself.

        ``cpu_kernels``: on the CPU, let numpy sum children that are stored
        next to each other (not traceable: ``forward`` turns it off).
        """
        probas = [path_proba]
        parents = self._parents()
        for level in range(len(parents) - 1, -1, -1):
            key, size = ("parent", level), self.node_counts[level]
            sums = self._group_sum(key, parents[level], size, probas[0], cpu_kernels)
            probas.insert(0, sums)
        return probas

    def label_proba(self, node_proba, cpu_kernels=True):
        """Sum the nodes of each label: columns in ``classes`` order.

        Levels where no label repeats are returned as they are.
        """
        return [
            self._group_sum(
                ("label", level),
                self._buffers[f"label_index_{level}"],
                self.label_counts[level],
                proba,
                cpu_kernels,
            )
            if level in self._label_index
            else proba
            for level, proba in enumerate(node_proba)
        ]

    def prefix_proba(self, node_proba, leaf):
        """Probability of the node at each level of the path to ``leaf``.

        Returns
        -------
        tensor of shape (n_samples, n_levels)
        """
        nodes = self.path_nodes.index_select(0, leaf)
        return torch.stack(
            [
                proba.gather(1, nodes[:, level : level + 1])[:, 0]
                for level, proba in enumerate(node_proba)
            ],
            dim=1,
        )

    def forward(self, logits):
        return self.decode(self.path_scores(logits))

    def decode(self, scores):
        """``forward`` from the path scores on: the best path of each row and
        each level's label probabilities (``scores`` is divided by the
        temperature in place)."""
        leaf = self.best_leaf(scores)
        nodes = self.node_proba(self.path_proba(scores), cpu_kernels=False)
        probas = self.label_proba(nodes, cpu_kernels=False)
        return (leaf, *probas)

    def _group_sum(self, key, index, n_groups, values, cpu_kernels):
        """``out[:, g]`` = sum of the columns ``j`` of ``values`` with
        ``index[j] == g``."""
        if cpu_kernels and values.is_cpu:
            order, starts = self._runs.get(key) or self._run_starts(key)
            if order is None:
                # Groups stored in runs: numpy's add.reduceat sums each run in
                # registers, where index_add_ adds one column at a time into
                # the same output column, several times slower.
                return torch.from_numpy(np.add.reduceat(values.numpy(), starts, axis=1))
        out = values.new_zeros((values.shape[0], n_groups))
        return out.index_add_(1, index, values)

    def _run_starts(self, key):
        """``(order, starts)`` of a group sum: ``order`` sorts the columns by
        group (None when they already are), ``starts`` is where each group
        begins. ``key``: ``("parent", level)`` or ``("label", level)``."""
        if key not in self._runs:
            kind, level = key
            index = (
                self._parent_index[level]
                if kind == "parent"
                else self._label_index[level]
            )
            order = np.argsort(index, kind="stable")
            starts = np.concatenate([[0], np.cumsum(np.bincount(index))[:-1]])
            in_order = np.array_equal(order, np.arange(len(order)))
            self._runs[key] = (None if in_order else order, starts)
        return self._runs[key]


def _blocks(logits, sizes):
    """Each level's block of ``logits`` (last axis), counted from the last column."""
    start = logits.shape[-1] - sum(sizes)
    blocks = []
    for size in sizes:
        blocks.append(logits[..., start : start + size])
        start += size
    return blocks


def _int64(array):
    return np.asarray(array, dtype=np.int64)
