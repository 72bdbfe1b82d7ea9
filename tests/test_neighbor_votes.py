"""n_neighbors: the nearest training rows' votes blended into the paths."""

import copy

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from _helpers import rows_clear_of_ties

from mgclassifier import MultiGranularityClassifier
from mgclassifier._prediction import _neighbors
from mgclassifier._prediction._neighbors import NeighborVotes, unit_rows
from mgclassifier.datasets import make_hierarchical_classification
from mgclassifier.trunks import ResidualMLP

# The fits here are a few epochs on purpose (what is tested is what they
# keep and how it votes), so the underfitting warning is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    X, Y = make_hierarchical_classification(
        300, n_features=6, branching=(2, 3), random_state=0
    )
    return X.astype(np.float32), Y


def small(**params):
    defaults = dict(hidden_layer_sizes=(16,), max_epochs=4, random_state=0)
    return MultiGranularityClassifier(**{**defaults, **params})


@pytest.fixture(scope="module")
def voted(data):
    X, Y = data
    return small(n_neighbors=5).fit(X, Y)


def test_a_fit_keeps_the_trained_rows_features_and_paths(data, voted):
    X, Y = data
    features, paths = voted.neighbor_features_, voted.neighbor_paths_
    # Every row trained on (no held-out rows at 300 rows), one unit-length
    # feature row each, 16 wide (the trunk's width), float32.
    assert features.shape == (300, 16) and features.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, rtol=1e-5)
    # Each row's path is its finest label's node.
    tree = voted.hierarchy_
    codes = tree.encode_known(Y)
    np.testing.assert_array_equal(paths, codes[:, -1])
    assert small().fit(X, Y).neighbor_features_ is None


def test_held_out_rows_do_not_vote(data):
    # Early stopping holds rows out: they pick the epoch and the
    # temperature, and would find themselves among the neighbours.
    X, Y = data
    clf = small(n_neighbors=3, early_stopping=True, validation_fraction=0.2).fit(X, Y)
    assert len(clf.neighbor_paths_) == 300 - 60


def test_the_votes_move_the_probabilities_toward_the_neighbours(data, voted):
    X, Y = data
    network = copy.deepcopy(voted).set_params(n_neighbors=0)
    own = network.predict_proba(X)
    blended = voted.predict_proba(X)
    # Each level still sums to one and the coarse level sums the fine one.
    for proba in blended:
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert np.abs(blended[1] - own[1]).max() > 1e-2
    # On its own training rows a row is its nearest neighbour (distance
    # ~0, the largest vote): the blend gives its own label at least the
    # votes' share.
    tree = voted.hierarchy_
    fine = tree.encode_known(Y)[:, -1]
    got = blended[1][np.arange(len(Y)), fine]
    assert (got >= voted.neighbors_weight - 1e-4).all()
    # predict takes the best blended path.
    best = np.argmax(blended[1], axis=1)
    np.testing.assert_array_equal(voted.predict(X)[:, -1], voted.classes_[1][best])


def test_weight_zero_is_the_network_and_one_is_the_votes(data, voted):
    X, _ = data
    clf = copy.deepcopy(voted)
    own = clf.set_params(n_neighbors=0).predict_proba(X[:50])
    zero = clf.set_params(n_neighbors=5, neighbors_weight=0.0).predict_proba(X[:50])
    for a, b in zip(own, zero):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    votes_only = clf.set_params(neighbors_weight=1.0).predict_proba(X[:50])[1]
    # Five votes over the paths: each row's probabilities are the votes.
    votes = NeighborVotes(
        voted.neighbor_features_, voted.neighbor_paths_, votes_only.shape[1], 5, 1.0
    )
    with torch.no_grad():
        features = clf.net_.module_.features(torch.as_tensor(X[:50]))
    expected = votes.path_votes(features).numpy()
    np.testing.assert_allclose(votes_only, expected, rtol=1e-4, atol=1e-6)
    assert ((votes_only > 0).sum(axis=1) <= 5).all()


def test_n_neighbors_can_change_after_the_fit(data, voted):
    X, _ = data
    # New rows (training rows would find themselves, whose vote decides).
    new = X[:40] + np.random.default_rng(0).normal(scale=0.5, size=(40, 6))
    clf = copy.deepcopy(voted)
    five = clf.predict_proba(new.astype(np.float32))[1]
    one = clf.set_params(n_neighbors=1).predict_proba(new.astype(np.float32))[1]
    assert np.abs(five - one).max() > 1e-3


def test_a_model_fitted_without_votes_says_how_to_get_them(data):
    X, Y = data
    clf = small().fit(X, Y).set_params(n_neighbors=5)
    with pytest.raises(ValueError, match="only a fit with n_neighbors > 0 keeps"):
        clf.predict(X)


