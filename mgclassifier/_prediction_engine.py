"""The prediction engine: from a network's logits to path scores, the best
path, and node and label probabilities.

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
folded into that layer once (``PredictionEngine.fold_heads``): the scores
are then one matrix product of the features. Path probabilities are the
softmax of the scores divided by the calibration temperature; a node's
probability is the sum of its children's, and a label under several parents
sums its nodes.

:class:`PredictionEngine` is that maths as a torch module: prediction on
large inputs and on accelerators, the temperature fit (``_calibration``) and
the ONNX graph (``_onnx_graph``) use it. :class:`NumpyPredictionEngine` is
its numpy twin, for the small CPU calls where waking torch's thread pool
would cost more than the maths; tests hold the two equal.
"""

import numpy as np
import torch
from torch import nn


class NumpyPredictionEngine:
    """The prediction maths in numpy, and the index arrays both engines use.

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
    parents : list of ndarray of int64
        ``parents[l][j]``: the parent (a node of level ``l``) of node ``j``
        of level ``l + 1``.
    paths : ndarray of int64 of shape (n_leaves, n_levels)
        Each leaf's node at every level.
    label_index : dict of int to ndarray of int64
        For the levels where a label sits under several parents, each
        node's label.

    Examples
    --------
    >>> import numpy as np
    >>> from mgclassifier import LabelHierarchy
    >>> tree, _ = LabelHierarchy.from_labels([["a", "x"], ["a", "y"], ["b", "z"]])
    >>> engine = NumpyPredictionEngine(tree, coarse_weight=0.5)
    >>> logits = np.array([[1.0, 0.0, 0.0, 0.0, 0.0]])  # 2 coarse, 3 fine
    >>> engine.path_scores(logits)
    array([[0.5, 0.5, 0. ]])
    >>> [p.round(3).tolist() for p in engine.node_proba(engine.path_proba(
    ...     engine.path_scores(logits)))]
    [[[0.767, 0.233]], [[0.384, 0.384, 0.233]]]
    """

    def __init__(self, hierarchy, coarse_weight=0.0, temperature=1.0):
        self.coarse_weight = float(coarse_weight)
        self.temperature = float(temperature)
        self.node_counts = tuple(int(n) for n in hierarchy.n_nodes)
        self.label_counts = tuple(len(c) for c in hierarchy.classes)
        votes = self.coarse_weight != 0 and len(self.node_counts) > 1
        self.scored_sizes = self.node_counts if votes else self.node_counts[-1:]
        self.parents = [_int64(parent) for parent in hierarchy.parents]
        self.paths = _int64(hierarchy.paths)
        self.label_index = {
            level: _int64(index)
            for level, index in enumerate(hierarchy.label_index)
            if hierarchy._repeated[level]
        }
        # numpy sums a group of columns with add.reduceat over columns sorted
        # by group: (order or None when already sorted, start of each group).
        self._groups = {}
        # (weight, bias) of the heads with the coarse votes folded in, set by
        # PredictionEngine.fold_heads; None: scores come from the logits.
        self.folded = None

    @property
    def scored_columns(self):
        """The columns of the concatenated logits that score a path."""
        return slice(-sum(self.scored_sizes), None)

    def path_scores(self, logits):
        """Score of every root-to-leaf path (unnormalised), a new array.

        Parameters
        ----------
        logits : ndarray of shape (n_samples, n_logits)
            The concatenated logits, or just their ``scored_columns``.

        Returns
        -------
        ndarray of shape (n_samples, n_leaves)
        """
        blocks = _blocks(logits, self.scored_sizes)
        if len(blocks) == 1:
            return blocks[0].copy()
        running = blocks[0] * self.coarse_weight
        for parent, block in zip(self.parents, blocks[1:-1]):
            running = np.take(running, parent, axis=1)
            running += self.coarse_weight * block
        scores = np.take(running, self.parents[-1], axis=1)
        scores += blocks[-1]
        return scores

    def folded_scores(self, features, out=None):
        """:meth:`path_scores` of the heads' logits, from the features they
        read, in one matrix product (see ``PredictionEngine.fold_heads``),
        written into ``out`` if given."""
        weight, bias = self.folded
        scores = np.matmul(features, weight, out=out)
        scores += bias
        return scores

    def path_proba(self, scores):
        """Softmax of ``scores / temperature`` over the paths.

        Computed in place: ``scores`` is overwritten, and returned.
        """
        if self.temperature != 1.0:
            scores *= 1.0 / self.temperature
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        return scores

    def node_proba(self, path_proba):
        """Probability of every node of every level: sums up the tree.

        Parameters
        ----------
        path_proba : ndarray of shape (n_samples, n_leaves)

        Returns
        -------
        list of ndarray of shape (n_samples, n_nodes_l)
            Coarse to fine, the last one ``path_proba`` itself.
        """
        probas = [path_proba]
        for level in range(len(self.parents) - 1, -1, -1):
            probas.insert(0, self._group_sum(("parent", level), probas[0]))
        return probas

    def label_proba(self, node_proba):
        """Sum the nodes of each label: columns in ``classes`` order.

        Levels where no label repeats are returned as they are.
        """
        return [
            self._group_sum(("label", level), proba)
            if level in self.label_index
            else proba
            for level, proba in enumerate(node_proba)
        ]

    def prefix_proba(self, node_proba, leaf):
        """Probability of the node at each level of the path to ``leaf``.

        Returns
        -------
        ndarray of shape (n_samples, n_levels)
        """
        rows = np.arange(len(leaf))
        nodes = self.paths[leaf]
        return np.column_stack(
            [proba[rows, nodes[:, level]] for level, proba in enumerate(node_proba)]
        )

    def _group(self, key):
        """``(order, starts)`` of a group sum: ``order`` sorts the columns by
        group (None when they already are), ``starts`` is where each group
        begins. ``key``: ``("parent", level)`` or ``("label", level)``."""
        if key not in self._groups:
            kind, level = key
            index = self.parents[level] if kind == "parent" else self.label_index[level]
            order = np.argsort(index, kind="stable")
            counts = np.bincount(index)
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            in_order = np.array_equal(order, np.arange(len(order)))
            self._groups[key] = (None if in_order else order, starts)
        return self._groups[key]

    def _group_sum(self, key, values):
        order, starts = self._group(key)
        if order is not None:
            values = np.take(values, order, axis=1)
        return np.add.reduceat(values, starts, axis=1)


