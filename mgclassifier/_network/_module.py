"""The torch network: a shared trunk and one linear head per level.

The module knows nothing of labels: it maps features to one block of logits
per level, concatenated along the last axis. The built-in trunk is an MLP
(:class:`MultiHeadMLP`); :class:`TrunkWithHeads` puts the heads on any other
torch module. Their ``forward`` and ``features`` take an optional ``linear``
kernel: how a linear layer's product is computed (prediction on the CPU
passes numpy's BLAS; None is the layer's own torch product).
"""

import copy
import inspect
import math

import numpy as np
import tabm
import torch
import torch.nn.functional as F
from torch import nn

from .._devices import cuda_devices
from ._embeddings import EMBEDDING_SIZE, numeric_embeddings_layer
from ._grouped_dropout import grouped_dropout_heads
from ._kept_gradients import gradients_must_pass_autograd, kept_gradients_of
from ._tensors import as_buffer

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "gelu": nn.GELU,
}


class FastDropout(nn.Module):
    """Inverted dropout whose CPU masks are windows of a pool of random masks.

    ``torch.nn.Dropout`` draws one Bernoulli variate per element from the
    CPU's Mersenne Twister; drawing and converting a mask cost about a fifth
    of a default training step on the CPU. Here the masks, already scaled by
    ``1 / (1 - p)``, are drawn :data:`POOL_MASKS` batches' worth at a time
    (16-bit uniforms: probability resolution 1/65536) and redrawn after
    :data:`POOL_CALLS` calls or when the layer switches to evaluation (every
    epoch of a fit with early stopping); each call multiplies by a window of
    the pool at a random offset. Every element of one call's mask is an
    independent draw; two calls' windows are the pool at random shifts, so a
    sample meets the same pattern of dropped units only by chance, as with
    fresh draws. On other devices it is ``torch.nn.functional.dropout``.

    Parameters
    ----------
    p : float
        Probability of zeroing an element, in [0, 1).

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> out = FastDropout(0.5)(torch.ones(4, 1000))
    >>> sorted(out.unique().tolist()), round(float((out == 0).float().mean()), 1)
    ([0.0, 2.0], 0.5)
    """

    def __init__(self, p):
        super().__init__()
        self.p = float(p)
        self._pool, self._calls_left = None, 0

    def extra_repr(self):
        return f"p={self.p}"

    def train(self, mode=True):
        if not mode:
            self._pool = None  # the next training call draws anew
        return super().train(mode)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_pool"], state["_calls_left"] = None, 0
        return state

    def forward(self, h):
        if not self.training or self.p == 0:
            return h
        if h.device.type != "cpu":
            return F.dropout(h, self.p, training=True)
        n = h.numel()
        pool = self._pool
        if (
            self._calls_left == 0
            or pool is None
            or pool.dtype != h.dtype
            or len(pool) < POOL_MASKS * n
        ):
            pool = self._pool = self._draw(POOL_MASKS * n, h.dtype)
            self._calls_left = POOL_CALLS
        self._calls_left -= 1
        start = int(torch.randint(len(pool) - n + 1, ()))
        return h * pool[start : start + n].view_as(h)

    def _draw(self, size, dtype):
        """``size`` independent mask values: 0 or ``1 / (1 - p)``."""
        bits = torch.empty((size + 3) // 4, dtype=torch.int64)
        bits = bits.random_(-(2**63), 2**63 - 1).view(torch.int16)[:size]
        keep = bits >= round(self.p * 65536) - 32768
        return keep.to(dtype).mul_(1.0 / (1.0 - self.p))


POOL_MASKS = 4
"""A dropout pool holds this many batches' masks."""

POOL_CALLS = 16
"""A dropout pool serves this many calls before it is drawn anew."""


class SparseInputLinear(nn.Module):
    """``X @ weight + bias`` for wide sparse input, fast on its non-zeros.

    The first layer of a network fitted on a sparse matrix (TF-IDF, counts).
    Its weight is stored as ``(in_features, out_features)``: row ``j`` is what
    input feature ``j`` adds to the layer's output, so a sparse row's output
    is the sum of the rows of its non-zero features, each times its value.
    ``torch.nn.functional.embedding_bag`` computes exactly that, reading only
    those rows: several times faster than a sparse matrix product over a
    batch. A dense input goes through one ``addmm``. Initialised as
    ``nn.Linear`` is (uniform in +-1/sqrt(in_features)), so the two layers
    compute the same function family.

    In training on the CPU the weight's gradient is added, row by row of the
    batch's non-zeros, into one gradient array the layer keeps between steps
    (:class:`_SparseRowsProduct`): a dense gradient of a 130,000-term
    vocabulary is 266 MB at 512 units, and a fresh one each step cost about
    half of a training step in page faults. The array is let go when the
    layer goes to evaluation.

    Parameters
    ----------
    in_features, out_features : int

    Examples
    --------
    >>> import torch
    >>> layer = SparseInputLinear(6, 3)
    >>> X = torch.eye(6)[:2]
    >>> torch.allclose(layer(X), layer(X.to_sparse_csr()))
    True
    """

    def __init__(self, in_features, out_features):
        super().__init__()
        bound = 1.0 / math.sqrt(in_features) if in_features else 0.0
        self.weight = nn.Parameter(
            torch.empty(in_features, out_features).uniform_(-bound, bound)
        )
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))

    def extra_repr(self):
        return (
            f"in_features={self.weight.shape[0]}, out_features={self.weight.shape[1]}"
        )

    def train(self, mode=True):
        if not mode:
            kept_gradients_of(self).clear()
        return super().train(mode)

    def forward(self, X):
        if X.layout == torch.strided:
            return torch.addmm(self.bias, X, self.weight)
        return self.rows_times(X) + self.bias

    def rows_times(self, X, column_scale=None):
        """``X @ weight`` for a sparse CSR ``X`` (see :func:`sparse_rows_times`),
        its weight gradient accumulated in place in CPU training."""
        if (
            self.training
            and torch.is_grad_enabled()
            and self.weight.requires_grad
            and self.weight.device.type == "cpu"
            and not gradients_must_pass_autograd()
        ):
            return _SparseRowsProduct.apply(
                X, self.weight, column_scale, kept_gradients_of(self)
            )
        return sparse_rows_times(X, self.weight, column_scale)


