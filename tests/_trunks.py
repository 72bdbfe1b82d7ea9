"""Trunks for the tests of ``module=``, in an importable module (pickle and
skops find their classes by import path)."""

import torch
from torch import nn


class TokenBag(nn.Module):
    """Mean of token embeddings; refuses anything but int64 token ids."""

    def __init__(self, vocabulary=50, dim=8):
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocabulary, dim, mode="mean")

    def forward(self, X):
        if X.dtype != torch.int64:
            raise TypeError(f"token ids must be int64, got {X.dtype}")
        return self.embedding(X)


class Failing(nn.Module):
    """Raises on every batch."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(1, 1)

    def forward(self, X):
        raise RuntimeError("this trunk is broken")


class Unflattened(nn.Module):
    """Returns a 3-D tensor: (batch, 2, 3)."""

    def __init__(self, n_features):
        super().__init__()
        self.linear = nn.Linear(n_features, 6)

    def forward(self, X):
        return self.linear(X).reshape(-1, 2, 3)


class ThreeOutputs(nn.Module):
    """Returns three tensors, whatever the number of levels."""

    def __init__(self, n_features):
        super().__init__()
        self.linear = nn.Linear(n_features, 4)

    def forward(self, X):
        h = self.linear(X)
        return [h, h, h]


class TableMLP(nn.Module):
    """One hidden layer for a table; casts integer features to float."""

    def __init__(self, n_features, width=32):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(n_features, width), nn.ReLU())

    def forward(self, X):
        return self.layers(X.float())


class ValueBranch(nn.Module):
    """Branches in Python on the value of a tensor (no static graph: cannot
    be exported to ONNX)."""

    def __init__(self, n_features):
        super().__init__()
        self.linear = nn.Linear(n_features, 8)

    def forward(self, X):
        h = self.linear(X)
        if h.mean() > 0:
            return torch.relu(h)
        return h


class ThreadSpy(nn.Module):
    """A linear trunk that records torch's thread count in every forward pass
    (class attribute ``seen``) and, when ``fail`` is set, then raises."""

    seen = []
    fail = False

    def __init__(self, n_features):
        super().__init__()
        self.linear = nn.Linear(n_features, 8)

    def forward(self, X):
        ThreadSpy.seen.append(torch.get_num_threads())
        if ThreadSpy.fail:
            raise RuntimeError("this trunk fails on purpose")
        return self.linear(X)
