"""Resuming training: ``warm_start=True`` and ``partial_fit``.

In the spirit of scikit-learn's warm-start tests for HistGradientBoosting:
every training parameter changed between two fits is observed to act on the
second one, every parameter that fixes the network's shape is refused with
a ValueError naming it, and ``partial_fit`` trains one epoch on all the rows
it is given, without copying the history, leaving the model as it was when
it fails.
"""

import pickle
import re

import numpy as np
import pytest
import torch
from _helpers import TINY_BUDGETS, make_tree_data, tiny_classifier
from sklearn.utils.class_weight import compute_class_weight

from mgclassifier._network._module import FastDropout
from mgclassifier._network._net import MultiGranularityNet

pytestmark = TINY_BUDGETS  # small models, few epochs, on purpose

X, Y = make_tree_data(n_samples=120, n_features=4)


def warm(**params):
    """A warm-starting classifier whose epochs are one batch of all rows.

    With one batch, an epoch's ``train_loss`` is the loss of the weights the
    epoch started from, which the tests compute independently (in float32:
    bfloat16 mixed precision would move it by ~1e-4).
    """
    defaults = dict(
        precision="float32",
        warm_start=True,
        early_stopping=False,
        dropout=0.0,
        batch_size=len(X),
        max_epochs=2,
    )
    return tiny_classifier(**{**defaults, **params})


def weights(clf):
    return [p.detach().clone() for p in clf.net_.module_.parameters()]


def epoch_rows(clf, key):
    """Rows trained (``train``) or held out (``valid``) in the last epoch."""
    batches = clf.history_[-1]["batches"]
    return sum(batch.get(f"{key}_batch_size", 0) for batch in batches)


# ------------------------------------------------- the training loss, by hand
def _level_weights(params, epoch, n_levels):
    schedule = params["level_weight_schedule"] or {}
    started = [key for key in schedule if key <= epoch]
    if started:
        return np.asarray(schedule[max(started)], dtype=float)
    weights = params["level_weights"]
    if weights is None or (isinstance(weights, str) and weights == "equal"):
        return np.ones(n_levels)
    if isinstance(weights, str) and weights == "auxiliary":
        return np.r_[np.full(n_levels - 1, 0.25), 1.0]
    return np.asarray(weights, dtype=float)


def _sample_class_weights(params, tree, level, target):
    if params["class_weight"] != "balanced":
        return torch.ones(len(target), dtype=torch.float64)
    classes = tree.classes[level]
    balanced = compute_class_weight("balanced", classes=classes, y=Y[:, level])
    return torch.as_tensor(balanced)[target]


def expected_train_loss(fitted, **changes):
    """The next epoch's training loss (one batch of all of X, Y, no dropout)
    from the weights ``fitted`` holds, under its parameters with ``changes``
    applied; computed from the documented definitions, not the library's
    loss."""
    params = {**fitted.get_params(), **changes}
    tree = fitted.hierarchy_
    codes = torch.as_tensor(tree.encode(Y))
    with torch.no_grad():
        logits = fitted.net_.module_(torch.from_numpy(X.astype(np.float32)))
    blocks = logits.split(list(tree.n_classes), dim=1)
    level_weights = _level_weights(params, fitted.n_epochs_ + 1, tree.n_levels)
    smoothing = params["label_smoothing"]
    total = 0.0
    for level, block in enumerate(blocks):
        target = codes[:, level]
        log_p = block.log_softmax(dim=1)
        nll = -log_p[torch.arange(len(target)), target]
        per_sample = (1 - smoothing) * nll - smoothing * log_p.mean(dim=1)
        weight = _sample_class_weights(params, tree, level, target)
        level_loss = (weight * per_sample).sum() / weight.sum()
        total += level_weights[level] * float(level_loss)
    probas = [block.softmax(dim=1) for block in blocks]
    for level in range(tree.n_levels - 1):
        parent = torch.as_tensor(tree.parents[level])
        children = probas[level + 1]
        summed = torch.zeros_like(probas[level]).index_add_(1, parent, children)
        gap = (probas[level] - summed).pow(2).sum(dim=1).mean()
        total += params["consistency"] * float(gap)
    total += params["alpha_l1"] * sum(
        float(p.detach().abs().sum())
        for name, p in fitted.net_.module_.named_parameters()
        if name.endswith("weight")
    )
    return total


