"""Unit tests of the training callbacks, driven by hand on a stand-in net."""

import numpy as np
import pytest
import torch
from torch import nn

from mgclassifier._network._callbacks import WeightAveraging


class StandInNet:
    """What the callbacks use of a skorch net: ``module_``."""

    def __init__(self):
        self.module_ = nn.Linear(1, 1, bias=False)

    def set_weight(self, value):
        with torch.no_grad():
            self.module_.weight.fill_(value)

    @property
    def weight(self):
        return float(self.module_.weight.detach())


def expected_average(initial, values, decay):
    """The moving average with the callback's warm-up of the decay."""
    average = initial
    for step, value in enumerate(values, start=1):
        d = min(decay, (1 + step) / (10 + step))
        average = d * average + (1 - d) * value
    return average


def train_batches(callback, net, values):
    for value in values:
        net.set_weight(value)
        callback.on_batch_end(net, training=True)


def test_average_follows_the_weights_with_warm_up():
    net, callback = StandInNet(), WeightAveraging(decay=0.9)
    net.set_weight(0.0)
    callback.on_train_begin(net)
    values = np.linspace(1.0, 3.0, 30)
    train_batches(callback, net, values)
    callback.on_train_end(net)  # no validation: the average is loaded at the end
    assert net.weight == pytest.approx(expected_average(0.0, values, 0.9), rel=1e-6)
    assert net.weight < values[-1]  # an average, not the last weights


def test_validation_sees_the_average_and_training_resumes_from_raw_weights():
    net, callback = StandInNet(), WeightAveraging(decay=0.5)
    net.set_weight(0.0)
    callback.on_train_begin(net)
    train_batches(callback, net, [4.0, 8.0])
    average = expected_average(0.0, [4.0, 8.0], 0.5)
    callback.on_batch_begin(net, training=False)  # first validation batch
    assert net.weight == pytest.approx(average)
    callback.on_batch_begin(net, training=False)  # later ones: no second swap
    assert net.weight == pytest.approx(average)
    callback.on_epoch_begin(net)  # next epoch trains on
    assert net.weight == 8.0
    # Training ended after a validation pass: the average stays loaded (and
    # early stopping may put back its best averaged weights after this).
    callback.on_batch_begin(net, training=False)
    callback.on_train_end(net)
    assert net.weight == pytest.approx(average)


def test_an_average_of_diverged_weights_is_not_loaded():
    net, callback = StandInNet(), WeightAveraging(decay=0.9)
    net.set_weight(1.0)
    callback.on_train_begin(net)
    train_batches(callback, net, [2.0, float("nan")])
    net.set_weight(5.0)  # e.g. last finite weights put back by DivergenceGuard
    callback.on_train_end(net)
    assert net.weight == 5.0


def test_no_weight_copies_are_kept_after_training():
    net, callback = StandInNet(), WeightAveraging(decay=0.9)
    callback.on_train_begin(net)
    train_batches(callback, net, [1.0])
    callback.on_train_end(net)
    assert callback._average is None and callback._raw is None
