"""Fixtures shared by the test modules (helpers to import are in ``_helpers``)."""

import pytest
from _helpers import make_tree_data, tiny_classifier


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
    """``tiny_classifier`` with a wider layer and more epochs, for the tests
    that check how well it learns."""
    return tiny_classifier(hidden_layer_sizes=(32,), max_epochs=30)