LOSS_PARAMETERS = [
    ("level_weights", "auxiliary", [1.0, 0.0]),
    ("level_weights", [1.0, 0.0], "equal"),
    ("level_weight_schedule", None, {1: [1.0, 0.0]}),
    ("level_weight_schedule", {1: [1.0, 0.0]}, None),
    ("label_smoothing", 0.1, 0.4),
    ("class_weight", None, "balanced"),
    ("consistency", 0.0, 2.0),
    ("alpha_l1", 0.0, 0.01),
]


@pytest.mark.parametrize(
    "name, before, after",
    LOSS_PARAMETERS,
    ids=[f"{name}-{after}" for name, _, after in LOSS_PARAMETERS],
)
def test_warm_fit_trains_on_the_current_loss_parameters(name, before, after):
    clf = warm(**{name: before}).fit(X, Y)
    old_loss = expected_train_loss(clf)
    new_loss = expected_train_loss(clf, **{name: after})
    # The change is visible: ten times the tolerance of the check below.
    assert new_loss != pytest.approx(old_loss, rel=1e-4)
    clf.set_params(**{name: after}, max_epochs=1).fit(X, Y)
    assert clf.n_epochs_ == 3
    assert clf.history_[-1, "train_loss"] == pytest.approx(new_loss, rel=1e-5)


def test_expected_train_loss_matches_a_cold_fit():
    # Control for the reference computation: a fit's second epoch.
    params = dict(label_smoothing=0.2, consistency=1.0, alpha_l1=1e-3)
    clf = warm(**params, class_weight="balanced", max_epochs=1).fit(X, Y)
    expected = expected_train_loss(clf)
    clf.fit(X, Y)
    assert clf.history_[-1, "train_loss"] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("before, after", [(0.5, 0.0), (0.0, 0.5)])
def test_warm_fit_applies_the_current_dropout(before, after):
    clf = warm(dropout=before).fit(X, Y)
    no_dropout_loss = expected_train_loss(clf)
    clf.set_params(dropout=after, max_epochs=1).fit(X, Y)
    layers = [m for m in clf.net_.module_.modules() if isinstance(m, FastDropout)]
    assert [layer.p for layer in layers] == ([after] if after else [])
    # Only without dropout is the training loss that of the full network.
    matches = clf.history_[-1, "train_loss"] == pytest.approx(no_dropout_loss, rel=1e-5)
    assert matches == (after == 0.0)


def _weight_decay_by_parameter(net):
    group_of = {
        id(p): group for group in net.optimizer_.param_groups for p in group["params"]
    }
    return {
        name: group_of[id(p)]["weight_decay"]
        for name, p in net.module_.named_parameters()
    }


@pytest.mark.parametrize("before, after", [(1e-4, 0.3), (1e-4, 0.0), (0.0, 0.05)])
def test_warm_fit_applies_the_current_lr_and_alpha_l2(before, after):
    clf = warm(alpha_l2=before, lr=1e-3).fit(X, Y)
    clf.set_params(alpha_l2=after, lr=0.5).fit(X, Y)
    assert {group["lr"] for group in clf.net_.optimizer_.param_groups} == {0.5}
    decay = _weight_decay_by_parameter(clf.net_)
    assert decay == {
        name: (after if name.endswith("weight") else 0.0) for name in decay
    }


