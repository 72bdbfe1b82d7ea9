"""``n_members``: an efficient ensemble (TabM's BatchEnsemble) in one fit."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from _helpers import TINY_BUDGETS, make_tree_data, sub_codes, tiny_classifier
from _trunks import TableMLP
from scipy.special import log_softmax, softmax

from mgclassifier import MultiGranularityClassifier
from mgclassifier._network._loss import MultiLevelLoss
from mgclassifier._network._module import MultiHeadMLP

pytestmark = TINY_BUDGETS  # small models, few epochs, on purpose


def ensemble(**params):
    """``tiny_classifier`` as a 3-member ensemble of two small layers."""
    return tiny_classifier(
        **{"hidden_layer_sizes": (16, 16), "n_members": 3, "max_epochs": 6, **params}
    )


@pytest.fixture(scope="module")
def data():
    return make_tree_data(n_samples=400, branching=(3, 2, 2), seed=1)


@pytest.fixture(scope="module")
def fitted(data):
    X, Y = data
    return ensemble().fit(X, Y)


def member_logits(clf, X):
    """Each member's logits, ``(n_samples, n_members, n_logits)``, float64."""
    network = clf.net_.module_
    with torch.no_grad():
        return network.double()(torch.as_tensor(X, dtype=torch.float64)).numpy()


def reference_path_proba(tree, logits, coarse_weight, temperature):
    """The members' path probabilities written out and averaged: each
    member's finest log-softmax of the leaf plus ``coarse_weight`` times its
    coarse log-softmaxes of the ancestors, over the temperature, softmaxed
    over the paths; then the mean over the members."""
    blocks = np.split(logits, np.cumsum(tree.n_nodes)[:-1], axis=-1)
    scores = log_softmax(blocks[-1], axis=-1)
    for level, block in enumerate(blocks[:-1]):
        coarse = log_softmax(block, axis=-1)[..., tree.paths[:, level]]
        scores = scores + coarse_weight * coarse
    return softmax(scores / temperature, axis=-1).mean(axis=1)


def test_the_network_gives_one_block_of_logits_per_member():
    single = MultiHeadMLP(4, [2, 5], (8,))
    members = MultiHeadMLP(4, [2, 5], (8, 8), n_members=3)
    X = torch.randn(6, 4)
    assert single(X).shape == (6, 7)
    assert members(X).shape == (6, 3, 7)
    # The members differ from the start: the first layer scales the inputs
    # by random signs, member by member, and each has its own heads.
    out = members(X)
    assert not torch.allclose(out[:, 0], out[:, 1])


@pytest.mark.parametrize("coarse_weight", [0.0, 0.25, 1.0])
def test_predict_proba_averages_the_members_path_probabilities(
    fitted, data, coarse_weight
):
    X, _ = data
    clf = fitted.set_params(coarse_decoding_weight=coarse_weight)
    try:
        logits = member_logits(clf, X)
        expected = reference_path_proba(
            clf.hierarchy_, logits, coarse_weight, clf.temperature_
        )
        leaf_proba = clf.predict_node_proba(X)[-1]
        np.testing.assert_allclose(leaf_proba, expected, rtol=1e-9, atol=1e-12)
        # predict: the best path of the averaged probabilities.
        best = clf.hierarchy_.decode_leaves(expected.argmax(axis=1))
        np.testing.assert_array_equal(clf.predict(X), best)
    finally:
        fitted.set_params(coarse_decoding_weight=0.25)


def test_probabilities_are_coherent_and_do_not_depend_on_the_batch(fitted, data):
    X, _ = data
    probas = fitted.predict_proba(X)
    for proba in probas:
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    parent = fitted.hierarchy_.parents[0]
    summed = np.zeros_like(probas[0])
    np.add.at(summed.T, parent, probas[1].T)
    np.testing.assert_allclose(summed, probas[0], rtol=1e-10, atol=1e-12)
    alone = fitted.predict_proba(X[5:6])
    for whole, row in zip(probas, alone):
        np.testing.assert_allclose(row[0], whole[5], rtol=1e-10, atol=1e-14)


def test_training_averages_the_members_losses_and_validation_scores_the_ensemble():
    torch.manual_seed(0)
    loss = MultiLevelLoss([2, 3], parents=[[0, 0, 1]], level_weights=[1.0, 1.0])
    logits = torch.randn(8, 4, 5)
    codes = torch.tensor([[0, 1], [1, 2], [0, 0], [1, 2]] * 2)
    _, per_level = loss(logits, codes, training=True)
    members = torch.stack(
        [loss(logits[:, k], codes, training=True)[1] for k in range(4)]
    )
    torch.testing.assert_close(per_level, members.mean(dim=0))
    # Validation: the cross-entropy of the members' averaged probabilities.
    _, valid = loss(logits, codes, training=False)
    coarse = logits[..., :2].softmax(-1).mean(1)
    fine = logits[..., 2:].softmax(-1).mean(1)
    expected = torch.stack(
        [
            -coarse.log().gather(1, codes[:, :1]).mean(),
            -fine.log().gather(1, codes[:, 1:]).mean(),
        ]
    )
    torch.testing.assert_close(valid, expected)


def test_auto_values_give_members_two_layers_and_less_dropout(data):
    X, Y = data
    clf = MultiGranularityClassifier(n_members=2, max_epochs=1, random_state=0)
    clf.fit(X, Y)
    assert clf.hidden_layer_sizes_ == (512, 512) and clf.dropout_ == 0.3
    single = MultiGranularityClassifier(max_epochs=1, random_state=0).fit(X, Y)
    assert single.hidden_layer_sizes_ == (1024,) and single.dropout_ == 0.6
    sparse = clf.fit(sp.csr_matrix(np.abs(X)), Y)
    assert sparse.hidden_layer_sizes_ == (512,) and sparse.dropout_ == 0.6


