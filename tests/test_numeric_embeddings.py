"""numeric_embeddings: piecewise-linear embeddings of each feature."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone

from mgclassifier import MultiGranularityClassifier
from mgclassifier._network import _embeddings
from mgclassifier.datasets import make_hierarchical_classification
from mgclassifier.trunks import ResidualMLP


@pytest.fixture(scope="module")
def data():
    X, Y = make_hierarchical_classification(
        400, n_features=5, branching=(2, 3), random_state=0
    )
    X = X.astype(np.float32)
    X[:, 4] = 3.0  # a constant column: one bin around its value
    return X, Y


def small(**params):
    defaults = dict(hidden_layer_sizes=(16,), max_epochs=3, random_state=0)
    return MultiGranularityClassifier(**{**defaults, **params})


def test_the_first_layer_reads_each_feature_embedded(data):
    X, Y = data
    clf = small(numeric_embeddings="piecewise_linear").fit(X, Y)
    module = clf.net_.module_
    size = _embeddings.EMBEDDING_SIZE
    assert module.trunk[0].in_features == X.shape[1] * size
    bins = clf.net_.module__embedding_bins
    assert len(bins) == X.shape[1]
    # Edges at the quantiles of the standardised rows (an informative
    # feature spans a few units either side of 0), the constant one +-1.
    assert len(bins[0]) == _embeddings.EMBEDDING_BINS + 1
    assert bins[0][0] < -1 and bins[0][-1] > 1
    np.testing.assert_allclose(bins[4], [-1.0, 1.0])
    proba = clf.predict_proba(X)
    assert [p.shape for p in proba] == [(400, 2), (400, 6)]
    np.testing.assert_allclose(proba[1].sum(axis=1), 1.0, rtol=1e-5)
    # Without embeddings the first layer reads the features themselves.
    assert small().fit(X, Y).net_.module_.trunk[0].in_features == X.shape[1]


def test_the_embeddings_change_what_the_network_computes(data):
    # The embedding layer runs in prediction: zeroing its piecewise part
    # changes the probabilities of a trained model.
    X, Y = data
    clf = small(numeric_embeddings="piecewise_linear", max_epochs=8).fit(X, Y)
    before = clf.predict_proba(X)[1]
    with torch.no_grad():
        clf.net_.module_.embeddings.linear.weight.zero_()
    assert np.abs(clf.predict_proba(X)[1] - before).max() > 1e-3


def test_ensembles_clones_and_warm_starts_keep_the_embeddings(data):
    X, Y = data
    ensemble = small(numeric_embeddings="piecewise_linear", n_members=2).fit(X, Y)
    assert ensemble.predict_proba(X[:3])[1].shape == (3, 6)
    assert clone(ensemble).get_params()["numeric_embeddings"] == "piecewise_linear"
    clf = small(numeric_embeddings="piecewise_linear", warm_start=True).fit(X, Y)
    bins = clf.net_.module__embedding_bins
    clf.fit(X[:200] * 3, Y[:200])  # other rows: the fitted bins are kept
    assert len(clf.history_) == 6
    for kept, first in zip(clf.net_.module__embedding_bins, bins):
        np.testing.assert_array_equal(kept, first)


@pytest.mark.parametrize(
    "params, X_kind, message",
    [
        ({}, "sparse", "sparse X"),
        ({"module": ResidualMLP, "module__width": 8}, "dense", "custom trunk"),
    ],
)
def test_inputs_it_cannot_embed_are_refused_by_name(data, params, X_kind, message):
    X, Y = data
    X = sp.csr_matrix(np.abs(X)) if X_kind == "sparse" else X
    clf = small(numeric_embeddings="piecewise_linear", **params)
    with pytest.raises(ValueError, match=message):
        clf.fit(X, Y)


def test_bins_are_placed_on_a_sample_of_many_rows(monkeypatch):
    monkeypatch.setattr(_embeddings, "BIN_ROWS", 100)
    X = np.random.default_rng(0).normal(size=(1_000, 2)).astype(np.float32)
    bins = _embeddings.piecewise_linear_bins(X, None, seed=0)
    # 100 rows: the outermost edges are that sample's extremes, inside the
    # whole set's (whose extremes are ~3.2 sd out, the sample's ~2.5).
    assert X[:, 0].min() < bins[0][0] and bins[0][-1] < X[:, 0].max()
    again = _embeddings.piecewise_linear_bins(X, None, seed=0)  # the same sample
    assert all(np.array_equal(a, b) for a, b in zip(bins, again))