def test_warm_fit_continues_the_weights_adam_state_and_history():
    clf = warm(max_epochs=3).fit(X, Y)
    twin = pickle.loads(pickle.dumps(clf))
    history = clf.history_
    clf.set_params(max_epochs=2).fit(X, Y)
    assert clf.history_ is history
    assert [row["epoch"] for row in clf.history_] == [1, 2, 3, 4, 5]
    assert clf.n_epochs_ == clf.best_epoch_ == 5
    steps = {int(s["step"]) for s in clf.net_.optimizer_.state.values()}
    assert steps == {5}  # Adam's moments carried on: one step per epoch
    # The same as continuing by hand with skorch on an identical copy.
    twin.net_.max_epochs = 2
    with torch.random.fork_rng():
        torch.manual_seed(np.random.RandomState(0).randint(np.iinfo(np.int32).max))
        twin.net_.partial_fit(_dataset(twin), None)
    for a, b in zip(weights(clf), weights(twin)):
        torch.testing.assert_close(a, b)


def _dataset(clf):
    from mgclassifier._data._datasets import ArrayDataset

    return ArrayDataset(X.astype(np.float32), clf.hierarchy_.encode(Y))


def test_warm_fit_applies_the_current_batch_size():
    clf = warm().fit(X, Y)
    assert len(clf.history_[-1]["batches"]) == 1
    clf.set_params(batch_size=16, max_epochs=1).fit(X, Y)
    assert len(clf.history_[-1]["batches"]) == 8  # ceil(120 / 16)


def test_warm_fit_applies_early_stopping_and_validation_fraction():
    clf = warm().fit(X, Y)
    clf.set_params(early_stopping=True, validation_fraction=0.25, max_epochs=1)
    clf.fit(X, Y)
    assert (epoch_rows(clf, "train"), epoch_rows(clf, "valid")) == (90, 30)
    clf.set_params(validation_fraction=0.5).fit(X, Y)
    assert (epoch_rows(clf, "train"), epoch_rows(clf, "valid")) == (60, 60)
    clf.set_params(early_stopping=False).fit(X, Y)
    assert epoch_rows(clf, "train") == 120
    assert "valid_loss" not in clf.history_[-1]
    assert "early_stopping" not in dict(clf.net_.callbacks_)


def test_warm_fit_applies_the_current_patience():
    # With a learning rate this small the validation loss cannot improve by
    # early stopping's threshold: the first epoch sets the mark, and training
    # stops after `patience` epochs without improvement.
    clf = warm(early_stopping=True, patience=10, lr=1e-12, max_epochs=2)
    clf.fit(X, Y)
    clf.set_params(patience=2, max_epochs=30).fit(X, Y)
    assert clf.n_epochs_ == 2 + 3
    clf.set_params(patience=4).fit(X, Y)
    assert clf.n_epochs_ == 5 + 5


def test_warm_fit_applies_weight_averaging():
    clf = warm().fit(X, Y)
    start = weights(clf)
    raw = pickle.loads(pickle.dumps(clf))
    raw.set_params(max_epochs=1).fit(X, Y)  # the same step, without averaging
    clf.set_params(weight_averaging=0.9, max_epochs=1).fit(X, Y)
    assert "weight_averaging" in dict(clf.net_.callbacks_)
    # After one step the average has moved 9/11 of the way (its warm-up).
    for got, w0, w1 in zip(weights(clf), start, weights(raw)):
        torch.testing.assert_close(got, w0 + 9 / 11 * (w1 - w0))
    clf.set_params(weight_averaging=0.0).fit(X, Y)
    assert "weight_averaging" not in dict(clf.net_.callbacks_)


def test_warm_fit_applies_calibrate():
    clf = warm(early_stopping=True, calibrate=False).fit(X, Y)
    assert clf.temperature_ == 1.0
    clf.set_params(calibrate=True).fit(X, Y)
    calibrated = clf.temperature_
    assert calibrated != 1.0
    # Without a held-out split there is nothing to refit it on: it stays.
    clf.set_params(early_stopping=False).fit(X, Y)
    assert clf.temperature_ == calibrated
    clf.set_params(calibrate=False).fit(X, Y)
    assert clf.temperature_ == 1.0


def test_a_fresh_fit_does_not_inherit_an_old_temperature():
    clf = tiny_classifier(max_epochs=2).fit(X, Y)
    assert clf.temperature_ != 1.0
    clf.set_params(early_stopping=False).fit(X, Y)
    assert clf.temperature_ == 1.0


