"""Reliability: bad input fails early and clearly, a failure loses nothing,
hard but legal data trains, training faults are contained, results repeat."""

import re
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from _helpers import (
    TINY_BUDGETS,
    assert_coherent,
    assert_valid_paths,
    make_tree_data,
    tiny_classifier,
)
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mgclassifier import FitInterruptedWarning, MultiGranularityClassifier, _estimator
from mgclassifier._network._net import MultiGranularityNet

pytestmark = TINY_BUDGETS  # small models, few epochs, on purpose


def fast_clf(**params):
    return tiny_classifier(**{"max_epochs": 5, **params})


def small_data(n_samples=40):
    """4 features; coarse 'a'/'b', fine 'a1','a2','b1','b2' cycling by row."""
    rng = np.random.RandomState(0)
    fine = np.array(["a1", "a2", "b1", "b2"])[np.arange(n_samples) % 4]
    coarse = np.array([label[0] for label in fine])
    X = rng.normal(size=(n_samples, 4)) + 3 * (np.arange(n_samples) % 4)[:, None]
    return X, np.column_stack([coarse, fine])


def assert_proba_ok(clf, X):
    """Finite, rows summing to 1, coarse equal to the sum of its children."""
    probas = clf.predict_proba(X)
    probas = [probas] if isinstance(probas, np.ndarray) else probas
    for proba in probas:
        assert np.all(np.isfinite(proba))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert_coherent(probas, clf.hierarchy_.parents)
    return probas


# ----------------------------------------------------------------------------
# 1. Bad input: ValueError or TypeError before any training, naming the problem
# ----------------------------------------------------------------------------
def _with(Y, row, col, value):
    Y = np.asarray(Y, dtype=object).copy()
    Y[row, col] = value
    return Y


def _x_with(X, value):
    X = X.copy()
    X[3, 2] = value
    return X


def _text_column(X):
    """X as objects with colour names in column 2 (after numbers as text)."""
    X = X.astype(object)
    X[:, 1] = X[:, 1].astype(str)  # numbers written as text convert fine
    X[:, 2] = np.where(np.arange(len(X)) % 2, "blue", "red")
    return X


def _fit(Xf=None, Yf=None, sample_weight=None, **params):
    """A case that fits fast_clf(**params) on transformed small_data."""

    def case(fitted, X, Y):
        Xc = X if Xf is None else Xf(X)
        Yc = Y if Yf is None else Yf(Y)
        fast_clf(**params).fit(Xc, Yc, sample_weight=sample_weight)

    return case


def _predict(Xf):
    def case(fitted, X, Y):
        fitted.predict_proba(Xf(X))

    return case


def _param(name, value, match_value):
    return pytest.param(
        _fit(**{name: value}),
        ValueError,
        rf"'{name}' parameter .*Got {match_value} instead",
        id=f"{name}={value!r}",
    )


