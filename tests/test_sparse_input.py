"""Sparse input: the first layer built for it, its scaling, and text at the
defaults."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from _helpers import make_text_corpus, tiny_classifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from torch import nn

from mgclassifier import MultiGranularityClassifier
from mgclassifier._data._datasets import sparse_rows_to_torch
from mgclassifier._network._kept_gradients import kept_gradients_of
from mgclassifier._network._module import MultiHeadMLP, SparseInputLinear


def _sparse_rows(n_rows=12, n_features=9, seed=0):
    return sp.random(
        n_rows, n_features, density=0.3, format="csr", random_state=seed
    ).astype(np.float32)


def test_sparse_input_layer_computes_the_dense_layer_on_the_same_weights():
    torch.manual_seed(0)
    dense = nn.Linear(9, 4)
    layer = SparseInputLinear(9, 4)
    with torch.no_grad():
        layer.weight.copy_(dense.weight.t())
        layer.bias.copy_(dense.bias)
    X = _sparse_rows()
    with torch.no_grad():
        expected = dense(torch.from_numpy(X.toarray()))
        torch.testing.assert_close(layer(torch.from_numpy(X.toarray())), expected)
        torch.testing.assert_close(layer(sparse_rows_to_torch(X, "cpu")), expected)


def test_sparse_input_layer_gradients_equal_the_dense_layers():
    torch.manual_seed(0)
    layer = SparseInputLinear(9, 4)
    X = _sparse_rows()
    grads = []
    for batch in (torch.from_numpy(X.toarray()), sparse_rows_to_torch(X, "cpu")):
        layer.zero_grad()
        layer(batch).square().sum().backward()
        grads.append((layer.weight.grad.clone(), layer.bias.grad.clone()))
    for sparse_grad, dense_grad in zip(grads[1], grads[0]):
        torch.testing.assert_close(sparse_grad, dense_grad)


def test_sparse_layer_keeps_one_gradient_array_between_steps():
    # CPU training adds the weight gradient into an array the layer keeps
    # (no fresh dense gradient a step); gradients still add up over two
    # backward passes, a column scale divides them as it divides the
    # values, and evaluation lets the array go.
    torch.manual_seed(0)
    layer = SparseInputLinear(9, 4)
    X = _sparse_rows()
    scale = torch.linspace(0.5, 2.0, 9)
    dense = torch.from_numpy(X.toarray()) / scale
    expected = torch.autograd.grad((dense @ layer.weight).square().sum(), layer.weight)[
        0
    ]
    batch = sparse_rows_to_torch(X, "cpu")
    kept = []
    for _ in range(2):
        layer.weight.grad = None  # as the optimizer's zero_grad leaves it
        layer.rows_times(batch, scale).square().sum().backward()
        torch.testing.assert_close(layer.weight.grad, expected)
        kept.append(layer.weight.grad)
    assert kept[0] is kept[1]  # the same array, zeroed and filled again
    layer.rows_times(batch, scale).square().sum().backward()
    torch.testing.assert_close(layer.weight.grad, 2 * expected)
    assert kept_gradients_of(layer)._arrays
    loaded = pickle.loads(pickle.dumps(layer))
    assert not kept_gradients_of(loaded)._arrays  # not saved
    layer.eval()
    assert not kept_gradients_of(layer)._arrays


@pytest.mark.parametrize("head_layers", [None, (0, 1)])
@pytest.mark.parametrize("sparse_input", [False, True])
def test_network_gives_the_same_logits_for_sparse_and_dense_rows(
    sparse_input, head_layers
):
    # A scaled network: the scaling is folded into the sparse values, and a
    # dense-fitted (centred) network folds its centring into the bias.
    torch.manual_seed(0)
    mean = None if sparse_input else torch.rand(9)
    module = MultiHeadMLP(
        9,
        [2, 3],
        hidden_layer_sizes=(8, 6),
        input_mean=mean,
        input_scale=torch.rand(9) + 0.5,
        head_layers=head_layers,
        sparse_input=sparse_input,
    ).eval()
    assert isinstance(module.trunk[0], SparseInputLinear) == sparse_input
    X = _sparse_rows()
    with torch.no_grad():
        dense = module(torch.from_numpy(X.toarray()))
        sparse = module(sparse_rows_to_torch(X, "cpu"))
    torch.testing.assert_close(sparse, dense)


def test_a_network_for_sparse_input_refuses_centring():
    with pytest.raises(ValueError, match="cannot be centred"):
        MultiHeadMLP(3, [2], (), input_mean=torch.ones(3), sparse_input=True)


def test_sparse_fit_builds_the_sparse_first_layer(tree_data):
    X, Y = tree_data
    X_sparse = sp.csr_matrix(np.where(np.abs(X) > 1, X, 0.0))
    clf = tiny_classifier(max_epochs=2).fit(X_sparse, Y)
    assert isinstance(clf.net_.module_.trunk[0], SparseInputLinear)
    dense = tiny_classifier(max_epochs=2).fit(X, Y)
    assert isinstance(dense.net_.module_.trunk[0], nn.Linear)


def _scaling(clf):
    module = clf.net_.module_
    return module.input_mean.numpy(), module.input_scale.numpy()


def test_feature_scaling_auto_leaves_sparse_input_as_it_is(tree_data):
    X, Y = tree_data
    X_sparse = sp.csr_matrix(np.where(np.abs(X) > 1, X, 0.0))
    mean, scale = _scaling(tiny_classifier(max_epochs=1).fit(X_sparse, Y))
    np.testing.assert_array_equal(mean, 0.0)
    np.testing.assert_array_equal(scale, 1.0)
    standard = tiny_classifier(max_epochs=1, feature_scaling="standard")
    mean, scale = _scaling(standard.fit(X_sparse, Y))
    np.testing.assert_array_equal(mean, 0.0)  # never centred: it stays sparse
    np.testing.assert_allclose(scale, X_sparse.toarray().std(0), rtol=1e-5)


def test_feature_scaling_of_dense_input(tree_data):
    X, Y = tree_data
    mean, scale = _scaling(tiny_classifier(max_epochs=1).fit(X, Y))
    np.testing.assert_allclose(mean, X.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scale, X.std(0), rtol=1e-5)
    plain = tiny_classifier(max_epochs=1, feature_scaling="none").fit(X, Y)
    mean, scale = _scaling(plain)
    np.testing.assert_array_equal(mean, 0.0)
    np.testing.assert_array_equal(scale, 1.0)


def test_feature_scaling_is_validated_and_fixed_on_warm_start(tree_data):
    X, Y = tree_data
    with pytest.raises(ValueError, match="feature_scaling"):
        tiny_classifier(feature_scaling="minmax").fit(X, Y)
    clf = tiny_classifier(max_epochs=1, warm_start=True).fit(X, Y)
    with pytest.raises(ValueError, match="feature_scaling='none' differs"):
        clf.set_params(feature_scaling="none").fit(X, Y)


def test_sparse_model_resumes_pickles_and_predicts_dense_rows(tree_data):
    X, Y = tree_data
    X_sparse = sp.csr_matrix(np.where(np.abs(X) > 1, X, 0.0))
    clf = tiny_classifier(max_epochs=2, warm_start=True).fit(X_sparse, Y)
    clf.fit(X_sparse, Y)  # warm start on sparse rows
    assert clf.n_epochs_ == 4
    clf.partial_fit(X_sparse.toarray(), Y)  # and on dense rows of the same data
    assert isinstance(clf.net_.module_.trunk[0], SparseInputLinear)
    loaded = pickle.loads(pickle.dumps(clf))
    for a, b in zip(
        loaded.predict_proba(X_sparse), clf.predict_proba(X_sparse.toarray())
    ):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.slow
def test_tfidf_pipeline_at_the_defaults_beats_logistic_regression():
    # What a user tries first on text: TfidfVectorizer then a classifier,
    # nothing tuned. Standardising the TF-IDF columns (the old behaviour for
    # sparse input) fell below LogisticRegression on this corpus.
    docs, Y = make_text_corpus(3000, seed=0)
    docs_test, Y_test = make_text_corpus(1000, seed=1)

    def fine_accuracy(model, y):
        pipe = make_pipeline(TfidfVectorizer(), model).fit(docs, y)
        pred = pipe.predict(docs_test)
        return np.mean((pred[:, -1] if pred.ndim == 2 else pred) == Y_test[:, -1])

    ours = fine_accuracy(MultiGranularityClassifier(random_state=0), Y)
    standardised = fine_accuracy(
        MultiGranularityClassifier(random_state=0, feature_scaling="standard"), Y
    )
    linear = fine_accuracy(LogisticRegression(max_iter=1000), Y[:, -1])
    assert ours > linear + 0.02
    assert ours > standardised + 0.03