class PredictionEngine(nn.Module):
    """The prediction maths as a torch module (twin of
    :class:`NumpyPredictionEngine`, whose index arrays it holds as buffers).

    ``forward(logits)`` returns the best path of each row (int64, an index
    into ``paths``) and each level's label probabilities; the other methods
    are its steps, which the chunked prediction calls one by one to write
    into its own buffers.

    Parameters
    ----------
    hierarchy : LabelHierarchy
    coarse_weight : float, default=0.0
    temperature : float, default=1.0

    Examples
    --------
    >>> import torch
    >>> from mgclassifier import LabelHierarchy
    >>> tree, _ = LabelHierarchy.from_labels([["a", "x"], ["a", "y"], ["b", "z"]])
    >>> engine = PredictionEngine(tree, coarse_weight=0.5)
    >>> leaf, coarse, fine = engine(torch.tensor([[1.0, 0.0, 0.0, 0.0, 2.0]]))
    >>> leaf.tolist(), [round(p, 3) for p in coarse[0].tolist()]
    ([2], [0.309, 0.691])
    """

    def __init__(self, hierarchy, coarse_weight=0.0, temperature=1.0):
        super().__init__()
        self.twin = NumpyPredictionEngine(hierarchy, coarse_weight, temperature)
        # Buffers are named: one per level, read back in order.
        for level, parent in enumerate(self.twin.parents):
            self.register_buffer(f"parents_{level}", torch.as_tensor(parent))
        self.register_buffer("paths", torch.as_tensor(self.twin.paths))
        for level, index in self.twin.label_index.items():
            self.register_buffer(f"label_index_{level}", torch.as_tensor(index))
        self.register_buffer("folded_weight", None)
        self.register_buffer("folded_bias", None)

    @property
    def temperature(self):
        """The calibration temperature (shared with the numpy twin)."""
        return self.twin.temperature

    @temperature.setter
    def temperature(self, value):
        self.twin.temperature = float(value)

    @property
    def coarse_weight(self):
        """The weight of the coarse heads' votes (``coarse_decoding_weight``)."""
        return self.twin.coarse_weight

    @property
    def scored_columns(self):
        """The columns of the concatenated logits that score a path."""
        return self.twin.scored_columns

    def _parents(self):
        return [
            getattr(self, f"parents_{level}") for level in range(len(self.twin.parents))
        ]

    def path_scores(self, logits, out=None):
        """Score of every root-to-leaf path (unnormalised).

        Parameters
        ----------
        logits : tensor of shape (n_samples, n_logits)
            The concatenated logits, or just their ``scored_columns``.
        out : tensor of shape (n_samples, n_leaves), default=None
            Where to write the scores (a new tensor if None).

        Returns
        -------
        tensor of shape (n_samples, n_leaves)
        """
        blocks = _blocks(logits, self.twin.scored_sizes)
        if len(blocks) == 1:
            return blocks[0].clone() if out is None else out.copy_(blocks[0])
        parents = self._parents()
        running = blocks[0] * self.coarse_weight
        for parent, block in zip(parents, blocks[1:-1]):
            running = running.index_select(1, parent).add_(
                block, alpha=self.coarse_weight
            )
        if out is None:
            scores = running.index_select(1, parents[-1])
        else:
            scores = torch.index_select(running, 1, parents[-1], out=out)
        return scores.add_(blocks[-1])

    def fold_heads(self, heads):
        """Fold the coarse votes into the network's fused heads.

        A path's score is a fixed sum of logits, and logits are an affine
        map of the features the heads read, so the path scores are one too:
        ``features @ W + b`` with ``W = path_scores(heads.weight.T)`` and
        ``b = path_scores(heads.bias)``. One matrix product as wide as the
        leaves then gives the scores, with no coarse logits and no gather (on
        20,000 leaves a sixth of ``predict_proba``'s time). Call it on the
        device of ``heads``, after ``to``; it keeps no reference to them.

        Parameters
        ----------
        heads : torch.nn.Linear
            The heads of every level in one layer (``fused_heads``), its
            outputs the concatenated logits.
        """
        with torch.inference_mode(False), torch.no_grad():
            columns = self.scored_columns
            weight = heads.weight.detach()[columns].t()
            self.folded_weight = self.path_scores(weight).contiguous()
            self.folded_bias = self.path_scores(heads.bias.detach()[None, columns])[0]
        on_cpu = self.folded_weight.device.type == "cpu"
        self.twin.folded = (
            (self.folded_weight.numpy(), self.folded_bias.numpy()) if on_cpu else None
        )

    @property
    def folded(self):
        """Whether :meth:`fold_heads` was called: path scores from features."""
        return self.folded_weight is not None

    def folded_scores(self, features, out=None, numpy_blas=False):
        """:meth:`path_scores` of the heads' logits from the features they
        read, written into ``out`` if given (see :meth:`fold_heads`).

        ``numpy_blas``: multiply with numpy's BLAS (CPU tensors only): a
        fifth faster than torch's on the CPUs measured, and a third on a
        sparse ``predict_proba`` on one thread. For features that torch
        computed on several threads the product stays in torch's pool:
        handing it to numpy's while torch's threads still spun doubled the
        time of that ``predict_proba`` on two cores.
        """
        features = features.to(self.folded_weight.dtype)
        if numpy_blas and out is not None:
            self.twin.folded_scores(features.numpy(), out=out.numpy())
            return out
        return torch.addmm(self.folded_bias, features, self.folded_weight, out=out)

    def path_log_proba(self, scores, temperature):
        """Log-softmax of ``scores / temperature`` (the temperature fit's)."""
        return torch.log_softmax(scores / temperature, dim=1)

    def path_proba(self, scores, in_place=False):
        """Softmax of ``scores / temperature`` over the paths.

        ``scores`` is divided by the temperature in place. torch's fused
        softmax reads the scores twice where in-place steps would take five
        passes. ``in_place``: write the result over ``scores`` (each row is
        read whole before it is written), else into a new tensor.
        """
        if self.temperature != 1.0:
            scores.mul_(1.0 / self.temperature)
        if in_place:
            return torch.softmax(scores, dim=1, out=scores)
        return torch.softmax(scores, dim=1)

    def node_proba(self, path_proba, host_sums=True):
        """Probability of every node of every level (list, coarse to fine).

        ``host_sums``: on the CPU, let numpy sum children that are stored
        next to each other (not traceable: ``forward`` turns it off).
        """
        probas = [path_proba]
        for level, parent in reversed(list(enumerate(self._parents()))):
            key, size = ("parent", level), self.twin.node_counts[level]
            probas.insert(0, self._group_sum(key, parent, size, probas[0], host_sums))
        return probas

    def label_proba(self, node_proba, host_sums=True):
        """Sum the nodes of each label: columns in ``classes`` order."""
        return [
            self._group_sum(
                ("label", level),
                getattr(self, f"label_index_{level}"),
                self.twin.label_counts[level],
                proba,
                host_sums,
            )
            if level in self.twin.label_index
            else proba
            for level, proba in enumerate(node_proba)
        ]

    def _group_sum(self, key, index, n_groups, values, host_sums):
        """``out[:, g]`` = sum of the columns ``j`` of ``values`` with
        ``index[j] == g``."""
        if (
            host_sums
            and values.device.type == "cpu"
            and self.twin._group(key)[0] is None
        ):
            # Groups stored in runs: numpy's add.reduceat sums each run in
            # registers, where index_add_ adds one column at a time into the
            # same output column, several times slower.
            return torch.from_numpy(self.twin._group_sum(key, np.asarray(values)))
        out = values.new_zeros((values.shape[0], n_groups))
        return out.index_add_(1, index, values)

    def prefix_proba(self, node_proba, leaf):
        """Probability of the node at each level of the path to ``leaf``."""
        nodes = self.paths.index_select(0, leaf)
        return torch.stack(
            [
                proba.gather(1, nodes[:, level : level + 1])[:, 0]
                for level, proba in enumerate(node_proba)
            ],
            dim=1,
        )

    def forward(self, logits):
        scores = self.path_scores(logits)
        leaf = scores.argmax(dim=1)
        nodes = self.node_proba(self.path_proba(scores), host_sums=False)
        probas = self.label_proba(nodes, host_sums=False)
        return (leaf, *probas)


def _blocks(logits, sizes):
    """Each level's block of ``logits``, counted from the last column."""
    start = logits.shape[1] - sum(sizes)
    blocks = []
    for size in sizes:
        blocks.append(logits[:, start : start + size])
        start += size
    return blocks


def _int64(array):
    return np.asarray(array, dtype=np.int64)
