"""checkpoint_dir: a fit that writes its state every epoch and resumes after a crash."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from _helpers import TINY_BUDGETS, make_tree_data

import mgclassifier
from mgclassifier import FitResumedWarning, MultiGranularityClassifier
from mgclassifier._training import _checkpoint
from mgclassifier._training._checkpoint import (
    FILENAME,
    CheckpointError,
    CheckpointStore,
)

pytestmark = TINY_BUDGETS

PARAMS = dict(
    hidden_layer_sizes=(16,),
    max_epochs=8,
    early_stopping=True,
    patience=3,
    random_state=0,
    n_threads=1,
)


@pytest.fixture(scope="module")
def data():
    return make_tree_data(n_samples=400)


@pytest.fixture(scope="module")
def uninterrupted(data):
    return MultiGranularityClassifier(**PARAMS).fit(*data)


def saved_header(directory):
    return CheckpointStore(directory, writer=False).saved[0]


def test_checkpoints_leave_the_model_unchanged(data, uninterrupted, tmp_path):
    X, Y = data
    clf = MultiGranularityClassifier(checkpoint_dir=tmp_path, **PARAMS).fit(X, Y)
    np.testing.assert_array_equal(
        clf.predict_proba(X)[-1], uninterrupted.predict_proba(X)[-1]
    )
    header = saved_header(tmp_path)
    assert header["epochs"] == clf.n_epochs_ and header["finished"]
    # The fitted net carries no checkpoint callback (pickles as without).
    names = [name for name, _ in clf.net_.callbacks_]
    assert "checkpoint" not in names and "resume_state" not in names
    assert os.listdir(tmp_path) == [FILENAME]


def test_a_finished_checkpoint_gives_its_model_without_training(data, tmp_path):
    X, Y = data
    first = MultiGranularityClassifier(checkpoint_dir=tmp_path, **PARAMS).fit(X, Y)
    with pytest.warns(FitResumedWarning, match="finished fit of 8 epochs"):
        again = MultiGranularityClassifier(checkpoint_dir=tmp_path, **PARAMS)
        again.fit(X, Y)
    assert again.history_[:, "dur"] == first.history_[:, "dur"]  # not re-run
    assert again.best_epoch_ == first.best_epoch_
    assert again.temperature_ == first.temperature_
    np.testing.assert_array_equal(
        again.predict_proba(X)[-1], first.predict_proba(X)[-1]
    )


CHILD = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    sys.path.insert(0, {tests!r})
    from _helpers import make_tree_data
    from mgclassifier import MultiGranularityClassifier
    from mgclassifier._training import _checkpoint

    write = _checkpoint.CheckpointStore.write

    def slow_write(self, *args, **kwargs):  # time for the test to kill it
        write(self, *args, **kwargs)
        time.sleep(0.3)

    _checkpoint.CheckpointStore.write = slow_write
    X, Y = make_tree_data(n_samples=400)
    MultiGranularityClassifier(checkpoint_dir={directory!r}, **{params!r}).fit(X, Y)
    print("finished")
    """
)


def test_a_fit_killed_mid_way_resumes_from_its_last_epoch(
    data, uninterrupted, tmp_path
):
    X, Y = data
    script = CHILD.format(
        tests=os.path.dirname(__file__), directory=str(tmp_path), params=PARAMS
    )
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        # The package these tests import, not another installed copy.
        "PYTHONPATH": os.pathsep.join(
            [
                os.path.dirname(os.path.dirname(mgclassifier.__file__)),
                os.environ.get("PYTHONPATH", ""),
            ]
        ),
    }
    child = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            if (tmp_path / FILENAME).exists() and saved_header(tmp_path)["epochs"] >= 2:
                break
            time.sleep(0.02)
        assert child.poll() is None, "the fit ended before it could be killed"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    header = saved_header(tmp_path)
    done = header["epochs"]
    assert 2 <= done < PARAMS["max_epochs"] and not header["finished"]
    saved_history = CheckpointStore(tmp_path).load()["history"]

    with pytest.warns(FitResumedWarning, match=f"resumes .* at epoch {done + 1} of"):
        resumed = MultiGranularityClassifier(checkpoint_dir=tmp_path, **PARAMS)
        resumed.fit(X, Y)
    assert resumed.n_epochs_ == uninterrupted.n_epochs_ == PARAMS["max_epochs"]
    # The first epochs are the killed process's (their durations), not re-run.
    assert resumed.history_[:done, "dur"] == [row["dur"] for row in saved_history]
    # The same training state and random numbers: the uninterrupted model.
    assert resumed.best_epoch_ == uninterrupted.best_epoch_
    np.testing.assert_allclose(
        resumed.predict_proba(X)[-1], uninterrupted.predict_proba(X)[-1], atol=1e-5
    )
    assert resumed.score(X, Y) == pytest.approx(uninterrupted.score(X, Y), abs=0.01)
    assert saved_header(tmp_path)["finished"]


