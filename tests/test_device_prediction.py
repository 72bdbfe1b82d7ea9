"""The torch path of prediction (the one a model on a GPU takes) and the
temperature fit, against the CPU path."""

import numpy as np
import pytest
import torch
from _helpers import make_tree_data, tiny_classifier

from mgclassifier._hierarchy import LabelHierarchy
from mgclassifier._prediction._calibration import fit_temperature
from mgclassifier._prediction._engine import PredictionEngine
from mgclassifier._prediction._predict import Predictor, device_path_scores


@pytest.fixture(scope="module")
def tree_and_logits():
    _, Y = make_tree_data(n_samples=400, branching=(3, 2, 2))
    tree, codes = LabelHierarchy.from_labels(Y)
    rng = np.random.RandomState(0)
    logits = rng.normal(scale=2, size=(len(Y), sum(tree.n_classes)))
    # Make the logits informative, so the best temperature is not at a bound.
    offsets = np.r_[0, np.cumsum(tree.n_classes)[:-1]]
    logits[np.arange(len(Y))[:, None], codes + offsets] += 2.0
    return tree, codes, logits


@pytest.mark.parametrize("coarse_weight", [0.0, 0.5])
def test_fitted_temperature_minimises_the_held_out_nll(tree_and_logits, coarse_weight):
    tree, codes, logits = tree_and_logits
    engine = PredictionEngine(tree, coarse_weight)
    scores = engine.path_scores(torch.tensor(logits, dtype=torch.float32))
    leaf_codes = torch.as_tensor(codes[:, -1])
    fitted = fit_temperature(engine, scores, leaf_codes)
    assert 0.05 < fitted < 20

    def nll(t):
        leaf = torch.log_softmax(scores.double() / t, dim=1)
        return -leaf[torch.arange(len(leaf_codes)), leaf_codes].mean().item()

    grid = np.exp(np.linspace(np.log(0.05), np.log(20), 400))
    best = grid[np.argmin([nll(t) for t in grid])]
    assert abs(np.log(fitted) - np.log(best)) < 0.02
    assert nll(fitted) <= min(nll(fitted * 1.1), nll(fitted / 1.1))


def test_no_held_out_rows_give_temperature_one(tree_and_logits):
    engine = PredictionEngine(tree_and_logits[0])
    empty = torch.zeros(0, engine.node_counts[-1])
    assert fit_temperature(engine, empty, torch.zeros(0, dtype=torch.long)) == 1.0


@pytest.mark.parametrize("coarse_weight", [0.0, 0.5])
def test_device_prediction_path_equals_the_cpu_path(
    tree_data, coarse_weight, monkeypatch
):
    # The torch path that a GPU model takes, run here on CPU tensors.
    X, Y = tree_data
    clf = tiny_classifier(coarse_decoding_weight=coarse_weight).fit(X, Y)
    cpu_proba, cpu_pred = clf.predict_proba(X), clf.predict(X)
    monkeypatch.setattr(Predictor, "on_accelerator", True)
    device_proba = clf.predict_proba(X)
    for a, b in zip(device_proba, cpu_proba):
        assert a.dtype == np.float64
        np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), cpu_pred)
    # Shorter paths are read from the same probabilities.
    clf.set_params(min_path_probability=0.6)
    device_short = clf.predict(X)
    monkeypatch.setattr(Predictor, "on_accelerator", False)
    np.testing.assert_array_equal(device_short, clf.predict(X))


@pytest.mark.parametrize("on_device", [False, True])
def test_float32_input_gets_float32_probabilities(tree_data, on_device, monkeypatch):
    # As scikit-learn's MLPClassifier: float32 in, float32 out (half the
    # memory, and half the copy from a GPU); anything else float64.
    X, Y = tree_data
    clf = tiny_classifier().fit(X, Y)
    monkeypatch.setattr(Predictor, "on_accelerator", on_device)
    X32 = X.astype(np.float32)
    for method in ("predict_proba", "predict_node_proba", "predict_log_proba"):
        wide, narrow = getattr(clf, method)(X), getattr(clf, method)(X32)
        for p64, p32 in zip(wide, narrow):
            assert p64.dtype == np.float64 and p32.dtype == np.float32
            np.testing.assert_allclose(p32, p64, rtol=1e-5, atol=1e-6)
    for proba in clf.predict_proba(X32):
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert clf.predict_proba(X.tolist())[-1].dtype == np.float64
    # Data frames as scikit-learn's MLPClassifier: float32 when every column is.
    pd = pytest.importorskip("pandas", reason="data frames need pandas")
    frame = pd.DataFrame(X32)
    assert clf.predict_proba(frame)[-1].dtype == np.float32
    frame[0] = frame[0].astype(np.float64)
    assert clf.predict_proba(frame)[-1].dtype == np.float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; none here")
@pytest.mark.parametrize("coarse_weight", [0.0, 0.5])
def test_cuda_prediction_and_temperature_equal_the_cpu_ones(tree_data, coarse_weight):
    import copy

    X, Y = tree_data
    clf = tiny_classifier(device="cuda", coarse_decoding_weight=coarse_weight).fit(X, Y)
    on_cpu = copy.deepcopy(clf)
    on_cpu.net_.module_.to("cpu")
    on_cpu.net_.device = "cpu"
    assert not on_cpu._predictor().on_accelerator and clf._predictor().on_accelerator
    for a, b in zip(clf.predict_proba(X), on_cpu.predict_proba(X)):
        np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_array_equal(clf.predict(X), on_cpu.predict(X))
    # The temperature search on GPU logits finds what it finds on CPU logits.
    leaf_codes = clf.hierarchy_.encode(Y)[:, -1]
    X32 = X.astype(np.float32)
    temperatures = []
    for model in (clf, on_cpu):
        predictor = model._predictor()
        scores = device_path_scores(predictor, X32)
        codes = torch.as_tensor(leaf_codes, device=predictor.device)
        temperatures.append(fit_temperature(predictor.engine, scores, codes))
    assert temperatures[0] == pytest.approx(temperatures[1], rel=1e-3)