BAD_INPUT = [
    # -- X
    pytest.param(
        _fit(Xf=lambda X: _x_with(X, np.nan)),
        ValueError,
        "Input X contains NaN",
        id="nan-in-X",
    ),
    pytest.param(
        _fit(Xf=lambda X: _x_with(X, np.inf)),
        ValueError,
        "Input X contains infinity",
        id="inf-in-X",
    ),
    pytest.param(
        _fit(Xf=lambda X: np.full(X.shape, "x")),
        ValueError,
        r"X column 0 holds text \(e.g. 'x'\)",
        id="strings-in-X",
    ),
    pytest.param(
        _fit(Xf=lambda X: X[:, :, None]),
        ValueError,
        "Found array with dim 3",
        id="3d-X",
    ),
    pytest.param(
        _fit(Xf=lambda X: X[:0], Yf=lambda Y: Y[:0]),
        ValueError,
        r"0 sample\(s\) \(shape=\(0, 4\)\) while a minimum of 2",
        id="empty-X",
    ),
    pytest.param(
        _fit(Xf=lambda X: X[:1], Yf=lambda Y: Y[:1]),
        ValueError,
        r"1 sample\(s\) \(shape=\(1, 4\)\) while a minimum of 2",
        id="one-sample",
    ),
    pytest.param(
        _fit(Yf=lambda Y: Y[:-1]),
        ValueError,
        r"inconsistent numbers of samples: \[40, 39\]",
        id="len-X-ne-len-Y",
    ),
    pytest.param(
        _predict(lambda X: X[:, :3]),
        ValueError,
        "X has 3 features, but MultiGranularityClassifier is expecting 4",
        id="predict-wrong-n-features",
    ),
    pytest.param(
        _predict(lambda X: _x_with(X, np.nan)),
        ValueError,
        "Input X contains NaN",
        id="predict-nan-in-X",
    ),
    pytest.param(
        _predict(lambda X: _x_with(X, -np.inf)),
        ValueError,
        "Input X contains infinity",
        id="predict-inf-in-X",
    ),
    pytest.param(
        # Finite in float64, infinite once cast to float32, which a sparse
        # matrix's first layer reads (dense float64 rows run a float64 net).
        _predict(lambda X: sp.csr_matrix(_x_with(X.astype(np.float64), 1e39))),
        ValueError,
        "Input X contains infinity or a value too large for dtype",
        id="predict-float32-overflow",
        marks=pytest.mark.filterwarnings("ignore:overflow encountered in cast"),
    ),
    pytest.param(
        _predict(lambda X: X[:0]),
        ValueError,
        "0 sample",
        id="predict-no-rows",
    ),
    pytest.param(
        _predict(lambda X: X[:, :, None]),
        ValueError,
        "Found array with dim 3",
        id="predict-3d-X",
    ),
    # -- Y: the hierarchy
    pytest.param(
        _fit(Yf=lambda Y: _with(_with(Y, 0, 0, "c"), 0, 1, None)),
        ValueError,
        r"Class 'c' at level 0 \(e.g. row 0\) has no labelled child at level 1",
        id="no-child-after-partial-label",
    ),
    pytest.param(
        _fit(Yf=lambda Y: np.column_stack([np.full(len(Y), "only"), Y[:, 1]])),
        ValueError,
        r"Level 0 of Y has only one class \('only'\)",
        id="coarse-level-single-class",
    ),
    pytest.param(
        _fit(Yf=lambda Y: np.full(len(Y), 5)),
        ValueError,
        r"Level 0 of Y has only one class \(5\)",
        id="1d-y-single-class",
    ),
    pytest.param(
        _fit(Yf=lambda Y: _with(Y, 0, 0, None)),
        ValueError,
        r"label at level 1 \('a1', row 0\) under a missing label at level 0",
        id="missing-coarse-None",
    ),
    pytest.param(
        _fit(Yf=lambda Y: [list(row) for row in Y[:-1]] + [[Y[-1, 0]]]),
        ValueError,
        r"rows have different lengths \(row 0 has 2 labels, row 39 1\).*pad a "
        r"shorter path with None",
        id="ragged-y",
    ),
    pytest.param(
        _fit(Xf=lambda X: _text_column(X)),
        ValueError,
        r"X column 2 holds text \(e.g. 'red'\).*OneHotEncoder.*TfidfVectorizer",
        id="text-column-in-X-array",
    ),
    pytest.param(
        _fit(Xf=lambda X: pd.DataFrame(_text_column(X), columns=list("abcd"))),
        ValueError,
        r"X column 'c' holds text \(e.g. 'red'\).*OneHotEncoder.*TfidfVectorizer",
        id="text-column-in-X-dataframe",
    ),
    pytest.param(
        _fit(Yf=lambda Y: _with(Y, 5, 0, np.nan)),
        ValueError,
        r"label at level 1 \('a2', row 5\) under a missing label at level 0",
        id="missing-coarse-NaN",
    ),
    pytest.param(
        _fit(Yf=lambda Y: _with(Y, 6, 0, "").astype(str)),
        ValueError,
        r"label at level 1 \('b1', row 6\) under a missing label at level 0",
        id="missing-coarse-empty-string",
    ),
    pytest.param(
        _fit(Yf=lambda Y: _with(_with(Y, 0, 0, 0), 1, 0, 1)),
        ValueError,
        r"mixes string and number labels at level 0 \(e.g. 'b' and 0\)",
        id="mixed-str-int-coarse",
    ),
    pytest.param(
        _fit(Yf=lambda Y: _with(Y, 3, 1, 42)),
        ValueError,
        r"mixes string and number labels at level 1 \(e.g. 'a1' and 42\)",
        id="mixed-str-int-fine",
    ),
    pytest.param(
        _fit(Yf=lambda Y: np.linspace(0, 1, len(Y)) + 0.01),
        ValueError,
        r"level 0 of Y looks 'continuous' \(e.g. 0.01\)",
        id="continuous-1d-y",
    ),
    pytest.param(
        _fit(
            Yf=lambda Y: np.column_stack([np.arange(len(Y)) % 2, np.full(len(Y), 0.5)])
        ),
        ValueError,
        r"level 1 of Y looks 'continuous' \(e.g. 0.5\)",
        id="continuous-2d-y",
    ),
    pytest.param(
        _fit(
            Yf=lambda Y: np.where(np.arange(len(Y)) == 0, np.nan, np.arange(len(Y)) % 2)
        ),
        ValueError,
        "Input y contains NaN",
        id="nan-in-1d-y",
    ),
    pytest.param(
        _fit(Yf=lambda Y: Y[:, :0]),
        ValueError,
        "y has no columns",
        id="y-without-columns",
    ),
    pytest.param(
        _fit(Yf=lambda Y: None),
        ValueError,
        "requires y to be passed",
        id="y-None",
    ),
    # -- sample_weight
    pytest.param(
        _fit(sample_weight=np.ones(5)),
        ValueError,
        r"sample_weight.shape == \(5,\), expected \(40,\)",
        id="sample-weight-length",
    ),
    pytest.param(
        _fit(sample_weight=np.r_[np.nan, np.ones(39)]),
        ValueError,
        "Input sample_weight contains NaN",
        id="sample-weight-nan",
    ),
    pytest.param(
        _fit(sample_weight=np.r_[-1.0, np.ones(39)]),
        ValueError,
        "Negative values in data passed to `sample_weight`",
        id="sample-weight-negative",
    ),
    # -- parameters
    pytest.param(
        lambda fitted, X, Y: fast_clf().set_params(foo=1),
        ValueError,
        "Invalid parameter 'foo' for estimator",
        id="set_params-unknown",
    ),
    pytest.param(
        lambda fitted, X, Y: MultiGranularityClassifier(foo=1),
        TypeError,
        "unexpected keyword argument 'foo'",
        id="constructor-unknown",
    ),
    _param("activation", "swish", "'swish'"),
    _param("dropout", -0.1, r"-0\.1"),
    _param("validation_fraction", 1.0, r"1\.0"),
    _param("max_epochs", 0, "0"),
    _param("batch_size", 0, "0"),
    _param("lr", 0, "0"),
    _param("patience", 0, "0"),
    _param("label_smoothing", 1.0, r"1\.0"),
    _param("alpha_l2", -1e-4, r"-0\.0001"),
    _param("weight_averaging", 1.0, r"1\.0"),
    _param("device", 3, "3"),
    _param("min_path_probability", 1.5, r"1\.5"),
    _param("min_path_probability", -0.1, r"-0\.1"),
    _param("min_path_probability", "high", "'high'"),
    _param("min_path_probability", float("nan"), "nan"),
    pytest.param(
        _fit(level_weights=[1.0]),
        ValueError,
        r"one weight per level \(2\), got shape \(1,\)",
        id="level_weights-wrong-length",
    ),
    pytest.param(
        _fit(level_weights=[1.0, -0.5]),
        ValueError,
        r"non-negative and not all zero; got \[1.0, -0.5\]",
        id="level_weights-negative",
    ),
    pytest.param(
        _fit(level_weights=[0, 0]),
        ValueError,
        r"non-negative and not all zero; got \[0.0, 0.0\]",
        id="level_weights-all-zero",
    ),
    pytest.param(
        _fit(hidden_layer_sizes=(8, -3)),
        ValueError,
        r"hidden_layer_sizes must be positive, got -3 in \[8, -3\]",
        id="hidden_layer_sizes-negative",
    ),
    pytest.param(
        _fit(hidden_layer_sizes=(0,)),
        ValueError,
        r"hidden_layer_sizes must be positive, got 0",
        id="hidden_layer_sizes-zero",
    ),
    pytest.param(
        _fit(hidden_layer_sizes=(2.5,)),
        ValueError,
        r"hidden_layer_sizes must hold integers, got 2.5",
        id="hidden_layer_sizes-float",
    ),
    pytest.param(
        _fit(
            Xf=lambda X: X[:3],
            Yf=lambda Y: Y[:3],
            early_stopping=True,
            validation_fraction=0.9,
        ),
        ValueError,
        r"validation_fraction=0.9 leaves no training data out of 3 samples",
        id="validation-leaves-no-training-data",
    ),
    pytest.param(
        _fit(device="nonsense"),
        ValueError,
        "device='nonsense' is not a valid torch device",
        id="device-nonsense",
    ),
    # -- combinations: raised with the rest, before anything trains
    pytest.param(
        _fit(distributed=True, checkpoint_dir="unused"),
        ValueError,
        "distributed=True trains a fit from scratch",
        id="distributed-with-checkpoint_dir",
    ),
    pytest.param(
        _fit(target_accuracy=0.9, min_path_probability=0.5),
        ValueError,
        "both set the threshold",
        id="target_accuracy-with-min_path_probability",
    ),
    pytest.param(
        lambda fitted, X, Y: fast_clf(target_accuracy=0.9).partial_fit(X, Y),
        ValueError,
        "partial_fit holds none out",
        id="partial_fit-with-target_accuracy",
    ),
    pytest.param(
        _fit(hidden_layer_sizes=(8,), head_layers=[0, 1]),
        ValueError,
        r"head_layers=\[0, 1\] must give one layer index per level",
        id="head_layers-out-of-range",
    ),
    pytest.param(
        _fit(class_weight={"nope": 2.0}),
        ValueError,
        "class_weight names label 'nope'",
        id="class_weight-unknown-label",
    ),
    pytest.param(
        _fit(module=torch.nn.Linear, module__in_features=6),
        TypeError,
        "module Linear could not be built",
        id="custom-trunk-cannot-be-built",
    ),
    pytest.param(
        _fit(device="cuda"),
        ValueError,
        "device='cuda' was requested but CUDA is not available",
        id="device-cuda-without-cuda",
        marks=pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present"),
    ),
]
N_BAD_INPUT_CASES = len(BAD_INPUT)