@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
def test_a_damaged_checkpoint_is_refused_before_anything_is_loaded(
    data, tmp_path, monkeypatch, damage
):
    X, Y = data
    MultiGranularityClassifier(checkpoint_dir=tmp_path, **PARAMS).fit(X, Y)
    path = tmp_path / FILENAME
    content = path.read_bytes()
    if damage == "truncated":
        content = content[: len(content) // 2]
    else:
        middle = len(content) // 2
        content = (
            content[:middle] + bytes([content[middle] ^ 1]) + content[middle + 1 :]
        )
    path.write_bytes(content)

    def no_load(*args, **kwargs):
        raise AssertionError("a damaged checkpoint was deserialised")

    monkeypatch.setattr(_checkpoint.torch, "load", no_load)
    clf = MultiGranularityClassifier(checkpoint_dir=tmp_path, **PARAMS)
    with pytest.raises(
        CheckpointError, match=f"damaged .*{damage}.* nothing was loaded"
    ):
        clf.fit(X, Y)
    assert not hasattr(clf, "net_")
    assert path.read_bytes() == content  # left as found


def test_a_crash_while_writing_leaves_the_previous_checkpoint(
    data, tmp_path, monkeypatch
):
    X, Y = data
    replace, calls = os.replace, []

    def crash_on_third(source, target):
        calls.append(target)
        if len(calls) == 3:
            raise OSError("no space left on device")
        replace(source, target)

    monkeypatch.setattr(_checkpoint.os, "replace", crash_on_third)
    with pytest.raises(OSError, match="no space"):
        MultiGranularityClassifier(checkpoint_dir=tmp_path, **PARAMS).fit(X, Y)
    assert os.listdir(tmp_path) == [FILENAME]  # no temporary file left
    assert saved_header(tmp_path)["epochs"] == 2  # the previous one, whole


@pytest.mark.parametrize(
    "change, message",
    [
        ({"hidden_layer_sizes": (8,)}, "another network"),
        ({"lr": 0.01}, "other training parameters .*lr"),
        ("hierarchy", "another label hierarchy"),
        ("features", "other data .*shape"),
        ("rows", "other data .*n_samples"),
    ],
)
def test_a_checkpoint_of_another_fit_is_refused(data, tmp_path, change, message):
    X, Y = data
    MultiGranularityClassifier(checkpoint_dir=tmp_path, **PARAMS).fit(X, Y)
    params = dict(PARAMS)
    if change == "hierarchy":
        Y = np.char.add(Y, "x")
    elif change == "features":
        X = X[:, :-1]
    elif change == "rows":
        X, Y = X[:-10], Y[:-10]
    else:
        params.update(change)
    with pytest.raises(ValueError, match=message):
        MultiGranularityClassifier(checkpoint_dir=tmp_path, **params).fit(X, Y)


def test_the_device_and_verbosity_may_change_on_resume(data, tmp_path):
    X, Y = data
    MultiGranularityClassifier(checkpoint_dir=tmp_path, **PARAMS).fit(X, Y)
    with pytest.warns(FitResumedWarning, match="finished fit"):
        MultiGranularityClassifier(
            checkpoint_dir=tmp_path, **{**PARAMS, "n_threads": None, "device": "auto"}
        ).fit(X, Y)
