"""Helpers shared by the speed benchmarks: synthetic data, reference models.

``speed.py`` (CPU) and ``gpu_speed.py`` (CUDA) compare
:class:`~mgclassifier.MultiGranularityClassifier` with the same network
trained by a hand-written PyTorch loop, so both live here: the synthetic
hierarchical data set, the hand-written multi-head MLP and its training loop,
the flat MLP given to skorch's ``NeuralNetClassifier``, and a markdown table
helper.
"""

import statistics
import time
import timeit

import numpy as np
import torch
import torch.nn.functional as F
from skorch import NeuralNetClassifier
from torch import nn

HAND_LOOP_OBJECTIVE = {
    "level_weights": "equal",
    "label_smoothing": 0.0,
    "precision": "float32",
    "lr_schedule": "constant",
}
"""Estimator parameters that give it the hand-written loop's training: the
plain sum of the per-level cross-entropies, float32, a constant learning
rate. A speed comparison then times the same computation."""


def make_tree(level_sizes):
    """Parent maps of a balanced label tree with the given level sizes.

    ``parents[l][j]`` is the class at level ``l`` of the parent of class ``j``
    at level ``l + 1``; class ``j`` of a level of size ``m`` below a level of
    size ``k <= m`` has parent ``j * k // m``, so every parent has children.
    """
    parents = []
    for coarse, fine in zip(level_sizes[:-1], level_sizes[1:]):
        if coarse > fine:
            raise ValueError(f"level sizes must not shrink: {level_sizes}")
        parents.append(np.arange(fine) * coarse // fine)
    return parents


def make_data(n_samples, n_features, level_sizes, random_state=0, chunk=65536):
    """Synthetic float32 features and integer labels of a label tree.

    Each finest class has a Gaussian centre; a row is its class centre plus
    unit Gaussian noise (the classes overlap, so the task is not trivial).
    Rows are generated in chunks so that creating ``X`` never needs more
    memory than ``X`` itself plus one chunk.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float32
    Y : ndarray of shape (n_samples, n_levels), int64
        One column per level, coarse to fine; every fine class has exactly
        one parent.
    """
    rng = np.random.default_rng(random_state)
    n_fine = level_sizes[-1]
    centres = rng.standard_normal((n_fine, n_features), dtype=np.float32)
    centres *= 1.5
    Y = np.empty((n_samples, len(level_sizes)), dtype=np.int64)
    Y[:, -1] = rng.integers(n_fine, size=n_samples)
    for level, parent in reversed(list(enumerate(make_tree(level_sizes)))):
        Y[:, level] = parent[Y[:, level + 1]]
    X = np.empty((n_samples, n_features), dtype=np.float32)
    for start in range(0, n_samples, chunk):
        stop = min(start + chunk, n_samples)
        rng.standard_normal(out=X[start:stop], dtype=np.float32)
        X[start:stop] += centres[Y[start:stop, -1]]
    return X, Y


class HandMultiHeadMLP(nn.Module):
    """Linear/ReLU trunk and one fused linear head for every level.

    The network ``MultiGranularityClassifier`` builds (without its input
    standardisation buffers, which the hand-written loop replaces by
    standardising the data once).
    """

    def __init__(self, n_features, level_sizes, hidden_layer_sizes):
        super().__init__()
        self.level_sizes = tuple(level_sizes)
        layers, width = [], n_features
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        self.trunk = nn.Sequential(*layers)
        self.heads = nn.Linear(width, sum(self.level_sizes))

    def forward(self, X):
        return self.heads(self.trunk(X))


class FlatMLP(nn.Module):
    """The same trunk with one head on the finest level (for skorch).

    With ``softmax=True`` the module outputs probabilities, as skorch's
    ``NeuralNetClassifier`` expects with its default ``NLLLoss`` criterion.
    """

    def __init__(self, n_features, n_classes, hidden_layer_sizes, softmax=True):
        super().__init__()
        layers, width = [], n_features
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, n_classes))
        if softmax:
            layers.append(nn.Softmax(dim=-1))
        self.layers = nn.Sequential(*layers)

    def forward(self, X):
        return self.layers(X)