@pytest.fixture(scope="module")
def fitted_small():
    X, Y = small_data()
    return fast_clf(max_epochs=2).fit(X, Y)


@pytest.fixture
def no_training(monkeypatch):
    """Reaching training fails loudly: proves every check (parameters, data,
    their combinations) raises first, before ``train`` copies X, moves it to
    a device or starts processes."""

    def train(*args, **kwargs):
        raise AssertionError("train was called before the checks raised")

    monkeypatch.setattr(_estimator, "train", train)


@pytest.mark.parametrize("case, error, match", BAD_INPUT)
def test_bad_input_fails_before_training(fitted_small, no_training, case, error, match):
    X, Y = small_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        with pytest.raises(error, match=match):
            case(fitted_small, X, Y)


# ----------------------------------------------------------------------------
# 2. Nothing lost: a failed fit or predict leaves a fitted estimator as it was
# ----------------------------------------------------------------------------
def _snapshot(clf, X):
    return (
        dict(vars(clf)),
        {k: v.clone() for k, v in clf.net_.module_.state_dict().items()},
        clf.predict_proba(X),
    )


def _assert_unchanged(clf, X, snapshot):
    attributes, weights, probas = snapshot
    assert vars(clf).keys() == attributes.keys()
    for key, value in attributes.items():
        assert vars(clf)[key] is value, key
    for key, value in clf.net_.module_.state_dict().items():
        assert torch.equal(value, weights[key]), key
    for a, b in zip(clf.predict_proba(X), probas):
        np.testing.assert_array_equal(a, b)