def test_warm_fit_applies_the_current_device():
    clf = warm(device="cpu").fit(X, Y)
    clf.set_params(device="cpu:0").fit(X, Y)
    assert clf.net_.device == "cpu:0"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; none here")
def test_warm_fit_moves_between_cpu_and_cuda():
    clf = warm(device="cpu").fit(X, Y)
    cpu_proba = clf.predict_proba(X)
    clf.set_params(device="cuda", max_epochs=1).fit(X, Y)
    assert all(p.is_cuda for p in clf.net_.module_.parameters())
    assert all(
        t.is_cuda
        for state in clf.net_.optimizer_.state.values()
        for t in state.values()
    )
    clf.set_params(device="cpu").fit(X, Y)
    assert all(p.device.type == "cpu" for p in clf.net_.module_.parameters())
    assert clf.n_epochs_ == 4
    assert not np.allclose(clf.predict_proba(X)[-1], cpu_proba[-1])


# -------------------------------------------- what fixes the network's shape
STRUCTURAL = {
    "hidden_layer_sizes": ((8,), "hidden_layer_sizes=(8,) differs from (16,)"),
    "activation": ("tanh", "activation='tanh' differs from 'relu'"),
}


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("name", STRUCTURAL)
def test_resuming_refuses_a_changed_network(method, name):
    clf = warm().fit(X, Y)
    before = clf.predict_proba(X)
    value, message = STRUCTURAL[name]
    clf.set_params(**{name: value})
    with pytest.raises(ValueError, match=re.escape(message)):
        getattr(clf, method)(X, Y)
    for a, b in zip(before, clf.predict_proba(X)):
        np.testing.assert_array_equal(a, b)
    assert clf.n_epochs_ == 2


def test_resuming_accepts_the_same_layers_written_differently():
    clf = warm(hidden_layer_sizes=(16,)).fit(X, Y)
    clf.set_params(hidden_layer_sizes=[np.int64(16)]).fit(X, Y)
    assert clf.n_epochs_ == 4


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_resuming_refuses_other_features_and_labels(method):
    clf = warm().fit(X, Y)
    with pytest.raises(ValueError, match="X has 3 features, but .* expecting 4"):
        getattr(clf, method)(X[:, :3], Y)
    Y_other = Y.astype(object)
    Y_other[0] = ["9", "9/9"]
    with pytest.raises(ValueError, match="'9' at level 0 is not in the hierarchy"):
        getattr(clf, method)(X, Y_other)
    with pytest.raises(ValueError, match="y has 3 level.* the fitted hierarchy has 2"):
        getattr(clf, method)(X, np.c_[Y, Y[:, 1]])
    with pytest.raises(ValueError, match="y is 1-D but the estimator was fitted"):
        getattr(clf, method)(X, Y[:, 1])


def test_partial_fit_refuses_other_classes_on_a_later_call():
    clf = tiny_classifier().partial_fit(X, Y, classes=Y)
    clf.partial_fit(X, Y, classes=Y[::-1])  # the same paths, in another order
    clf.partial_fit(X, Y)  # or none
    with pytest.raises(ValueError, match="classes describes another hierarchy"):
        clf.partial_fit(X, Y, classes=np.r_[Y, [["9", "9/9"]]])
    assert clf.n_epochs_ == 3


# --------------------------------------------------------------- partial_fit
def test_partial_fit_trains_one_epoch_on_every_row_without_early_stopping():
    clf = tiny_classifier(early_stopping=True, max_epochs=3).fit(X, Y)
    temperature, history = clf.temperature_, clf.history_
    assert "valid_loss" in clf.history_[-1]
    clf.set_params(max_epochs=50)
    clf.partial_fit(X, Y)
    assert clf.n_epochs_ == 4 and clf.best_epoch_ == 4
    assert epoch_rows(clf, "train") == len(X)
    assert "valid_loss" not in clf.history_[-1]
    assert "valid_loss_best" not in clf.history_[-1]
    assert "early_stopping" not in dict(clf.net_.callbacks_)
    assert clf.temperature_ == temperature
    assert clf.history_ is history  # extended, not copied


