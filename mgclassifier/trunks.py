"""Ready-made trunks for ``MultiGranularityClassifier(module=...)``.

Any ``torch.nn.Module`` that maps a batch to a 2-D tensor ``(batch, width)``
(or to one such tensor per level) can be the trunk; these two are examples
that the benchmarks use.
"""

from torch import nn

__all__ = ["ResidualMLP", "SmallCNN"]


class ResidualMLP(nn.Module):
    """A residual MLP for tabular data: pre-norm blocks with dropout.

    ``x -> Linear(n_features, width) -> n_blocks x [x + Dropout(Linear(
    Dropout(ReLU(Linear(LayerNorm(x))))))] -> LayerNorm -> ReLU``, the
    ResNet of Gorishniy et al., "Revisiting Deep Learning Models for Tabular
    Data" (2021).

    Parameters
    ----------
    n_features : int
        Input width. The estimator fills it in from ``X`` (its number of
        columns) when it is not given.
    width : int, default=256
        Width of the residual stream.
    n_blocks : int, default=2
        Number of residual blocks.
    hidden_factor : float, default=2.0
        Width of each block's hidden layer, relative to ``width``.
    dropout : float, default=0.2
        Dropout inside each block (after the activation and after the second
        linear layer).
    level_blocks : sequence of int, default=None
        Heads at different depths: for each level, coarse to fine, the block
        after which its head reads the residual stream (0-based). The trunk
        then returns one tensor per level. None: one tensor, after the last
        block, for every head.

    Examples
    --------
    >>> import torch
    >>> ResidualMLP(5, width=8, n_blocks=2)(torch.zeros(3, 5)).shape
    torch.Size([3, 8])
    """

    def __init__(
        self,
        n_features,
        width=256,
        n_blocks=2,
        hidden_factor=2.0,
        dropout=0.2,
        level_blocks=None,
    ):
        super().__init__()
        hidden = max(1, int(round(width * hidden_factor)))
        self.level_blocks = None if level_blocks is None else tuple(level_blocks)
        self.first = nn.Linear(n_features, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.LayerNorm(width),
                nn.Linear(width, hidden),
                nn.ReLU(),
                nn.Dropout(dropout),
                nn.Linear(hidden, width),
                nn.Dropout(dropout),
            )
            for _ in range(n_blocks)
        )
        self.last = nn.Sequential(nn.LayerNorm(width), nn.ReLU())

    def forward(self, X):
        """Compute the features of a batch of rows.

        Parameters
        ----------
        X : torch.Tensor of shape (n, n_features)
            Input rows.

        Returns
        -------
        torch.Tensor of shape (n, width), or a list of them
            One tensor per level when ``level_blocks`` is given.
        """
        h = self.first(X)
        states = []
        for block in self.blocks:
            h = h + block(h)
            states.append(h)
        if self.level_blocks is None:
            return self.last(h)
        return [self.last(states[block]) for block in self.level_blocks]


class SmallCNN(nn.Module):
    """A small convolutional trunk for image arrays ``(n, C, H, W)``.

    Two 3x3 convolution blocks (convolution, batch norm, ReLU), the second
    with twice the filters, then global average pooling: the output is
    ``(n, 2 * n_filters)`` for any image size.

    Parameters
    ----------
    in_channels : int, default=1
        Channels of the input images (1 for grey, 3 for RGB).
    n_filters : int, default=16
        Filters of the first convolution (the second has twice as many).
    dropout : float, default=0.1
        Dropout on the pooled features.
    """

    def __init__(self, in_channels=1, n_filters=16, dropout=0.1):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, n_filters, 3, padding=1),
            nn.BatchNorm2d(n_filters),
            nn.ReLU(),
            nn.Conv2d(n_filters, 2 * n_filters, 3, padding=1),
            nn.BatchNorm2d(2 * n_filters),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(dropout),
        )

    def forward(self, X):
        """Pooled features of a batch of images.

        Parameters
        ----------
        X : torch.Tensor of shape (n, in_channels, height, width)
            Images.

        Returns
        -------
        torch.Tensor of shape (n, 2 * n_filters)
            Features.
        """
        return self.layers(X)
