"""Dropout on the last trunk layer whose masks are shared by groups of rows.

With one dropout mask per row, every unit of the layer is computed for every
row and then most are multiplied by zero: at the default dropout of 0.6 three
fifths of the layer's and the heads' multiply-adds are thrown away. Here the
rows of a training batch are cut into groups of :data:`GROUP_ROWS` rows or
a few more, and at least :data:`MIN_GROUPS` groups (of
:data:`MIN_GROUP_ROWS` rows or more, so a batch of 128 to 255 rows makes four
smaller groups); each group draws one set of kept units (exactly
``round(width * (1 - p))`` of them, each unit equally likely) and only those
are computed, as one batched matrix product over the groups, for the layer
and for the heads that read it. The function is that of inverted dropout
with the mask repeated over a group's rows; its gradients are exact for that
function.

With groups of 64 rows, default fits took 30% less time at the same
accuracy on ImCLEF07A and ImCLEF07D (batch 512, eight groups) and 24-27%
less on three synthetic hierarchies (batch 256, four groups; 5 seeds each);
four groups of 32 rows (batch 128) about 10% less on the same hierarchies at
1,500 training rows and the same time on Diatoms, whose wider products run
less efficiently cut in four, accuracy level on each. Fewer masks a step
cost accuracy: one mask a batch of 128 on Diatoms 0.658 against 0.677 fine
accuracy (3 seeds), two groups of 64 rows 0.7816 against 0.7850 AU(PRC) (10
seeds); so do masks that are windows of consecutive units, which need no
gather (``benchmarks/README.md``, "Why the defaults are what they are").
"""

import math

import torch
import torch.nn.functional as F

from ._kept_gradients import gradients_must_pass_autograd

GROUP_ROWS = 64
"""Rows of a batch that share one dropout mask, or a few more (a batch is
cut into ``n_rows // GROUP_ROWS`` groups of equal size, the last one padded,
and at least :data:`MIN_GROUPS`)."""

MIN_GROUPS = 4
"""Fewest groups (masks) a batch is cut into."""

MIN_GROUP_ROWS = 32
"""Fewest rows a group holds: a batch of fewer than ``MIN_GROUPS *
MIN_GROUP_ROWS`` rows gets one mask a row."""