def _raise_mid_training(monkeypatch):
    original = MultiGranularityNet.on_epoch_end

    def on_epoch_end(self, net, **kwargs):
        original(self, net, **kwargs)
        if len(self.history) == 2:
            raise RuntimeError("disk full")

    monkeypatch.setattr(MultiGranularityNet, "on_epoch_end", on_epoch_end)


@pytest.mark.parametrize(
    "failure",
    ["missing-coarse-label", "nan-in-X", "continuous-y", "mid-training-error"],
)
def test_failed_fit_leaves_fitted_estimator_unchanged(monkeypatch, failure):
    X, Y = small_data()
    clf = fast_clf(max_epochs=3).fit(X, Y)
    snapshot = _snapshot(clf, X)
    net = clf.net_
    Xb, Yb, error = X, Y, ValueError
    if failure == "missing-coarse-label":
        Yb = _with(Y, 0, 0, None)
    elif failure == "nan-in-X":
        Xb = _x_with(X, np.nan)
    elif failure == "continuous-y":
        Yb = np.linspace(0.1, 0.9, len(X))
    else:
        _raise_mid_training(monkeypatch)
        Xb, error = X + 1.0, RuntimeError
    with pytest.raises(error):
        clf.fit(Xb, Yb)
    assert clf.net_ is net
    _assert_unchanged(clf, X, snapshot)


