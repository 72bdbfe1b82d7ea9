"""Ctrl-C during ``fit``, and a fit resumed from ``checkpoint_dir``: both say
what happened, and the fitted model is consistent.

- A ``KeyboardInterrupt`` during training warns (``FitInterruptedWarning``,
  attributed to the caller's line), naming the interrupted epoch and the
  epoch whose weights are kept; the interrupted epoch is left out of
  ``history_`` and ``n_epochs_``; the model is the one a fit whose
  ``max_epochs`` was the last completed epoch would give (early stopping's
  best epoch restored, calibration run), and it predicts.
- Interrupted before any epoch ended, ``fit`` raises the
  ``KeyboardInterrupt`` and leaves the estimator as it was.
- A planned stop (early stopping, the divergence guard) is no interruption.
- A fit that resumes from a checkpoint, or gives back a finished one, warns
  (``FitResumedWarning``) naming the epoch it resumes at.
"""

import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest
from _helpers import TINY_BUDGETS, make_tree_data, tiny_classifier

from mgclassifier import FitInterruptedWarning, FitResumedWarning
from mgclassifier._network._net import MultiGranularityNet
from mgclassifier._training._checkpoint import CheckpointStore

pytestmark = TINY_BUDGETS  # small models, few epochs, on purpose

# A constant learning rate: the first k epochs of a longer fit are then a
# fit of max_epochs=k (the one-cycle schedule depends on max_epochs).
PARAMS = dict(max_epochs=20, lr_schedule="constant", patience=30)


@pytest.fixture(scope="module")
def data():
    return make_tree_data(n_samples=300)


def interrupt_at(monkeypatch, epoch, batch=2, interrupt=None):
    """Raise KeyboardInterrupt (or call ``interrupt``) in training batch
    ``batch`` (1-based) of ``epoch``."""
    original = MultiGranularityNet.train_step

    def train_step(self, batch_data, **fit_params):
        row = self.history[-1]
        if row["epoch"] == epoch and len(row["batches"]) == batch - 1:
            if interrupt is None:
                raise KeyboardInterrupt
            interrupt()
        return original(self, batch_data, **fit_params)

    monkeypatch.setattr(MultiGranularityNet, "train_step", train_step)


