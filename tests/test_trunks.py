"""A trunk of one's own: ``module=``, its ``module__`` parameters, inputs
beyond flat tables, heads at different depths, bad trunks, persistence."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from _helpers import TINY_BUDGETS, assert_same_proba, make_tree_data, tiny_classifier
from _trunks import Failing, ThreeOutputs, TokenBag, Unflattened
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold

from mgclassifier import MultiGranularityClassifier
from mgclassifier._network._module import MultiHeadMLP, TrunkWithHeads
from mgclassifier._prediction import _predict
from mgclassifier.trunks import ResidualMLP, SmallCNN

pytestmark = TINY_BUDGETS  # small models, few epochs, on purpose

sio = pytest.importorskip("skops.io")


@pytest.fixture(scope="module")
def data():
    return make_tree_data(n_samples=160)


def image_data(n=120, seed=0):
    """(n, 1, 6, 6) images: a bright quadrant is the fine class, its half the coarse."""
    rng = np.random.RandomState(seed)
    fine = rng.randint(4, size=n)
    X = rng.normal(scale=0.3, size=(n, 1, 6, 6)).astype(np.float32)
    for i, quadrant in enumerate(fine):
        r, c = divmod(quadrant, 2)
        X[i, 0, 3 * r : 3 * r + 3, 3 * c : 3 * c + 3] += 2.0
    Y = np.column_stack([np.where(fine < 2, "top", "bottom"), fine.astype(str)])
    return X, Y


def token_data(n=160, seed=0):
    """(n, 7) int32 token ids; the fine class owns a block of 10 tokens."""
    rng = np.random.RandomState(seed)
    fine = rng.randint(4, size=n)
    X = (10 * fine[:, None] + rng.randint(10, size=(n, 7))).astype(np.int32)
    Y = np.column_stack([np.where(fine < 2, "a", "b"), fine.astype(str)])
    return X, Y


# ------------------------------------------------------------ default trunk
def test_default_trunk_is_unchanged(data):
    X, Y = data
    default = tiny_classifier(max_epochs=3).fit(X, Y)
    explicit = tiny_classifier(max_epochs=3, module=None, head_layers=None).fit(X, Y)
    assert_same_proba(default.predict_proba(X), explicit.predict_proba(X))
    module = default.net_.module_
    assert type(module) is MultiHeadMLP and module.head_layers is None
    # The same network as before heads could move: same parameters, same net
    # parameters (no head_layers entry when it is not set).
    assert list(module.state_dict()) == [
        "input_mean",
        "input_scale",
        "trunk.0.weight",
        "trunk.0.bias",
        "heads.weight",
        "heads.bias",
    ]
    assert not hasattr(default.net_, "module__head_layers")


def test_heads_all_on_last_layer_equal_the_default(data):
    X, Y = data
    params = dict(max_epochs=3, hidden_layer_sizes=(16, 8))
    default = tiny_classifier(**params).fit(X, Y)
    last = tiny_classifier(**params, head_layers=[1, -1]).fit(X, Y)
    assert_same_proba(default.predict_proba(X), last.predict_proba(X))


# -------------------------------------------------- module= and module__*
def test_module_params_get_set_clone(data):
    clf = MultiGranularityClassifier(module=ResidualMLP, module__width=16)
    assert clf.get_params()["module__width"] == 16
    assert clf.get_params(deep=False)["module__width"] == 16
    clf.set_params(module__width=8, module__n_blocks=1, lr=1e-3)
    cloned = clone(clf)
    assert cloned.module is ResidualMLP
    assert cloned.module__width == 8 and cloned.module__n_blocks == 1
    assert cloned.lr == 1e-3
    assert "module__width=8" in repr(cloned)
    with pytest.raises(TypeError, match="hiden_layer_sizes"):
        MultiGranularityClassifier(hiden_layer_sizes=(3,))
    with pytest.raises(ValueError, match="Invalid parameter"):
        clf.set_params(hiden_layer_sizes=(3,))


def test_grid_search_tunes_module_params(data):
    X, Y = data
    search = GridSearchCV(
        tiny_classifier(module=ResidualMLP, module__n_blocks=1, max_epochs=2),
        {"module__width": [4, 12]},
        cv=KFold(2),
    ).fit(X, Y)
    assert [p["module__width"] for p in search.cv_results_["params"]] == [4, 12]
    best = search.best_estimator_
    assert best.net_.module_.trunk.first.out_features == best.module__width
    assert best.net_.module_.trunk.blocks.__len__() == 1


def test_output_width_found_by_a_dry_forward(data):
    X, Y = data
    clf = tiny_classifier(module=ResidualMLP, module__width=12, max_epochs=2).fit(X, Y)
    module = clf.net_.module_
    assert isinstance(module, TrunkWithHeads)
    assert module.heads.in_features == 12
    assert module.heads.out_features == sum(clf.hierarchy_.n_classes)
    # n_features was filled in from X.
    assert module.trunk.first.in_features == X.shape[1]
    assert clf.net_.module__trunk_params["n_features"] == X.shape[1]


def test_custom_trunk_flat_floats_are_standardised(data):
    X, Y = data
    clf = tiny_classifier(module=ResidualMLP, module__width=8, max_epochs=2).fit(X, Y)
    np.testing.assert_allclose(
        clf.net_.module_.input_mean.numpy(), X.mean(0), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(
        clf.net_.module_.input_scale.numpy(), X.std(0), rtol=1e-4
    )


def test_trunk_instance_is_copied_not_trained(data):
    X, Y = data
    trunk = ResidualMLP(X.shape[1], width=8)
    before = {k: v.clone() for k, v in trunk.state_dict().items()}
    clf = tiny_classifier(module=trunk, max_epochs=15).fit(X, Y)
    for key, value in trunk.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)
    assert clf.net_.module_.trunk is not trunk
    assert clf.score(X, Y) > 0.3
    with pytest.raises(ValueError, match="need module to be a class"):
        tiny_classifier(module=trunk, module__width=4).fit(X, Y)


# --------------------------------------------------------- inputs beyond 2-D
def test_image_arrays_with_a_cnn():
    X, Y = image_data()
    clf = tiny_classifier(
        module=SmallCNN, module__n_filters=4, max_epochs=25, lr=1e-2
    ).fit(X, Y)
    assert clf.n_features_in_ == 1  # channels
    assert clf.net_.module_.input_mean is None  # images are not standardised
    proba = clf.predict_proba(X)
    assert [p.shape for p in proba] == [(120, 2), (120, 4)]
    np.testing.assert_allclose(proba[0].sum(1), 1, rtol=1e-6)
    assert clf.predict(X).shape == (120, 2)
    assert clf.score(X, Y) > 0.6  # chance: 0.25
    # Small (numpy-free) and large batches agree.
    np.testing.assert_allclose(clf.predict_proba(X[:3])[1], proba[1][:3], rtol=1e-5)
    with pytest.raises(ValueError, match="features"):
        clf.predict(np.repeat(X, 3, axis=1))  # 3 channels, fitted on 1


def test_image_predictions_chunk_along_the_first_axis_and_partial_fit(monkeypatch):
    X, Y = image_data(n=60)
    clf = tiny_classifier(module=SmallCNN, module__n_filters=4, max_epochs=2)
    clf.partial_fit(X, Y).partial_fit(X, Y)
    assert clf.n_epochs_ == 2
    whole = clf.predict_node_proba(X)
    assert whole[-1].shape == (60, clf.hierarchy_.n_nodes[-1])
    monkeypatch.setattr(_predict, "CPU_CHUNK_ELEMENTS", 1)
    monkeypatch.setattr(_predict, "MIN_CHUNK_ROWS", 7)  # chunks of 7 images
    for got, want in zip(clf.predict_node_proba(X), whole):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    monkeypatch.undo()
    # A read-only input (a memory map) is copied, not handed to the trunk.
    proba = clf.predict_proba(X)
    X.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns on non-writable arrays
        assert_same_proba(clf.predict_proba(X), proba)


def test_integer_features_for_a_float_trunk_get_a_hint(data):
    X, Y = data
    with pytest.raises(ValueError, match=r"failed on a batch.*int64.*X.astype"):
        tiny_classifier(module=ResidualMLP).fit(np.round(X).astype(int), Y)


def test_token_ids_stay_int64():
    X, Y = token_data()
    clf = tiny_classifier(module=TokenBag, max_epochs=20, lr=1e-2).fit(X, Y)
    assert clf.net_.module_.input_mean is None
    assert clf.score(X, Y) > 0.6
    # TokenBag raises on anything but int64: predictions went through as int64.
    assert clf.predict(X.astype(np.int16)).shape == (len(X), 2)


def test_custom_trunk_inputs_are_validated_as_usual():
    X, Y = image_data(n=20)
    X_nan = X.copy()
    X_nan[3, 0, 2, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        tiny_classifier(module=SmallCNN).fit(X_nan, Y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        tiny_classifier(module=SmallCNN).fit(X[:10], Y)
    assert (
        not MultiGranularityClassifier(module=SmallCNN)
        .__sklearn_tags__()
        .input_tags.sparse
    )
    assert MultiGranularityClassifier().__sklearn_tags__().input_tags.sparse


def test_trunk_that_cannot_be_built_is_named(data):
    X, Y = data
    with pytest.raises(TypeError, match="module ResidualMLP could not be built.*depth"):
        tiny_classifier(module=ResidualMLP, module__depth=3).fit(X, Y)


def test_builtin_trunk_keeps_its_validation():
    X, Y = image_data(n=20)
    with pytest.raises(ValueError, match="dim 4"):
        tiny_classifier().fit(X, Y)
    with pytest.raises(TypeError, match="dense"):
        tiny_classifier(module=ResidualMLP).fit(sp.csr_matrix(np.eye(20)), Y)


# ------------------------------------------------------------ heads at depths
def test_heads_at_depths_builtin(data):
    X, Y = data
    clf = tiny_classifier(
        hidden_layer_sizes=(16, 8), head_layers=[0, 1], dropout=0.1
    ).fit(X, Y)
    module = clf.net_.module_
    assert [h.in_features for h in module.level_heads] == [16, 8]
    assert module.heads is None
    # A few rows get the probabilities of a larger call, and sparse input
    # goes through the same heads.
    np.testing.assert_allclose(
        clf.predict_proba(X[:5])[1], clf.predict_proba(X)[1][:5], rtol=1e-5
    )
    np.testing.assert_allclose(
        clf.predict_proba(sp.csr_matrix(X))[1], clf.predict_proba(X)[1], atol=1e-5
    )
    assert clf.score(X, Y) > 0.5
    # Pickles with its depths.
    loaded = pickle.loads(pickle.dumps(clf))
    assert_same_proba(loaded.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize(
    "head_layers, match",
    [([0], "one layer index per level"), ([0, 2], r"in \[-2, 1\]"), ([0, 0.5], "int")],
)
def test_bad_head_layers(data, head_layers, match):
    X, Y = data
    clf = tiny_classifier(hidden_layer_sizes=(16, 8), head_layers=head_layers)
    with pytest.raises(ValueError, match=match):
        clf.fit(X, Y)


def test_head_layers_need_the_builtin_trunk(data):
    X, Y = data
    with pytest.raises(ValueError, match="built-in trunk"):
        tiny_classifier(module=ResidualMLP, head_layers=[0, 0]).fit(X, Y)
    with pytest.raises(ValueError, match="module=None"):
        tiny_classifier(module__width=3).fit(X, Y)


def test_custom_trunk_one_tensor_per_level(data):
    X, Y = data
    clf = tiny_classifier(
        module=ResidualMLP, module__width=8, module__level_blocks=(0, 1), max_epochs=5
    ).fit(X, Y)
    module = clf.net_.module_
    assert module.per_level and len(module.heads) == 2
    assert [h.out_features for h in module.heads] == list(clf.hierarchy_.n_classes)
    assert clf.score(X, Y) > 0.3


# ------------------------------------------------------------------ bad trunks
@pytest.mark.parametrize(
    "module, error, match",
    [
        ("cnn", TypeError, "torch.nn.Module class or instance.*'cnn'"),
        (torch.nn.functional.relu, TypeError, "torch.nn.Module class"),
        (Failing, ValueError, r"module Failing failed on a batch of shape \(2, 6\)"),
        (Unflattened, ValueError, r"module Unflattened returned .*shape \(2, 2, 3\)"),
        (ThreeOutputs, ValueError, "module ThreeOutputs returned 3 tensors"),
    ],
)
def test_bad_trunks_fail_before_training_and_keep_the_fitted_model(
    data, module, error, match
):
    X, Y = data
    clf = tiny_classifier(max_epochs=2).fit(X, Y)
    net, proba = clf.net_, clf.predict_proba(X)
    clf.set_params(module=module)
    with pytest.raises(error, match=match):
        clf.fit(X, Y)
    assert clf.net_ is net and clf.module is module
    assert_same_proba(clf.predict_proba(X), proba)


def test_warm_start_refuses_another_trunk(data):
    X, Y = data
    clf = tiny_classifier(
        module=ResidualMLP, module__width=8, max_epochs=2, warm_start=True
    ).fit(X, Y)
    clf.fit(X, Y)  # same trunk: continues
    assert clf.n_epochs_ == 4
    clf.set_params(module__width=16)
    with pytest.raises(ValueError, match="module__width=16 differs from 8"):
        clf.fit(X, Y)
    clf.set_params(module__width=8, module=SmallCNN)
    with pytest.raises(ValueError, match="module=.*SmallCNN"):
        clf.fit(X, Y)
    builtin = tiny_classifier(hidden_layer_sizes=(16, 8), max_epochs=2, warm_start=True)
    builtin.fit(X, Y).set_params(head_layers=[0, 1])
    with pytest.raises(ValueError, match="head_layers"):
        builtin.fit(X, Y)


# ----------------------------------------------------------------- persistence
TRUNK_SKOPS_TYPES = {
    "mgclassifier._network._module.TrunkWithHeads",
    "mgclassifier.trunks.SmallCNN",
}


def test_pickle_and_skops_round_trip_a_custom_trunk(tmp_path):
    from test_persistence import SKOPS_TRUSTED_TYPES

    X, Y = image_data(n=60)
    clf = tiny_classifier(module=SmallCNN, module__n_filters=4, max_epochs=3).fit(X, Y)
    loaded = pickle.loads(pickle.dumps(clf))
    assert_same_proba(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.get_params() == clf.get_params()

    trusted = sorted(
        set(SKOPS_TRUSTED_TYPES) - {"mgclassifier._network._module.MultiHeadMLP"}
        | TRUNK_SKOPS_TYPES
    )
    path = tmp_path / "cnn.skops"
    sio.dump(clf, path)
    assert sio.get_untrusted_types(file=path) == trusted
    loaded = sio.load(path, trusted=trusted)
    assert_same_proba(loaded.predict_proba(X), clf.predict_proba(X))
    assert not loaded.net_.module_.training  # batch norm stays in eval mode


def test_pickle_round_trips_a_trunk_instance(data):
    X, Y = data
    clf = tiny_classifier(module=ResidualMLP(X.shape[1], width=8), max_epochs=2)
    clf.fit(X, Y)
    loaded = pickle.loads(pickle.dumps(clf))
    assert_same_proba(loaded.predict_proba(X), clf.predict_proba(X))
