"""The torch network: a shared MLP trunk and one linear head per level.

The module knows nothing of labels: it maps features to one block of logits
per level, concatenated along the last axis.
"""

import numpy as np
import torch
import torch.nn.functional as F
from scipy import special
from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "gelu": nn.GELU,
}


def as_buffer(value, dtype=None):
    """A tensor copy of ``value`` for ``register_buffer``.

    ``torch.as_tensor`` would share memory with the caller's array: writes
    into the buffer (a weight schedule, ``load_state_dict``) would then change
    the user's array, or crash on a read-only memory map (joblib).
    """
    if isinstance(value, torch.Tensor):
        return value.detach().clone().to(dtype)
    return torch.tensor(np.asarray(value), dtype=dtype)


def _as_numpy(tensor):
    """A zero-copy numpy view of a CPU parameter or buffer."""
    return tensor.detach().numpy()


def _gelu(h):
    return 0.5 * h * (1.0 + special.erf(h / np.sqrt(2.0)).astype(h.dtype))


NUMPY_ACTIVATIONS = {
    nn.ReLU: lambda h: np.maximum(h, 0, out=h),
    nn.Tanh: np.tanh,
    nn.Sigmoid: special.expit,
    nn.GELU: _gelu,
}
"""numpy twins of ACTIVATIONS, for ``MultiHeadMLP.numpy_forward``."""


class FastDropout(nn.Module):
    """Inverted dropout with a cheaper random mask on the CPU.

    ``torch.nn.Dropout`` draws one Bernoulli variate per element from the
    CPU's Mersenne Twister, which costs about as much as the layer's matrix
    product at these sizes. Here every 64-bit draw gives four 16-bit uniforms
    (probability resolution 1/65536), about 4x cheaper. On other devices it is
    ``torch.nn.functional.dropout``.

    Parameters
    ----------
    p : float
        Probability of zeroing an element, in [0, 1).
    """

    def __init__(self, p):
        super().__init__()
        self.p = float(p)

    def extra_repr(self):
        return f"p={self.p}"

    def forward(self, h):
        if not self.training or self.p == 0:
            return h
        if h.device.type != "cpu":
            return F.dropout(h, self.p, training=True)
        n = h.numel()
        bits = torch.empty((n + 3) // 4, dtype=torch.int64)
        bits = bits.random_(-(2**63), 2**63 - 1).view(torch.int16)[:n].view_as(h)
        keep = bits >= round(self.p * 65536) - 32768
        return h * keep.to(h.dtype).mul_(1.0 / (1.0 - self.p))


class MultiHeadMLP(nn.Module):
    """Shared trunk, then one classification head per granularity.

    The heads are stored as one ``nn.Linear`` whose output rows are split
    per level: mathematically the same as separate heads, but one matrix
    product instead of one per level, which matters for small batches.

    Parameters
    ----------
    n_features : int
        Number of input features.
    level_sizes : sequence of int
        Number of classes of each level, coarse to fine.
    hidden_layer_sizes : sequence of int, default=(512, 256)
        Width of each trunk layer; empty for a linear model.
    activation : {"relu", "tanh", "logistic", "gelu"}, default="relu"
    dropout : float, default=0.0
        Dropout probability after each trunk layer.
    input_mean, input_scale : tensor of shape (n_features,), default=None
        Standardisation applied to the inputs inside the network, so the
        fitted model carries its own preprocessing.

    Examples
    --------
    >>> import torch
    >>> net = MultiHeadMLP(4, level_sizes=[2, 5], hidden_layer_sizes=(8,))
    >>> net(torch.zeros(3, 4)).shape
    torch.Size([3, 7])
    """

    def __init__(
        self,
        n_features,
        level_sizes,
        hidden_layer_sizes=(512, 256),
        activation="relu",
        dropout=0.0,
        input_mean=None,
        input_scale=None,
    ):
        super().__init__()
        self.level_sizes = tuple(int(s) for s in level_sizes)
        self.register_buffer(
            "input_mean",
            torch.zeros(n_features) if input_mean is None else as_buffer(input_mean),
        )
        self.register_buffer(
            "input_scale",
            torch.ones(n_features) if input_scale is None else as_buffer(input_scale),
        )
        layers, width = [], n_features
        for size in hidden_layer_sizes:
            activation_layer = ACTIVATIONS[activation]()
            if isinstance(activation_layer, nn.ReLU):
                # In place: the Linear output it overwrites is not needed for
                # the backward pass, and one batch-sized allocation is saved.
                activation_layer.inplace = True
            layers += [nn.Linear(width, size), activation_layer]
            if dropout > 0:
                layers.append(FastDropout(dropout))
            width = size
        self.trunk = nn.Sequential(*layers)
        self.heads = nn.Linear(width, sum(self.level_sizes))

    def forward(self, X):
        if X.is_sparse:
            return self._forward_sparse(X)
        return self.heads(self.trunk((X - self.input_mean).div_(self.input_scale)))

    def _forward_sparse(self, X):
        """Same function for sparse COO input, without densifying it.

        Standardisation is folded into the first linear layer:
        ``((X - m) / s) @ W.T + b == X @ (W / s).T + (b - (W / s) @ m)``.
        """
        layers = list(self.trunk) + [self.heads]
        first = layers[0]
        weight = first.weight / self.input_scale
        h = torch.sparse.mm(X, weight.t()) + (first.bias - weight @ self.input_mean)
        for layer in layers[1:]:
            h = layer(h)
        return h

    def numpy_forward(self, X):
        """The inference function in numpy, for a dense float32 array on the CPU.

        Same result as ``forward`` in eval mode (dropout off), computed with
        numpy's BLAS on views of the parameters. For small inputs this avoids
        waking torch's thread pool, whose spinning workers would slow down
        everything else a serving process does; scikit-learn's MLPClassifier
        predicts the same way.
        """
        h = (X - _as_numpy(self.input_mean)) / _as_numpy(self.input_scale)
        for layer in (*self.trunk, self.heads):
            if isinstance(layer, nn.Linear):
                h = h @ _as_numpy(layer.weight).T + _as_numpy(layer.bias)
            elif not isinstance(layer, FastDropout):  # dropout: identity
                h = NUMPY_ACTIVATIONS[type(layer)](h)
        return h