@pytest.mark.parametrize(
    "params, name",
    [
        ({"n_neighbors": -1}, "n_neighbors"),
        ({"n_neighbors": 1.5}, "n_neighbors"),
        ({"n_neighbors": 3, "neighbors_weight": 1.5}, "neighbors_weight"),
    ],
)
def test_bad_values_are_refused_by_name(data, params, name):
    with pytest.raises(ValueError, match=f"'{name}' parameter"):
        small(**params).fit(*data)


def test_ensembles_and_sparse_input_vote_too(data):
    X, Y = data
    ensemble = small(n_members=3, hidden_layer_sizes=(8, 8), n_neighbors=3).fit(X, Y)
    assert ensemble.neighbor_features_.shape == (300, 8)  # members averaged
    proba = ensemble.predict_proba(X)
    np.testing.assert_allclose(proba[1].sum(axis=1), 1.0, rtol=1e-5)
    sparse = small(n_neighbors=3).fit(sp.csr_matrix(X), Y)
    dense_rows = small(n_neighbors=3).fit(X, Y)
    assert sparse.neighbor_features_.shape == dense_rows.neighbor_features_.shape
    got = sparse.predict_proba(sp.csr_matrix(X[:20]))[1]
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-5)


def test_float64_rows_vote_as_float32_ones(data, voted):
    X, _ = data
    a = voted.predict_proba(X[:30])[1]
    b = voted.predict_proba(X[:30].astype(np.float64))[1]
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_the_search_runs_a_few_rows_at_a_time(data, voted, monkeypatch):
    # Memory is bounded by the search's chunk, not by the rows predicted at
    # once: 1,000 similarities a block (three rows of 300 kept ones) give
    # what one product gives.
    X, _ = data
    whole = voted.predict_proba(X)
    blocks = []
    product = NeighborVotes._similarities

    def recorded(self, rows):
        similarity = product(self, rows)
        blocks.append(tuple(similarity.shape))
        return similarity

    monkeypatch.setattr(_neighbors, "SEARCH_CHUNK_ELEMENTS", 1_000)
    monkeypatch.setattr(NeighborVotes, "_similarities", recorded)
    chunked = voted.predict_proba(X)
    assert len(blocks) == 100 and all(shape == (3, 300) for shape in blocks)
    clear = rows_clear_of_ties(voted, X)
    assert clear.mean() > 0.9
    for a, b in zip(whole, chunked):
        np.testing.assert_allclose(a[clear], b[clear], rtol=0, atol=1e-6)


def test_distributed_fits_refuse_it(data, monkeypatch):
    # As if launched on two processes: refused before anything is trained.
    from mgclassifier import _config, _estimator

    for module in (_config, _estimator):
        monkeypatch.setattr(module, "process_count", lambda distributed: 2)
    X, Y = data
    with pytest.raises(ValueError, match="n_neighbors=3 does not work"):
        small(n_neighbors=3, distributed=True).fit(X, Y)


def test_unit_rows_leaves_zero_rows_at_zero():
    rows = unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(rows, [[0.6, 0.8], [0.0, 0.0]])


def test_a_wide_layer_is_kept_as_its_principal_components(data):
    X, Y = data
    clf = small(hidden_layer_sizes=(160,), n_neighbors=3).fit(X, Y)
    mean, components = clf.neighbor_projection_
    assert mean.shape == (160,) and components.shape == (160, 128)
    assert clf.neighbor_features_.shape == (300, 128)
    # The kept rows are the projected training rows: each one's nearest
    # kept row is itself.
    with torch.no_grad():
        features = clf.net_.module_.features(torch.as_tensor(X)).numpy()
    projected = unit_rows((features - mean) @ components)
    nearest = np.argmax(projected @ clf.neighbor_features_.T, axis=1)
    np.testing.assert_array_equal(nearest, np.arange(300))
    # A narrow layer is kept whole.
    assert small(n_neighbors=3).fit(X, Y).neighbor_projection_ is None


def test_partial_fit_refuses_it_before_training(data):
    # Each call sees only its rows: the votes would be the last call's alone.
    X, Y = data
    clf = small(n_neighbors=3)
    with pytest.raises(ValueError, match="does not work with partial_fit"):
        clf.partial_fit(X[:100], Y[:100], classes=Y)
    assert not hasattr(clf, "net_")


def test_custom_trunks_and_heads_at_several_depths_vote_too(data):
    # What the votes read is what the heads read: a user's trunk's output
    # (ResidualMLP's, wider than 128 units: projected), or the last trunk
    # layer's.
    X, Y = data
    trunk = small(module=ResidualMLP, hidden_layer_sizes="auto", n_neighbors=3)
    trunk.fit(X, Y)
    assert trunk.neighbor_features_.shape == (300, 128)
    np.testing.assert_allclose(trunk.predict_proba(X)[1].sum(axis=1), 1.0, rtol=1e-5)
    depths = small(hidden_layer_sizes=(16, 8), head_layers=[0, 1], n_neighbors=3)
    depths.fit(X, Y)
    assert depths.neighbor_features_.shape == (300, 8)
    np.testing.assert_allclose(depths.predict_proba(X)[1].sum(axis=1), 1.0, rtol=1e-5)