class _SparseRowsProduct(torch.autograd.Function):
    """``X @ weight`` whose weight gradient is added into ``weight.grad``
    (the layer's kept array when the optimizer has set it to None) instead
    of returned: the same gradient ``X.T @ grad``, without a fresh dense
    array each step."""

    @staticmethod
    def forward(ctx, X, weight, column_scale, kept_gradients):
        columns, values = _nonzeros(X, column_scale)
        ctx.parts = (X.crow_indices(), columns, values, weight, kept_gradients)
        return _summed_rows(X, columns, values, weight)

    @staticmethod
    def backward(ctx, grad):
        crow, columns, values, weight, kept_gradients = ctx.parts
        del ctx.parts
        rows = torch.repeat_interleave(
            torch.arange(len(crow) - 1, device=grad.device), crow.diff()
        )
        total = kept_gradients.grad_of(weight)
        # A few MB of non-zeros at a time: the rows of grad they read, made
        # at once for the whole batch, would be a large fresh array again.
        step = max(1, GRADIENT_BLOCK_FLOATS // weight.shape[1])
        for start in range(0, len(columns), step):
            block = slice(start, start + step)
            added = grad.index_select(0, rows[block]).to(weight.dtype)
            total.index_add_(0, columns[block], added.mul_(values[block, None]))
        return None, None, None, None


GRADIENT_BLOCK_FLOATS = 2**20
"""The sparse layer's backward reads this many gradient values at a time
(4 MB in float32)."""


def sparse_rows_times(X, weight, column_scale=None):
    """``X @ weight`` for a sparse CSR tensor ``X`` (never densified).

    ``weight`` has shape ``(n_features, width)``, contiguous. With
    ``column_scale``, each column of ``X`` is divided by it first (the
    standardisation of a sparse input, folded into the values).
    """
    return _summed_rows(X, *_nonzeros(X, column_scale), weight)


def _nonzeros(X, column_scale=None):
    """The column indices and values of a CSR tensor's non-zeros, each value
    divided by its column's ``column_scale`` if given."""
    columns, values = X.col_indices(), X.values()
    if column_scale is not None:
        values = values / column_scale.index_select(0, columns)
    return columns, values


def _summed_rows(X, columns, values, weight):
    """Per row of ``X``, the sum of ``weight``'s rows at its non-zeros'
    ``columns``, each times its value."""
    return F.embedding_bag(
        columns, weight, X.crow_indices()[:-1], mode="sum", per_sample_weights=values
    )


class MultiHeadMLP(nn.Module):
    """Shared trunk, then one classification head per granularity.

    The heads are stored as one ``nn.Linear`` whose output rows are split
    per level: mathematically the same as separate heads, but one matrix
    product instead of one per level, which matters for small batches.

    With ``n_members`` > 1 the network is an efficient ensemble (TabM,
    Gorishniy et al., ICLR 2025): every trunk layer is a BatchEnsemble
    layer (``tabm.LinearBatchEnsemble``: one weight matrix shared by the
    members, each member scaling its inputs and outputs and adding its own
    bias; the first layer's input scalings start as random signs, the others
    as ones), and each member has its own heads (``tabm.LinearEnsemble``).
    The members see the same batches and train in one pass; the output is
    one block of logits per member, ``(batch, n_members, n_logits)``. A
    first layer for sparse input is shared whole (one product over the
    non-zeros) and the members start after it, each scaling and shifting its
    output (``tabm.ElementwiseAffine``).

    Parameters
    ----------
    n_features : int
        Number of input features.
    level_sizes : sequence of int
        Number of classes of each level, coarse to fine.
    hidden_layer_sizes : sequence of int
        Width of each trunk layer; empty for a linear model (one member only).
    activation : {"relu", "tanh", "logistic", "gelu"}, default="relu"
    dropout : float, default=0.0
        Dropout probability after each trunk layer.
    input_mean, input_scale : tensor of shape (n_features,), default=None
        Standardisation applied to the inputs inside the network, so the
        fitted model carries its own preprocessing.
    head_layers : sequence of int, default=None
        For each level, the index of the trunk layer whose output its head
        reads (coarse heads on earlier layers, as in B-CNN). None: every head
        reads the last layer, through one fused ``nn.Linear``.
    sparse_input : bool, default=False
        Make the first layer a :class:`SparseInputLinear`, for inputs that
        are sparse matrices. Dense inputs still work. Such a network is never
        centred (``input_mean`` must be zero): centring would make every
        sparse row dense.
    n_members : int, default=1
        Ensemble members; 1 is a single network, whose logits have shape
        ``(batch, n_logits)``.
    embedding_bins : list of array-like or None, default=None
        Each feature's bin edges for piecewise-linear numeric embeddings
        (:mod:`._embeddings`) between the standardisation and the first
        layer, which then reads ``n_features * EMBEDDING_SIZE`` columns;
        None for none.

    Examples
    --------
    >>> import torch
    >>> net = MultiHeadMLP(4, level_sizes=[2, 5], hidden_layer_sizes=(8,))
    >>> net(torch.zeros(3, 4)).shape
    torch.Size([3, 7])
    >>> ensemble = MultiHeadMLP(4, [2, 5], (8, 8), n_members=3)
    >>> ensemble(torch.zeros(3, 4)).shape
    torch.Size([3, 3, 7])
    """

    def __init__(
        self,
        n_features,
        level_sizes,
        hidden_layer_sizes,
        activation="relu",
        dropout=0.0,
        input_mean=None,
        input_scale=None,
        head_layers=None,
        sparse_input=False,
        n_members=1,
        embedding_bins=None,
    ):
        super().__init__()
        self.level_sizes = tuple(int(s) for s in level_sizes)
        self.n_members = int(n_members)
        if (
            sparse_input
            and input_mean is not None
            and bool(torch.any(as_buffer(input_mean) != 0))
        ):
            raise ValueError("a network for sparse input cannot be centred")
        if self.n_members > 1 and not len(hidden_layer_sizes):
            raise ValueError("an ensemble (n_members > 1) needs a hidden layer.")
        self.register_buffer(
            "input_mean",
            torch.zeros(n_features) if input_mean is None else as_buffer(input_mean),
        )
        self.register_buffer(
            "input_scale",
            torch.ones(n_features) if input_scale is None else as_buffer(input_scale),
        )
        width = n_features
        if embedding_bins is not None:
            if sparse_input:
                raise ValueError("numeric embeddings need dense input")
            self.embeddings = numeric_embeddings_layer(embedding_bins)
            width = n_features * EMBEDDING_SIZE
        layers, widths, ends = [], [], []
        for size in hidden_layer_sizes:
            activation_layer = ACTIVATIONS[activation]()
            if isinstance(activation_layer, nn.ReLU):
                # In place: the Linear output it overwrites is not needed for
                # the backward pass, and one batch-sized allocation is saved.
                activation_layer.inplace = True
            layers += [
                *_trunk_layer(width, size, sparse_input, not layers, self.n_members),
                activation_layer,
            ]
            if dropout > 0:
                layers.append(FastDropout(dropout))
            width = size
            widths.append(size)
            ends.append(len(layers))
        self.trunk = nn.Sequential(*layers)
        last = len(widths) - 1
        if head_layers is not None and not widths:
            raise ValueError("head_layers needs at least one hidden layer.")
        if head_layers is not None and any(
            (depth % len(widths)) != last for depth in head_layers
        ):
            # Heads at several depths: one Linear per level, on the output of
            # its layer (after activation and dropout).
            self.head_layers = tuple(int(d) % len(widths) for d in head_layers)
            self.layer_ends = tuple(ends)
            self.heads = None
            self.level_heads = nn.ModuleList(
                _head(widths[depth], size, self.n_members)
                for depth, size in zip(self.head_layers, self.level_sizes)
            )
        elif self.n_members > 1:
            self.head_layers = None
            self.heads = _head(width, sum(self.level_sizes), self.n_members)
        else:
            self.head_layers = None
            self.heads = _linear(
                width, sum(self.level_sizes), sparse_input and not layers
            )

    def forward(self, X, linear=None):
        """Concatenated logits of every level for a batch ``X``.

        ``X`` is dense or a sparse CSR tensor (see :meth:`_forward_sparse`).
        ``linear``: the kernel of the linear layers' products, called as
        ``linear(h, layer)`` for ``h @ weight + bias`` (see
        :func:`affine_parts`); None runs each layer itself.
        """
        if X.layout != torch.strided:
            return self._forward_sparse(X, linear=linear)
        h = self._inputs(X)
        if self.head_layers is None:
            if linear is None and self._trains_grouped(h):
                h = _run(self.trunk[:-3], h, None)
                last, dropout = self.trunk[-3], self.trunk[-1]
                logits = grouped_dropout_heads(
                    h, last, self.heads, dropout.p, kept_gradients_of(self)
                )
                if logits is not None:
                    return logits
                return _run([*self.trunk[-3:], self.heads], h, None)
            return _run([*self.trunk, self.heads], h, linear)
        return self._depth_heads(h, list(self.trunk), linear=linear)

    def _trains_grouped(self, h):
        """Whether this training step runs the last layer and the heads with
        dropout masks shared by groups of rows (:mod:`._grouped_dropout`):
        on the CPU, for one network whose last layer is a ReLU layer with
        dropout read by the fused heads."""
        trunk = self.trunk
        return (
            self.training
            and torch.is_grad_enabled()
            and h.device.type == "cpu"
            and self.n_members == 1
            and len(trunk) >= 3
            and isinstance(trunk[-3], nn.Linear)
            and isinstance(trunk[-2], nn.ReLU)
            and isinstance(trunk[-1], FastDropout)
            and trunk[-1].p > 0
        )

    @property
    def fused_heads(self):
        """The one linear layer every head shares, reading :meth:`features`
        (an ensemble's: one per member); None where the heads read several
        layers or the input itself."""
        if (
            self.head_layers is None
            and len(self.trunk)
            and isinstance(self.heads, (nn.Linear, tabm.LinearEnsemble))
        ):
            return self.heads
        return None

    def features(self, X, linear=None):
        """What :attr:`fused_heads` reads: the last trunk layer's output
        (``forward(X) == fused_heads(features(X))``), dense or sparse ``X``;
        ``linear`` as in :meth:`forward`."""
        if X.layout != torch.strided:
            return self._forward_sparse(X, heads=False, linear=linear)
        return _run(self.trunk, self._inputs(X), linear)

    def _inputs(self, X):
        """What the first layer reads: ``X`` standardised and, with numeric
        embeddings, embedded, ``(batch, n_features * EMBEDDING_SIZE)``."""
        h = self._standardised(X)
        embeddings = self._modules.get("embeddings")  # none in older models
        return h if embeddings is None else embeddings(h).flatten(1)

    def _standardised(self, X):
        """``(X - input_mean) / input_scale``, a new tensor."""
        buffers = self._buffers  # a module's __getattr__ is slow for small calls
        return (X - buffers["input_mean"]).div_(buffers["input_scale"])

    def _depth_heads(self, h, layers, offset=0, linear=None):
        """Heads at several depths: run ``layers`` (trunk layers from position
        ``offset`` on), keep each layer's output, apply each level's head."""
        outputs = {}
        for position, layer in enumerate(layers, start=offset):
            h = _run([layer], h, linear)
            if position + 1 in self.layer_ends:
                outputs[self.layer_ends.index(position + 1)] = h
        return torch.cat(
            [
                _run([head], outputs[depth], linear)
                for head, depth in zip(self.level_heads, self.head_layers)
            ],
            dim=-1,
        )

    def _forward_sparse(self, X, heads=True, linear=None):
        """Same function for sparse CSR input, without densifying it.

        The scaling divides the non-zero values; a network fitted on dense
        input (an ``nn.Linear`` first layer, maybe centred) folds its
        centring into the bias: ``((X - m) / s) @ W.T + b == (X / s) @ W.T +
        (b - W @ (m / s))``. ``heads=False``: stop before the fused heads.
        """
        if self.head_layers is None:
            layers = list(self.trunk) + ([self.heads] if heads else [])
        else:
            layers = list(self.trunk)
        first = layers[0]
        if isinstance(first, tabm.EnsembleView):
            # A dense-fitted ensemble: each member scales the inputs its own
            # way before the shared product, so the rows are made dense (a
            # chunk at a time in prediction).
            return self.features(X.to_dense()) if not heads else self(X.to_dense())
        if isinstance(first, SparseInputLinear):  # never centred
            # In place: the product's backward does not read its output.
            h = first.rows_times(X, self.input_scale).add_(first.bias)
        else:  # a dense-fitted network given sparse rows to predict
            weight = first.weight.t().contiguous()
            h = sparse_rows_times(X, weight, self.input_scale) + (
                first.bias - (self.input_mean / self.input_scale) @ weight
            )
        if self.head_layers is not None:
            return self._depth_heads(h, layers[1:], offset=1, linear=linear)
        return _run(layers[1:], h, linear)


def _linear(n_in, n_out, sparse_input):
    """The first layer for sparse input, an ``nn.Linear`` otherwise."""
    return SparseInputLinear(n_in, n_out) if sparse_input else nn.Linear(n_in, n_out)


def _trunk_layer(n_in, n_out, sparse_input, first, n_members):
    """The linear part of one trunk layer, as a list of modules.

    One network: :func:`_linear`. An ensemble: BatchEnsemble layers (TabM's
    initialisation: random-sign input scalings on the first layer, ones
    elsewhere), the rows first viewed once per member; for sparse input the
    first layer is shared and each member scales and shifts its output.
    """
    if n_members == 1:
        return [_linear(n_in, n_out, sparse_input and first)]
    if sparse_input and first:
        return [
            SparseInputLinear(n_in, n_out),
            tabm.EnsembleView(k=n_members),
            tabm.ElementwiseAffine(
                (n_members, n_out), bias=True, scaling_init="random-signs"
            ),
        ]
    layer = tabm.LinearBatchEnsemble(
        n_in,
        n_out,
        k=n_members,
        scaling_init=("random-signs", "ones") if first else "ones",
    )
    return [tabm.EnsembleView(k=n_members), layer] if first else [layer]


def _head(n_in, n_out, n_members):
    """A head layer: ``nn.Linear``, or one per member for an ensemble."""
    if n_members == 1:
        return nn.Linear(n_in, n_out)
    return tabm.LinearEnsemble(n_in, n_out, k=n_members)


def _run(layers, h, linear):
    """Apply ``layers`` in turn, each linear one through ``linear`` if given.

    With a kernel (prediction, in eval mode) the other layers' ``forward`` is
    called directly and dropout, the identity, is passed over: a module's
    ``__call__`` costs more than a one-row activation (these layers carry
    no hooks).
    """
    if linear is None:
        for layer in layers:
            h = layer(h)
        return h
    for layer in layers:
        if isinstance(layer, (nn.Linear, SparseInputLinear)):
            h = linear(h, layer)
        elif not (isinstance(layer, FastDropout) and not layer.training):
            h = layer.forward(h)
    return h


def affine_parts(layer):
    """``(weight, bias)`` of a linear layer as ``h @ weight + bias``, ``weight``
    of shape ``(in, out)`` (a view of the layer's own); for an ensemble's
    heads, of shape ``(n_members, in, out)`` and ``(n_members, out)``."""
    if isinstance(layer, nn.Linear):
        return layer.weight.t(), layer.bias
    # SparseInputLinear and tabm.LinearEnsemble store (..., in, out).
    return layer.weight, layer.bias


class TrunkWithHeads(nn.Module):
    """One linear head per level on top of any torch module (the trunk).

    The trunk maps a batch to a 2-D tensor ``(batch, width)``, which every
    head reads (through one fused ``nn.Linear``), or to a list/tuple of one
    2-D tensor per level, coarse to fine, each read by its own head (heads at
    different depths of the trunk).

    Parameters
    ----------
    trunk : torch.nn.Module class or instance
        A class is instantiated with ``trunk_params``; an instance is deep
        copied, so the caller's module is never trained in place.
    level_sizes : sequence of int
        Number of classes of each level, coarse to fine.
    feature_width : int or tuple of int
        Width of the trunk's output; a tuple (one width per level) when the
        trunk returns one tensor per level.
    trunk_params : dict, default=None
        Keyword arguments of a trunk class.
    input_mean, input_scale : tensor of shape (n_features,), default=None
        Standardisation of flat float inputs, applied before the trunk.
    """

    def __init__(
        self,
        trunk,
        level_sizes,
        feature_width,
        trunk_params=None,
        input_mean=None,
        input_scale=None,
    ):
        super().__init__()
        self.level_sizes = tuple(int(s) for s in level_sizes)
        self.trunk = build_trunk(trunk, trunk_params)
        self.register_buffer(
            "input_mean", None if input_mean is None else as_buffer(input_mean)
        )
        self.register_buffer(
            "input_scale", None if input_scale is None else as_buffer(input_scale)
        )
        if isinstance(feature_width, (tuple, list)):
            self.per_level = True
            self.heads = nn.ModuleList(
                nn.Linear(int(width), size)
                for width, size in zip(feature_width, self.level_sizes, strict=True)
            )
        else:
            self.per_level = False
            self.heads = nn.Linear(int(feature_width), sum(self.level_sizes))

    @property
    def fused_heads(self):
        """The one ``nn.Linear`` every head shares, reading :meth:`features`;
        None where each level has its own."""
        return None if self.per_level else self.heads

    def features(self, X, linear=None):
        """What the heads read: the trunk's output on the standardised input
        (the trunk is the user's: ``linear`` is not used in it)."""
        if self.input_mean is not None:
            X = (X - self.input_mean) / self.input_scale
        return self.trunk(X)

    def forward(self, X, linear=None):
        """Concatenated logits of every level; ``linear`` as in
        :meth:`MultiHeadMLP.forward`, for the heads."""
        features = self.features(X)
        if not self.per_level:
            return _run([self.heads], features, linear)
        return torch.cat(
            [
                _run([head], f, linear)
                for head, f in zip(self.heads, features, strict=True)
            ],
            dim=-1,
        )


def is_trunk(module):
    """Whether ``module`` is a torch module class or instance."""
    return isinstance(module, nn.Module) or (
        isinstance(module, type) and issubclass(module, nn.Module)
    )


def build_trunk(trunk, trunk_params=None):
    """A trunk module from a class (and its parameters) or a copy of an instance."""
    if isinstance(trunk, nn.Module):
        if trunk_params:
            raise ValueError(
                f"module__ parameters ({sorted(trunk_params)}) need module to be a "
                f"class, got an instance of {type(trunk).__name__}; pass "
                f"module={type(trunk).__name__} instead."
            )
        return copy.deepcopy(trunk)
    if is_trunk(trunk):
        return trunk(**(trunk_params or {}))
    raise TypeError(
        f"module must be a torch.nn.Module class or instance, got {trunk!r} "
        f"({type(trunk).__name__})."
    )


def probe_trunk(trunk, trunk_params, rows, n_levels, device, seed):
    """A custom trunk's parameters and output width(s), from a dry run.

    The trunk is built (seeded by ``seed``, without moving the caller's
    random stream) and run in eval mode on ``rows`` (two validated rows, on
    ``device``); it is then dropped. A class whose ``__init__`` takes
    ``n_features`` gets ``rows.shape[1]`` unless the parameters set it.

    Returns
    -------
    trunk_params : dict
    width : int or tuple of int
        See :func:`trunk_feature_width`.

    Raises
    ------
    TypeError, ValueError
        Naming the module and what failed: building it, sparse rows, or
        its output.
    """
    trunk_params = dict(trunk_params)
    if isinstance(trunk, type) and "n_features" not in trunk_params:
        try:
            signature = inspect.signature(trunk)
        except (TypeError, ValueError):
            signature = None
        if signature is not None and "n_features" in signature.parameters:
            trunk_params["n_features"] = int(rows.shape[1])
    if not isinstance(rows, np.ndarray):
        raise TypeError(
            f"module {getattr(trunk, '__name__', type(trunk).__name__)} got a "
            f"sparse X; a custom trunk needs a dense array."
        )
    with torch.random.fork_rng(devices=cuda_devices(device)):
        torch.manual_seed(seed)
        try:
            built = build_trunk(trunk, trunk_params)
        except ValueError:
            raise  # an instance with module__ parameters: says so
        except Exception as exc:
            # TypeError for wrong arguments, ValueError for anything else.
            error = TypeError if isinstance(exc, TypeError) else ValueError
            name = getattr(trunk, "__name__", trunk)
            raise error(
                f"module {name} could not be built with the parameters "
                f"{trunk_params}: {type(exc).__name__}: {exc}"
            ) from exc
        inputs = torch.as_tensor(rows, device=device)
        width = trunk_feature_width(built.to(device), inputs, n_levels)
    return trunk_params, width


def trunk_feature_width(trunk, X, n_levels):
    """The output width(s) of ``trunk`` from a dry forward of a few rows.

    Runs ``trunk`` in eval mode without gradients on ``X`` (a tensor of a few
    rows). Returns an int for a 2-D output, a tuple of ints for a list or
    tuple of ``n_levels`` 2-D tensors; raises a ValueError naming the module
    and what it returned otherwise.
    """
    name = type(trunk).__name__
    trunk.eval()
    try:
        with torch.no_grad():
            out = trunk(X)
    except Exception as exc:
        hint = (
            ""
            if X.is_floating_point()
            else " (integer X is passed as int64, for an embedding layer; give a "
            "trunk that expects numbers float X, e.g. X.astype(np.float32))"
        )
        raise ValueError(
            f"module {name} failed on a batch of shape {tuple(X.shape)} "
            f"({X.dtype}): {type(exc).__name__}: {exc}{hint}"
        ) from exc
    if isinstance(out, (list, tuple)):
        shapes = [
            tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            for t in out
        ]
        if len(out) != n_levels:
            raise ValueError(
                f"module {name} returned {len(out)} tensors (shapes {shapes}) but "
                f"there are {n_levels} levels: return one 2-D tensor of shape "
                f"(batch, width) per level, coarse to fine, or a single one."
            )
        for tensor in out:
            _check_features(name, tensor, X.shape[0], f" (shapes {shapes})")
        return tuple(int(tensor.shape[1]) for tensor in out)
    _check_features(name, out, X.shape[0], "")
    return int(out.shape[1])


def _check_features(name, out, n_rows, context):
    if not isinstance(out, torch.Tensor):
        raise ValueError(
            f"module {name} returned {type(out).__name__}, not a tensor or a "
            f"list of tensors{context}."
        )
    if out.ndim != 2 or out.shape[0] != n_rows or out.shape[1] < 1:
        raise ValueError(
            f"module {name} returned a tensor of shape {tuple(out.shape)} for a "
            f"batch of {n_rows} rows{context}; it must be 2-D, (batch, width) = "
            f"({n_rows}, width >= 1). Flatten it (e.g. nn.Flatten()) at the end "
            f"of the trunk."
        )
    if not out.is_floating_point():
        raise ValueError(
            f"module {name} returned a {out.dtype} tensor of shape "
            f"{tuple(out.shape)}; the heads need floating-point features."
        )