def test_failed_predict_changes_nothing(fitted_small):
    X, _ = small_data()
    snapshot = _snapshot(fitted_small, X)
    with pytest.raises(ValueError, match="X has 5 features"):
        fitted_small.predict_proba(np.c_[X, X[:, :1]])
    with pytest.raises(ValueError, match="X has 5 features"):
        fitted_small.predict(np.c_[X, X[:, :1]])
    _assert_unchanged(fitted_small, X, snapshot)


# ----------------------------------------------------------------------------
# 3. Hard but legal data
# ----------------------------------------------------------------------------
def test_singleton_classes_under_early_stopping():
    X, Y = make_tree_data(n_samples=120, n_features=4, seed=1)
    Y = Y.astype(object)
    Y[0] = ["0", "0/lonely"]  # a fine singleton under a common parent
    Y[1] = ["9", "9/0"]  # a coarse singleton whose only child is a singleton
    Y[2] = ["1", "1/x"]
    X[1] += 20.0
    clf = fast_clf(early_stopping=True, validation_fraction=0.2, patience=2)
    clf.fit(X, Y)
    assert {"0/lonely", "9/0", "1/x"} <= set(clf.classes_[1])
    assert "9" in clf.classes_[0]
    assert_valid_paths(clf.predict(X), Y)
    assert_proba_ok(clf, X)
    assert 1 <= clf.best_epoch_ <= clf.n_epochs_


def test_extremely_imbalanced_levels():
    rng = np.random.RandomState(0)
    n = 1000
    fine = np.array(["big/0"] * 995 + ["big/1"] * 2 + ["small/0"] * 3, dtype=object)
    coarse = np.array([label.split("/")[0] for label in fine])
    X = rng.normal(size=(n, 5))
    X[fine != "big/0", 0] += 6.0
    Y = np.column_stack([coarse, fine])
    clf = fast_clf(batch_size=64).fit(X, Y)
    Y_pred = clf.predict(X)
    assert_valid_paths(Y_pred, Y)
    probas = assert_proba_ok(clf, X)
    assert probas[1].min() >= 0.0
    assert clf.score(X, Y) >= 0.99
    assert np.mean(Y_pred[:, 0] == coarse) >= 0.99


def test_thousand_fine_classes():
    rng = np.random.RandomState(0)
    leaf = rng.permutation(np.arange(3000) % 1000)  # 3 samples per leaf
    coarse = leaf // 100
    X = (
        rng.normal(scale=4.0, size=(10, 8))[coarse]
        + rng.normal(scale=1.5, size=(1000, 8))[leaf]
        + rng.normal(scale=0.5, size=(3000, 8))
    )
    Y = np.column_stack([coarse, leaf])
    clf = fast_clf(early_stopping=False, max_epochs=4).fit(X, Y)
    assert [len(c) for c in clf.classes_] == [10, 1000]
    probas = assert_proba_ok(clf, X)
    assert [p.shape for p in probas] == [(3000, 10), (3000, 1000)]
    assert_valid_paths(clf.predict(X[:500]), Y)
    assert np.mean(probas[0].argmax(1) == coarse) > 0.5  # chance 0.1
    assert np.mean(probas[1].argmax(1) == leaf) > 0.005  # chance 0.001