def fit_skorch_peer(X, y, trunk, epochs, batch_size, lr, device="cpu"):
    """skorch's ``NeuralNetClassifier`` with its default data path, flat on ``y``.

    Adam, no validation split; seeded so repeated runs train the same net.
    """
    torch.manual_seed(0)
    return NeuralNetClassifier(
        FlatMLP,
        module__n_features=X.shape[1],
        module__n_classes=int(y.max()) + 1,
        module__hidden_layer_sizes=trunk,
        max_epochs=epochs,
        batch_size=batch_size,
        optimizer=torch.optim.Adam,
        lr=lr,
        train_split=None,
        device=str(device),
        verbose=0,
    ).fit(X, y)


def hand_fit(
    X,
    Y,
    level_sizes,
    hidden_layer_sizes,
    epochs,
    batch_size,
    lr=1e-3,
    device="cpu",
    seed=0,
    epoch_seconds=None,
):
    """Train :class:`HandMultiHeadMLP` with a minimal PyTorch loop.

    The data is converted to tensors (and standardised) once, on ``device``;
    each epoch draws ``torch.randperm`` on the device and slices whole
    batches; the loss is the sum of the per-level cross-entropies; Adam.

    Parameters
    ----------
    X, Y : ndarray or tensor
        Features and per-level integer labels (any device).
    epoch_seconds : list, default=None
        If given, the wall time of every epoch is appended to it (CUDA is
        synchronised at both ends of each epoch).

    Returns
    -------
    model : HandMultiHeadMLP
        In eval mode, on ``device``.
    mean, scale : tensor
        The standardisation applied to ``X`` (apply it before predicting).
    """
    device = torch.device(device)
    torch.manual_seed(seed)
    X = torch.as_tensor(X, device=device)
    Y = torch.as_tensor(Y, dtype=torch.long, device=device)
    mean, scale = X.mean(0), X.std(0).clamp_min(1e-12)
    X = (X - mean) / scale
    model = HandMultiHeadMLP(X.shape[1], level_sizes, hidden_layer_sizes).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    n = X.shape[0]
    model.train()
    for _ in range(epochs):
        if epoch_seconds is not None:
            _sync(device)
            start = time.perf_counter()
        order = torch.randperm(n, device=device)
        for i in range(0, n, batch_size):
            index = order[i : i + batch_size]
            logits = model(X[index])
            codes = Y[index]
            loss = sum(
                F.cross_entropy(block, codes[:, level])
                for level, block in enumerate(logits.split(model.level_sizes, 1))
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if epoch_seconds is not None:
            _sync(device)
            epoch_seconds.append(time.perf_counter() - start)
    model.eval()
    return model, mean, scale


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(predictors, X, sizes, repeats):
    """Seconds per call of each predictor on the first rows of ``X``.

    Every ``(name, size)`` is timed ``repeats`` times, the calls interleaved
    so that every predictor meets the same machine state; each time is the
    mean of enough calls to last about 0.2 s (``timeit``'s autorange).
    Returns the median of each ``(name, size)`` and all its samples.
    """
    timers = {}
    for name, predict in predictors.items():
        for size in sizes:
            rows = np.ascontiguousarray(X[:size])
            timer = timeit.Timer(lambda predict=predict, rows=rows: predict(rows))
            number, _ = timer.autorange()
            timers[name, size] = (timer, number)
    samples = {key: [] for key in timers}
    for _ in range(repeats):
        for key, (timer, number) in timers.items():
            samples[key].append(timer.timeit(number) / number)
    median = {key: statistics.median(values) for key, values in samples.items()}
    return median, samples


def markdown_table(header, rows, align=None):
    """A markdown table; ``align`` is one of "l"/"r" per column (text left)."""
    if align is None:
        align = ["l"] + ["r"] * (len(header) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
