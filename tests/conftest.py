"""Shared fixtures: small hierarchical data sets generated on the fly."""

import numpy as np
import pytest


def make_tree_data(n_samples=300, n_features=6, branching=(3, 2), seed=0):
    """Gaussian clusters laid out as a tree; labels are full paths ('1', '1/0')."""
    rng = np.random.RandomState(seed)
    n_leaves = int(np.prod(branching))
    leaf = rng.randint(n_leaves, size=n_samples)
    digits = np.array(np.unravel_index(leaf, branching)).T  # (n, depth)
    centers = np.zeros((n_samples, n_features))
    for level, width in enumerate(branching):
        offsets = rng.normal(scale=3.0 / (level + 1), size=(width, n_features))
        centers += offsets[digits[:, level]]
    X = centers + rng.normal(size=(n_samples, n_features))
    Y = np.empty(digits.shape, dtype=object)
    for level in range(len(branching)):
        Y[:, level] = ["/".join(map(str, row[: level + 1])) for row in digits]
    return X, Y.astype(str)


def sub_codes(Y):
    """``make_tree_data`` labels cut to each level's own digit ('1/0' -> '0').

    Numbered sub-codes: below the coarsest level every label sits under
    every parent, so each label is several nodes of the tree.
    """
    Y = np.asarray(Y, dtype=str)
    return np.vectorize(lambda label: label.rsplit("/", 1)[-1])(Y)


def tiny_classifier(**params):
    """A MultiGranularityClassifier small enough to fit in well under a second
    on ``make_tree_data``; ``params`` override the defaults."""
    from mgclassifier import MultiGranularityClassifier

    defaults = dict(
        hidden_layer_sizes=(16,), max_epochs=15, batch_size=32, random_state=0
    )
    return MultiGranularityClassifier(**{**defaults, **params})


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Run the tests with one torch thread.

    The tests train many tiny networks, for which a second thread buys
    nothing, and on a shared 2-core machine torch's spinning OpenMP threads
    slow everything down by an order of magnitude.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def tree_data():
    return make_tree_data()


@pytest.fixture
def small_clf():
    """A fast configuration for behavioural tests."""
    from mgclassifier import MultiGranularityClassifier

    return MultiGranularityClassifier(
        hidden_layer_sizes=(32,), max_epochs=30, batch_size=32, random_state=0
    )