@pytest.mark.parametrize("constant", [0.0, 1e6, -3.5])
def test_constant_features(tree_data, constant):
    X, Y = tree_data
    n = len(X)
    X = np.c_[np.full(n, constant), X, np.full(n, 1e-30), np.zeros(n)]
    clf = fast_clf(max_epochs=20, lr=1e-2).fit(X, Y)
    assert_proba_ok(clf, X)
    assert clf.score(X, Y) > 0.9


def test_all_features_constant(tree_data):
    X, Y = tree_data
    X = np.ones((len(X), 3))
    clf = fast_clf().fit(X, Y)
    probas = assert_proba_ok(clf, X)
    assert_valid_paths(clf.predict(X), Y)
    for proba in probas:  # no signal: the same prediction for every row
        np.testing.assert_allclose(proba, proba[:1].repeat(len(X), 0), atol=1e-6)


def test_very_large_feature_values(tree_data):
    X, Y = tree_data
    scales = 10.0 ** np.linspace(6, 9, X.shape[1])
    X_big = X * scales + 1e9
    clf = fast_clf(max_epochs=20, lr=1e-2).fit(X_big, Y)
    assert_proba_ok(clf, X_big)
    reference = fast_clf(max_epochs=20, lr=1e-2).fit(X, Y).score(X, Y)
    assert clf.score(X_big, Y) > 0.9
    assert abs(clf.score(X_big, Y) - reference) <= 0.02  # scale does not matter


