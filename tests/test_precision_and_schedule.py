"""Mixed precision (``precision``) and the learning-rate schedule (``lr_schedule``)."""

import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from _helpers import TINY_BUDGETS, tiny_classifier
from sklearn.utils._param_validation import InvalidParameterError

from mgclassifier import _devices
from mgclassifier._devices import resolve_precision
from mgclassifier._network._callbacks import OneCycleSchedule

pytestmark = TINY_BUDGETS  # small models, few epochs, on purpose


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_follows_the_cpu_flags(tree_data, monkeypatch, native):
    monkeypatch.setattr(_devices, "cpu_has_native_bfloat16", lambda: native)
    clf = tiny_classifier(max_epochs=2).fit(*tree_data)
    assert clf.precision_ == ("bfloat16" if native else "float32")
    assert clf.net_.autocast == ("bfloat16" if native else None)


def test_forcing_avx2_kernels_turns_native_bfloat16_off():
    # What .ci/run does to test as on an AVX2-only CPU: torch's AVX2 kernels,
    # and "auto" then trains in float32 whatever the CPU's flags say.
    code = (
        "from mgclassifier._devices import cpu_has_native_bfloat16, "
        "resolve_precision; import torch; "
        "print(torch.backends.cpu.get_cpu_capability(), "
        "cpu_has_native_bfloat16(), resolve_precision('auto', 'cpu'))"
    )
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    capability, native, precision = out.stdout.split()
    assert not capability.startswith("AVX512")  # "AVX2" on x86, below on arm64
    assert (native, precision) == ("False", "float32")


def test_auto_precision_is_float32_on_cuda_devices(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert resolve_precision("auto", "cuda") == "float32"
    assert resolve_precision("bfloat16", "cuda:1") == "bfloat16"


def test_bfloat16_on_a_gpu_without_it_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    with pytest.raises(ValueError, match="no bfloat16 support"):
        resolve_precision("bfloat16", "cuda")
    assert resolve_precision("auto", "cuda") == "float32"


@pytest.mark.parametrize("precision", ["bfloat16", "float32"])
def test_training_forward_runs_in_the_requested_precision(tree_data, precision):
    seen = []
    clf = tiny_classifier(max_epochs=1, precision=precision)
    clf.fit(*tree_data)  # builds the net; refit with a spy on its forward pass
    hook = clf.net_.module_.heads.register_forward_hook(
        lambda module, args, out: seen.append(out.dtype)
    )
    try:
        clf.net_.partial_fit(clf.net_.get_dataset(*_dataset_args(clf, tree_data)))
    finally:
        hook.remove()
    assert seen and set(seen) == {getattr(torch, precision)}
    # The weights stay float32 and prediction is float32 either way.
    assert {p.dtype for p in clf.net_.module_.parameters()} == {torch.float32}
    assert clf.predict_proba(tree_data[0])[-1].dtype == np.float64


def _dataset_args(clf, tree_data):
    from mgclassifier._data._datasets import ArrayDataset

    X, Y = tree_data
    codes = clf.hierarchy_.encode(Y)
    return (ArrayDataset(X.astype(np.float32), codes),)


def test_bfloat16_training_learns_like_float32(tree_data):
    X, Y = tree_data
    scores = {
        precision: tiny_classifier(precision=precision, lr=0.01, lr_schedule="constant")
        .fit(X, Y)
        .score(X, Y)
        for precision in ("bfloat16", "float32")
    }
    assert scores["bfloat16"] > 0.9
    assert abs(scores["bfloat16"] - scores["float32"]) < 0.03


def test_sparse_input_trains_under_bfloat16(tree_data):
    X, Y = tree_data
    clf = tiny_classifier(max_epochs=3, precision="bfloat16").fit(sp.csr_matrix(X), Y)
    assert clf.precision_ == "bfloat16"
    assert np.isfinite(clf.history_[:, "train_loss"]).all()


def test_invalid_precision_is_refused_before_training(tree_data):
    with pytest.raises(InvalidParameterError, match="precision"):
        tiny_classifier(precision="float16").fit(*tree_data)
    with pytest.raises(InvalidParameterError, match="lr_schedule"):
        tiny_classifier(lr_schedule="cosine").fit(*tree_data)


def test_onecycle_warms_up_then_decays_over_max_epochs(tree_data):
    clf = tiny_classifier(max_epochs=10, lr=0.01, early_stopping=False).fit(*tree_data)
    lrs = clf.history_[:, "lr"]  # the rate of each epoch's last batch
    peak = int(np.argmax(lrs))
    assert 0 <= peak <= 2 and max(lrs) <= 0.01
    assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1 :]))
    assert lrs[-1] < 0.01 / 1000


def test_constant_schedule_keeps_the_rate(tree_data):
    clf = tiny_classifier(max_epochs=3, lr=0.01, lr_schedule="constant")
    clf.fit(*tree_data)
    assert "lr_schedule" not in dict(clf.net_.callbacks_)
    assert clf.net_.optimizer_.param_groups[0]["lr"] == 0.01


def test_partial_fit_uses_a_constant_rate(tree_data):
    X, Y = tree_data
    clf = tiny_classifier(lr=0.01)
    clf.partial_fit(X, Y, classes=np.unique(Y, axis=0))
    assert "lr_schedule" not in dict(clf.net_.callbacks_)
    assert clf.net_.optimizer_.param_groups[0]["lr"] == 0.01


def test_schedule_continues_at_its_final_rate_past_its_end():
    schedule = OneCycleSchedule(max_lr=1.0, total_steps=20)
    assert schedule.lr_at(100) == schedule.lr_at(19) == pytest.approx(1e-4)