@pytest.mark.parametrize(
    "params",
    [
        {"head_layers": (0, 0, 1)},  # heads at two depths, per member
        {"early_stopping": True, "calibrate": True},
        {"coarse_decoding_weight": 0.0},
    ],
    ids=["heads at several depths", "calibrated", "finest head only"],
)
def test_every_head_layout_and_decoding_trains_and_predicts(data, params):
    X, Y = data
    clf = ensemble(max_epochs=15, **params).fit(X, Y)
    assert clf.score(X, Y) > 0.5  # it learns: chance is 1 in 12 paths
    logits = member_logits(clf, X)
    assert logits.shape[1] == 3
    expected = reference_path_proba(
        clf.hierarchy_, logits, clf.coarse_decoding_weight, clf.temperature_
    )
    np.testing.assert_allclose(
        clf.predict_node_proba(X)[-1], expected, rtol=1e-9, atol=1e-12
    )


def test_the_temperature_is_fitted_on_the_averaged_probabilities(data):
    X, Y = data
    clf = ensemble(early_stopping=True, validation_fraction=0.3, max_epochs=20)
    clf.fit(X, Y)
    valid = clf.net_.train_split.valid_indices_
    logits = member_logits(clf, X[valid])
    leaf = clf.hierarchy_.encode_known(Y[valid])[:, -1]

    smoothing = 1 / (len(leaf) + 1)  # the fit's smoothing of the targets

    def nll(temperature):
        log_proba = np.log(
            reference_path_proba(clf.hierarchy_, logits, 0.25, temperature)
        )
        hit = log_proba[np.arange(len(leaf)), leaf].mean()
        return -((1 - smoothing) * hit + smoothing * log_proba.mean())

    # The fitted temperature is at least as good as 1 and its neighbours (to
    # the search's 1% tolerance).
    fitted = nll(clf.temperature_)
    for other in (1.0, clf.temperature_ * 0.9, clf.temperature_ * 1.1):
        assert fitted <= nll(other) + 1e-4


def test_target_accuracy_chooses_its_threshold_on_the_ensemble(data):
    X, Y = data
    clf = ensemble(target_accuracy=0.9, max_epochs=15).fit(X, Y)
    assert clf.path_threshold_ is not None
    coverage = clf.held_out_coverage_
    assert coverage["accuracy_bound"] >= 0.9 or not np.isfinite(clf.path_threshold_)
    paths = clf.predict(X)
    assert paths.dtype == object


def test_sparse_input_shares_the_first_layer(data):
    X, Y = data
    Xs = sp.csr_matrix(np.where(X > 0.5, X, 0.0))
    clf = ensemble(max_epochs=15).fit(Xs, Y)
    network = clf.net_.module_
    assert network.n_members == 3
    assert sum(1 for name, _ in network.named_parameters() if "r" == name[-1]) > 0
    dense = clf.predict_proba(Xs.toarray())
    for got, want in zip(clf.predict_proba(Xs), dense):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


def test_repeated_labels(data):
    X, Y = data
    Y = sub_codes(Y)
    clf = ensemble().fit(X, Y)
    assert clf.hierarchy_.has_repeated_labels
    for proba in clf.predict_proba(X):
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)


def test_pickle_and_skops_round_trip(fitted, data, tmp_path):
    sio = pytest.importorskip("skops.io")
    X, _ = data
    expected = fitted.predict_proba(X)
    loaded = pickle.loads(pickle.dumps(fitted))
    for got, want in zip(loaded.predict_proba(X), expected):
        np.testing.assert_array_equal(got, want)
    path = tmp_path / "ensemble.skops"
    sio.dump(fitted, path)
    restored = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    for got, want in zip(restored.predict_proba(X), expected):
        np.testing.assert_array_equal(got, want)


def test_onnx_graph_averages_the_members(fitted, data):
    pytest.importorskip("onnxruntime")
    import onnxruntime

    from mgclassifier.onnx import to_onnx

    X, _ = data
    X = X.astype(np.float32)
    model = to_onnx(fitted)
    session = onnxruntime.InferenceSession(model.SerializeToString())
    outputs = session.run(None, {session.get_inputs()[0].name: X})
    names = [output.name for output in session.get_outputs()]
    probas = [out for name, out in zip(names, outputs) if "proba" in name]
    for got, want in zip(probas, fitted.predict_proba(X)):
        # float32 through two different runtimes: a few roundings apart.
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)


def test_warm_start_continues_and_the_member_count_is_part_of_the_network(data):
    X, Y = data
    clf = ensemble(warm_start=True, max_epochs=2).fit(X, Y)
    clf.fit(X, Y)
    assert clf.n_epochs_ == 4
    with pytest.raises(ValueError, match="n_members=2 differs from 3"):
        clf.set_params(n_members=2).fit(X, Y)


def test_a_custom_trunk_or_no_hidden_layer_is_refused_before_training(data):
    X, Y = data
    with pytest.raises(ValueError, match="built-in trunk"):
        ensemble(module=TableMLP, module__width=8).fit(X, Y)
    with pytest.raises(ValueError, match="at least one hidden layer"):
        ensemble(hidden_layer_sizes=()).fit(X, Y)
    with pytest.raises(ValueError, match="'n_members' parameter"):
        ensemble(n_members=0).fit(X, Y)


def test_the_same_seed_gives_the_same_ensemble(data):
    X, Y = data
    first = ensemble(max_epochs=2).fit(X, Y).predict_proba(X)
    second = ensemble(max_epochs=2).fit(X, Y).predict_proba(X)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