# ----------------------------------------------------------------------------
# 4. Training faults
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("early_stopping", [True, False])
def test_huge_learning_rate_never_gives_nan(tree_data, early_stopping):
    X, Y = tree_data
    clf = fast_clf(lr=1e4, early_stopping=early_stopping, dropout=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            clf.fit(X, Y)
        except RuntimeError as exc:
            assert re.search("diverged.*lower lr", str(exc))
            assert not hasattr(clf, "net_")
            return
    assert_proba_ok(clf, X)
    assert_valid_paths(clf.predict(X), Y)


def _nan_loss_from(monkeypatch, epoch):
    original = MultiGranularityNet.get_loss

    def get_loss(self, *args, **kwargs):
        loss = original(self, *args, **kwargs)
        return loss * float("nan") if len(self.history) >= epoch else loss

    monkeypatch.setattr(MultiGranularityNet, "get_loss", get_loss)


@pytest.mark.parametrize("early_stopping", [True, False])
def test_divergence_keeps_last_finite_weights(monkeypatch, tree_data, early_stopping):
    X, Y = tree_data
    _nan_loss_from(monkeypatch, epoch=3)
    clf = fast_clf(early_stopping=early_stopping, max_epochs=10)
    with pytest.warns(ConvergenceWarning, match="diverged at epoch 3"):
        clf.fit(X, Y)
    assert clf.n_epochs_ == 3
    assert 1 <= clf.best_epoch_ < 3
    for param in clf.net_.module_.parameters():
        assert torch.isfinite(param).all()
    assert_proba_ok(clf, X)
    assert_valid_paths(clf.predict(X), Y)


@pytest.mark.parametrize("how", ["fit", "warm fit", "pipeline"])
def test_warnings_point_at_the_callers_line(monkeypatch, tree_data, how):
    # Raised several frames deep in fit (and in scikit-learn's wrappers), a
    # warning must name the line of the user's code that called fit.
    X, Y = tree_data
    y = Y[:, 1]
    clf = fast_clf(max_epochs=10)
    if how == "warm fit":
        clf.set_params(warm_start=True).fit(X, y)
    fit = make_pipeline(StandardScaler(), clf).fit if how == "pipeline" else clf.fit
    with pytest.warns(DataConversionWarning, match="column-vector y") as record:
        fit(X, y[:, None])
    resumed_from = clf.n_epochs_ if how == "warm fit" else 0
    _nan_loss_from(monkeypatch, epoch=resumed_from + 3)
    with pytest.warns(ConvergenceWarning, match="diverged") as more:
        fit(X, y)
    ours = (DataConversionWarning, ConvergenceWarning)
    caught = [w for w in [*record, *more] if issubclass(w.category, ours)]
    assert {w.filename for w in caught} == {__file__}
    # (a short fit may also warn that it ran out of max_epochs: test_convergence)
    assert [w.category for w in caught if "max_epochs=" not in str(w.message)] == [
        DataConversionWarning,
        ConvergenceWarning,
    ]


def test_divergence_in_first_epoch_raises_and_keeps_old_model(monkeypatch, tree_data):
    X, Y = tree_data
    clf = fast_clf(max_epochs=3).fit(X, Y)
    snapshot = _snapshot(clf, X)
    _nan_loss_from(monkeypatch, epoch=1)
    with pytest.raises(
        RuntimeError, match="diverged: the loss was not finite in epoch 1"
    ):
        clf.fit(X, Y)
    _assert_unchanged(clf, X, snapshot)
    with pytest.raises(RuntimeError, match="lower lr"):
        fast_clf().fit(X, Y)


@pytest.mark.parametrize("early_stopping", [True, False])
def test_keyboard_interrupt_returns_usable_model(
    monkeypatch, tree_data, early_stopping
):
    X, Y = tree_data
    original = MultiGranularityNet.on_epoch_end

    def on_epoch_end(self, net, **kwargs):
        original(self, net, **kwargs)
        if len(self.history) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(MultiGranularityNet, "on_epoch_end", on_epoch_end)
    clf = fast_clf(early_stopping=early_stopping, max_epochs=20)
    # Epoch 3's callbacks never ran (no train_loss): it is left out.
    with pytest.warns(FitInterruptedWarning, match="in epoch 3; that epoch is left"):
        assert clf.fit(X, Y) is clf
    assert clf.n_epochs_ == len(clf.history_) == 2
    assert all("train_loss" in row for row in clf.history_)
    assert 1 <= clf.best_epoch_ <= 2
    assert_proba_ok(clf, X)
    assert_valid_paths(clf.predict(X), Y)


# ----------------------------------------------------------------------------
# 5. Determinism
# ----------------------------------------------------------------------------
def _probas(clf, X, Y, **fit_params):
    return clf.fit(X, Y, **fit_params).predict_proba(X)


def test_same_seed_same_model_with_dropout_early_stopping_and_weights(tree_data):
    X, Y = tree_data
    weights = np.random.RandomState(1).uniform(0.5, 2.0, size=len(X))
    params = dict(hidden_layer_sizes=(16, 8), dropout=0.5, patience=2, max_epochs=8)
    first = _probas(fast_clf(**params), X, Y, sample_weight=weights)
    second = _probas(fast_clf(**params), X, Y, sample_weight=weights)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    # A fresh RandomState instance with the same seed is the same seed.
    third = _probas(fast_clf(**params, random_state=np.random.RandomState(0)), X, Y)
    fourth = _probas(fast_clf(**params, random_state=np.random.RandomState(0)), X, Y)
    for a, b in zip(third, fourth):
        np.testing.assert_array_equal(a, b)


def test_different_seed_different_model(tree_data):
    X, Y = tree_data
    first = _probas(fast_clf(random_state=0, dropout=0.3), X, Y)
    second = _probas(fast_clf(random_state=1, dropout=0.3), X, Y)
    assert not np.allclose(first[-1], second[-1])


def test_fit_leaves_global_random_state_alone(tree_data):
    X, Y = tree_data
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002
    fast_clf(max_epochs=2).fit(X, Y)
    assert torch.equal(torch.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002


def test_concurrent_predict_proba_matches_sequential(tree_data):
    X, Y = tree_data
    clf = fast_clf(dropout=0.3).fit(X, Y)
    rng = np.random.RandomState(0)
    for _ in range(3):
        subsets = [rng.choice(len(X), size=rng.randint(1, 200)) for _ in range(8)]
        expected = [clf.predict_proba(X[rows]) for rows in subsets]
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda rows: clf.predict_proba(X[rows]), subsets))
        for got, want in zip(results, expected):
            for a, b in zip(got, want):
                np.testing.assert_array_equal(a, b)