def test_partial_fit_from_scratch_ignores_early_stopping():
    clf = tiny_classifier(early_stopping=True).partial_fit(X, Y)
    assert clf.n_epochs_ == 1 and epoch_rows(clf, "train") == len(X)
    assert clf.temperature_ == 1.0


def test_partial_fit_applies_the_current_parameters():
    clf = warm(warm_start=False).partial_fit(X, Y)
    expected = expected_train_loss(clf, level_weights=[1.0, 0.0])
    clf.set_params(level_weights=[1.0, 0.0], lr=0.25)
    clf.partial_fit(X, Y)
    assert clf.history_[-1, "train_loss"] == pytest.approx(expected, rel=1e-5)
    assert {group["lr"] for group in clf.net_.optimizer_.param_groups} == {0.25}


def _fail_in_epoch(monkeypatch, epoch):
    original = MultiGranularityNet.on_epoch_end

    def on_epoch_end(self, net, **kwargs):
        original(self, net, **kwargs)
        if len(self.history) == epoch:
            raise RuntimeError("disk full")

    monkeypatch.setattr(MultiGranularityNet, "on_epoch_end", on_epoch_end)


def _state(clf):
    """Everything a failed resume must leave as it was."""
    optimizer = {
        (i, key): value.clone()
        for i, state in enumerate(clf.net_.optimizer_.state.values())
        for key, value in state.items()
    }
    return (
        dict(vars(clf)),
        weights(clf),
        optimizer,
        len(clf.history_),
        clf.history_[-1],
        clf.predict_proba(X),
    )


def _assert_state(clf, state):
    attributes, params, optimizer, n_rows, last_row, proba = state
    assert vars(clf).keys() == attributes.keys()
    for key, value in attributes.items():
        assert vars(clf)[key] is value, key
    for a, b in zip(weights(clf), params):
        assert torch.equal(a, b)
    now = {
        (i, key): value
        for i, state in enumerate(clf.net_.optimizer_.state.values())
        for key, value in state.items()
    }
    assert now.keys() == optimizer.keys()
    for key, value in optimizer.items():
        assert torch.equal(now[key], value), key
    assert len(clf.history_) == n_rows and clf.history_[-1] is last_row
    for a, b in zip(clf.predict_proba(X), proba):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_failed_resume_leaves_the_model_as_it_was(monkeypatch, method):
    clf = warm(max_epochs=2).fit(X, Y)
    state = _state(clf)
    _fail_in_epoch(monkeypatch, epoch=3)
    with pytest.raises(RuntimeError, match="disk full"):
        getattr(clf, method)(X + 1.0, Y)
    _assert_state(clf, state)
    monkeypatch.undo()
    getattr(clf, method)(X, Y)  # and it resumes normally afterwards
    assert [row["epoch"] for row in clf.history_] == list(range(1, clf.n_epochs_ + 1))


def test_a_resume_diverging_at_once_raises_and_keeps_the_model(monkeypatch):
    clf = warm().fit(X, Y)
    state = _state(clf)
    original = MultiGranularityNet.get_loss
    monkeypatch.setattr(
        MultiGranularityNet,
        "get_loss",
        lambda self, *a, **k: original(self, *a, **k) * float("nan"),
    )
    with pytest.raises(RuntimeError, match="not finite in epoch 3"):
        clf.partial_fit(X, Y)
    _assert_state(clf, state)


def test_warm_fit_applies_precision_and_the_learning_rate_schedule():
    clf = warm(precision="float32", lr_schedule="onecycle").fit(X, Y)
    assert clf.net_.autocast is None
    clf.set_params(precision="bfloat16", lr_schedule="constant", lr=0.05).fit(X, Y)
    assert clf.precision_ == "bfloat16" and clf.net_.autocast == "bfloat16"
    assert "lr_schedule" not in dict(clf.net_.callbacks_)
    assert clf.net_.optimizer_.param_groups[0]["lr"] == 0.05