def grouped_dropout_heads(h, layer, heads, p, kept_gradients=None):
    """``heads(dropout(relu(layer(h))))`` in training, masks shared by groups.

    Parameters
    ----------
    h : tensor of shape (n_rows, in_features)
        The layer's input (requires grad or not).
    layer, heads : torch.nn.Linear
        The last trunk layer and the fused heads reading it.
    p : float
        Dropout probability, in (0, 1).
    kept_gradients : KeptGradients, default=None
        Where the two weight matrices' gradients are added in place and the
        step's large temporaries are borrowed from (see
        :mod:`._kept_gradients`); None returns the gradients to autograd.

    Returns
    -------
    tensor of shape (n_rows, heads.out_features)
        The heads' logits; None for a batch of fewer than
        ``MIN_GROUPS * MIN_GROUP_ROWS`` rows, where a group would keep no unit
        (a layer narrower than ``1 / (1 - p)``) or a weight is frozen, for
        the caller to run the layers one by one with a mask a row.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> layer, heads = torch.nn.Linear(4, 10), torch.nn.Linear(10, 3)
    >>> grouped_dropout_heads(torch.randn(600, 4), layer, heads, 0.5).shape
    torch.Size([600, 3])
    >>> grouped_dropout_heads(torch.randn(128, 4), layer, heads, 0.5).shape
    torch.Size([128, 3])
    >>> grouped_dropout_heads(torch.randn(100, 4), layer, heads, 0.5) is None
    True
    """
    width = layer.out_features
    kept = round(width * (1.0 - p))
    # Groups of GROUP_ROWS rows or more, at least MIN_GROUPS of them.
    n_groups = max(MIN_GROUPS, h.shape[0] // GROUP_ROWS)
    trained = layer.weight.requires_grad and heads.weight.requires_grad
    if kept == 0 or h.shape[0] < MIN_GROUPS * MIN_GROUP_ROWS or not trained:
        return None
    units = _kept_units(n_groups, width, kept, h.device)
    tensors = (h, layer.weight, layer.bias, heads.weight, heads.bias)
    if torch.is_autocast_enabled(h.device.type):
        # The products in the autocast dtype; the gradients flow back
        # through the casts, so they cannot be added in place.
        dtype = torch.get_autocast_dtype(h.device.type)
        tensors, kept_gradients = tuple(t.to(dtype) for t in tensors), None
    if gradients_must_pass_autograd():
        kept_gradients = None
    with torch.autocast(h.device.type, enabled=False):
        return _GroupedDropoutHeads.apply(
            *tensors, units, 1.0 / (1.0 - p), kept_gradients
        )


def _kept_units(n_groups, width, kept, device):
    """``(n_groups, kept)`` unit indices, each row a uniform random subset.

    One random permutation of the units serves ``width // kept`` groups
    (disjoint slices of it), so a step draws few permutations.
    """
    per_permutation = width // kept
    n_permutations = math.ceil(n_groups / per_permutation)
    permutations = torch.stack(
        [torch.randperm(width, device=device) for _ in range(n_permutations)]
    )
    slices = permutations[:, : per_permutation * kept].reshape(-1, kept)
    return slices[:n_groups]


class _GroupedDropoutHeads(torch.autograd.Function):
    """The products of :func:`grouped_dropout_heads` on the kept units only.

    Rows are padded with zeros to ``n_groups * rows_per_group`` and viewed as
    ``(n_groups, rows_per_group, in)``; each group's layer weights are its
    kept rows of ``weight``, its head weights the kept columns of
    ``head_weight``. The gradients of the gathered weights are added back at
    their units (``index_add_``; a unit kept by several groups sums them).
    """

    @staticmethod
    def forward(ctx, h, weight, bias, head_weight, head_bias, units, scale, gradients):
        n_groups, kept = units.shape
        flat_units = units.reshape(-1)
        rows = _grouped_rows(h, n_groups)
        scratch = _Scratch(gradients)
        group_weight = torch.index_select(
            weight,
            0,
            flat_units,
            out=scratch.take("weight", (len(flat_units), rows.shape[-1]), weight),
        ).view(n_groups, kept, -1)
        group_bias = bias.index_select(0, flat_units).view(n_groups, 1, kept)
        hidden = torch.baddbmm(group_bias, rows, group_weight.transpose(1, 2)).relu_()
        # (n_groups, kept, n_outputs): each group's kept head columns.
        group_head = (
            torch.index_select(
                head_weight,
                1,
                flat_units,
                out=scratch.take(
                    "head", (head_weight.shape[0], len(flat_units)), head_weight
                ),
            )
            .view(-1, n_groups, kept)
            .permute(1, 2, 0)
        )
        logits = torch.baddbmm(head_bias, hidden, group_head, alpha=scale)
        ctx.save_for_backward(rows, hidden, group_weight, group_head, flat_units)
        ctx.shapes = (h.shape[0], weight.shape, head_weight.shape, scale)
        ctx.scratch = scratch
        # Leaf weights whose gradients go into kept arrays, or None.
        ctx.in_place = None if gradients is None else (weight, head_weight, gradients)
        return logits.reshape(-1, logits.shape[-1])[: h.shape[0]]

    @staticmethod
    def backward(ctx, grad):
        rows, hidden, group_weight, group_head, flat_units = ctx.saved_tensors
        n_rows, weight_shape, head_shape, scale = ctx.shapes
        n_groups, rows_per_group, kept = hidden.shape
        padded = F.pad(grad, (0, 0, 0, n_groups * rows_per_group - n_rows))
        grad_groups = padded.view(n_groups, rows_per_group, -1)
        in_place, ctx.in_place = ctx.in_place, None
        if in_place is None:
            weight_total = grad.new_zeros(weight_shape)
            head_total = grad.new_zeros(head_shape)
        else:
            weight, head_weight, gradients = in_place
            weight_total = gradients.grad_of(weight)
            head_total = gradients.grad_of(head_weight)
        scratch, ctx.scratch = ctx.scratch, None
        # (n_outputs, n_groups * kept) columns added at their units: the
        # head's gradient built in its own layout (a transposed copy of it
        # cost more than the products).
        n_outputs = head_shape[0]
        grad_head_groups = torch.bmm(
            grad_groups.transpose(1, 2),
            hidden,
            out=scratch.take("head_grad", (n_groups, n_outputs, kept), grad),
        ).mul_(scale)
        by_unit = scratch.take("head_grad_by_unit", (n_outputs, n_groups * kept), grad)
        by_unit.view(n_outputs, n_groups, kept).copy_(grad_head_groups.transpose(0, 1))
        head_total.index_add_(1, flat_units, by_unit)
        grad_hidden = torch.bmm(grad_groups, group_head.transpose(1, 2)).mul_(scale)
        grad_hidden = torch.ops.aten.threshold_backward(grad_hidden, hidden, 0)
        grad_group_weight = torch.bmm(
            grad_hidden.transpose(1, 2),
            rows,
            out=scratch.take("weight_grad", (n_groups, kept, rows.shape[-1]), grad),
        )
        weight_total.index_add_(
            0, flat_units, grad_group_weight.view(-1, weight_shape[1])
        )
        grad_bias = _added_at_units(grad_hidden.sum(1), flat_units, weight_shape[0])
        grad_weight, grad_head = (
            (weight_total, head_total) if in_place is None else (None, None)
        )
        grad_h = None
        if ctx.needs_input_grad[0]:
            grad_h = torch.bmm(grad_hidden, group_weight).reshape(-1, rows.shape[-1])
            grad_h = grad_h[:n_rows]
        scratch.give_back()
        return grad_h, grad_weight, grad_bias, grad_head, grad.sum(0), None, None, None


class _Scratch:
    """One step's large temporaries, lent by a module's
    :class:`KeptGradients` (:meth:`~KeptGradients.take`) so that steps reuse
    their pages, and given back together once the backward has read them;
    without one (autocast, DistributedDataParallel, a call outside training)
    each is new."""

    def __init__(self, kept):
        self._kept, self._taken = kept, {}

    def take(self, name, shape, like):
        if self._kept is None:
            return like.new_empty(shape)
        array = self._taken[name] = self._kept.take(name, shape, like)
        return array

    def give_back(self):
        for name, array in self._taken.items():
            self._kept.give_back(name, array)
        self._taken = {}


def _grouped_rows(h, n_groups):
    """``h`` padded with zero rows and viewed as ``(n_groups, rows, in)``."""
    rows_per_group = math.ceil(h.shape[0] / n_groups)
    padding = n_groups * rows_per_group - h.shape[0]
    if padding:
        h = F.pad(h, (0, 0, 0, padding))
    return h.reshape(n_groups, rows_per_group, h.shape[-1])


def _added_at_units(group_values, flat_units, n_units):
    """``(n_units, ...)`` zeros with each group's values added at its units."""
    values = group_values.reshape(len(flat_units), *group_values.shape[2:])
    total = values.new_zeros((n_units, *values.shape[1:]))
    return total.index_add_(0, flat_units, values)