def fit_warns(clf, X, Y, category=FitInterruptedWarning):
    """``clf.fit(X, Y)`` and the one warning of ``category`` it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(X, Y)
    found = [w for w in caught if issubclass(w.category, category)]
    assert len(found) == 1, [str(w.message) for w in caught]
    assert found[0].filename == __file__  # the caller's line, as warn_at_caller
    return str(found[0].message)


def assert_same_model(a, b, X):
    for p, q in zip(a.predict_proba(X), b.predict_proba(X)):
        np.testing.assert_array_equal(p, q)
    assert a.temperature_ == b.temperature_


@pytest.mark.parametrize("early_stopping", [True, False])
def test_ctrl_c_keeps_the_completed_epochs(monkeypatch, data, early_stopping):
    X, Y = data
    params = dict(PARAMS, early_stopping=early_stopping)
    interrupt_at(monkeypatch, epoch=5)
    clf = tiny_classifier(**params)
    message = fit_warns(clf, X, Y)
    # No half row: every kept row is a whole epoch's.
    assert clf.n_epochs_ == len(clf.history_) == 4
    assert clf.history_[:, "epoch"] == [1, 2, 3, 4]
    keys = ["train_loss", "dur"] + ["valid_loss"] * early_stopping
    assert all(key in row for row in clf.history_ for key in keys)
    assert clf.net_.interrupted_ == 5
    assert message.startswith(
        "fit was interrupted (KeyboardInterrupt) in epoch 5; that epoch is left "
        "out of history_ (n_epochs_=4). The model holds the weights of epoch "
        f"{clf.best_epoch_} (best_epoch_={clf.best_epoch_}), "
    )
    assert "fit again to train anew" in message
    # The model of a fit that ran those 4 epochs: early stopping's best epoch
    # restored (or the last), then calibrated on the same held-out rows.
    monkeypatch.undo()
    reference = tiny_classifier(**dict(params, max_epochs=4)).fit(X, Y)
    assert clf.best_epoch_ == reference.best_epoch_
    assert_same_model(clf, reference, X)
    assert clf.score(X, Y) > 0.5


def test_the_warning_says_which_epoch_early_stopping_restored(monkeypatch, data):
    X, Y = data
    # A large rate makes the validation loss rise after a few epochs.
    params = dict(PARAMS, lr=0.05, early_stopping=True)
    reference = tiny_classifier(**dict(params, max_epochs=9)).fit(X, Y)
    assert reference.best_epoch_ < 9  # the premise: the best is not the last
    interrupt_at(monkeypatch, epoch=10)
    clf = tiny_classifier(**params)
    message = fit_warns(clf, X, Y)
    best = reference.best_epoch_
    assert clf.best_epoch_ == best and clf.n_epochs_ == 9
    assert (
        f"The model holds the weights of epoch {best} (best_epoch_={best}), the "
        f"best by validation loss, restored as early stopping does; calibration "
        f"ran on them. It predicts;"
    ) in message
    assert_same_model(clf, reference, X)


def test_weight_averaging_keeps_the_validated_average(monkeypatch, data):
    X, Y = data
    params = dict(PARAMS, weight_averaging=0.9, early_stopping=True)
    interrupt_at(monkeypatch, epoch=4)
    clf = tiny_classifier(**params)
    fit_warns(clf, X, Y)
    monkeypatch.undo()
    reference = tiny_classifier(**dict(params, max_epochs=3)).fit(X, Y)
    assert_same_model(clf, reference, X)


def test_ctrl_c_before_an_epoch_ended_raises_and_keeps_the_old_model(monkeypatch, data):
    X, Y = data
    clf = tiny_classifier(max_epochs=2)
    interrupt_at(monkeypatch, epoch=1)
    with pytest.raises(KeyboardInterrupt, match="before any epoch of this fit"):
        clf.fit(X, Y)
    assert not hasattr(clf, "net_")  # never fitted
    monkeypatch.undo()
    clf.fit(X, Y)
    before = clf.predict_proba(X)
    history = clf.history_.to_list()
    # A warm start and partial_fit: the first epoch of this call cut short.
    clf.set_params(warm_start=True)
    interrupt_at(monkeypatch, epoch=len(history) + 1)
    for call in (clf.fit, clf.partial_fit):
        with pytest.raises(KeyboardInterrupt):
            call(X, Y)
        assert clf.history_.to_list() == history
        for p, q in zip(clf.predict_proba(X), before):
            np.testing.assert_array_equal(p, q)


def test_a_warm_start_keeps_its_completed_epochs(monkeypatch, data):
    X, Y = data
    clf = tiny_classifier(**dict(PARAMS, max_epochs=3, warm_start=True)).fit(X, Y)
    interrupt_at(monkeypatch, epoch=5)
    message = fit_warns(clf, X, Y)
    assert clf.n_epochs_ == len(clf.history_) == 4  # 3 + the one completed
    assert "in epoch 5; that epoch is left out of history_ (n_epochs_=4)" in message
    assert "train_loss" in clf.history_[-1]


def test_planned_stops_are_no_interruption(monkeypatch, data):
    X, Y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitInterruptedWarning)
        stopped = tiny_classifier(max_epochs=200, patience=1, lr=0.05).fit(X, Y)
    assert stopped.n_epochs_ < 200  # early stopping ended it
    assert stopped.net_.interrupted_ is None


def test_a_real_sigint_from_another_thread(monkeypatch, data):
    # The signal Ctrl-C sends, to the process, from a timer thread while the
    # main thread trains: Python raises KeyboardInterrupt in the main thread
    # at its next bytecode (between two naps below: the kernel may hand the
    # signal to another thread, which does not cut a long sleep short), and
    # skorch's loop takes it as any other.
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT is not Python's KeyboardInterrupt here")
    X, Y = data
    in_epoch_3 = threading.Event()

    def wait_for_the_signal():
        in_epoch_3.set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # cut short by the KeyboardInterrupt
            time.sleep(0.01)

    def send_sigint():
        if in_epoch_3.wait(timeout=120):
            os.kill(os.getpid(), signal.SIGINT)

    interrupt_at(monkeypatch, epoch=3, interrupt=wait_for_the_signal)
    timer = threading.Thread(target=send_sigint, daemon=True)
    timer.start()
    clf = tiny_classifier(**PARAMS)
    start = time.monotonic()
    message = fit_warns(clf, X, Y)
    timer.join(timeout=10)
    assert time.monotonic() - start < 60
    assert clf.n_epochs_ == 2 and "in epoch 3" in message
    assert np.isfinite(clf.predict_proba(X)[-1]).all()


def test_checkpoints_resume_after_ctrl_c_and_say_so(monkeypatch, data, tmp_path):
    X, Y = data
    params = dict(PARAMS, max_epochs=6, checkpoint_dir=tmp_path)
    interrupt_at(monkeypatch, epoch=4)
    clf = tiny_classifier(**params)
    message = fit_warns(clf, X, Y)
    assert clf.n_epochs_ == 3
    assert message.endswith(
        "fit again with the same checkpoint_dir to resume at epoch 4."
    )
    header = CheckpointStore(tmp_path, writer=False).saved[0]
    assert header["epochs"] == 3 and not header["finished"]
    monkeypatch.undo()

    resumed = tiny_classifier(**params)
    message = fit_warns(resumed, X, Y, FitResumedWarning)
    path = os.path.join(tmp_path, "fit_state.mgc")
    assert message == (
        f"fit resumes from checkpoint_dir at epoch 4 of max_epochs=6: the "
        f"checkpoint holds 3 epochs (delete {path} to train from the start)."
    )
    uninterrupted = tiny_classifier(**dict(params, checkpoint_dir=None)).fit(X, Y)
    assert resumed.n_epochs_ == 6 and resumed.best_epoch_ == uninterrupted.best_epoch_
    for p, q in zip(resumed.predict_proba(X), uninterrupted.predict_proba(X)):
        np.testing.assert_allclose(p, q, atol=1e-5)

    again = tiny_classifier(**params)
    message = fit_warns(again, X, Y, FitResumedWarning)
    assert message == (
        f"checkpoint_dir holds a finished fit of 6 epochs; fit gives its model "
        f"back without training (delete {path} to train from the start)."
    )
    assert again.history_[:, "dur"] == resumed.history_[:, "dur"]  # not re-run


def test_a_new_checkpoint_says_nothing(data, tmp_path):
    X, Y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitResumedWarning)
        tiny_classifier(max_epochs=2, checkpoint_dir=tmp_path).fit(X, Y)
