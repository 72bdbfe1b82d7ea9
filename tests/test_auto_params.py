"""The "auto" values of batch_size, lr and early_stopping, resolved per fit."""

import math

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from mgclassifier import MultiGranularityClassifier


def _digits_two_levels():
    """load_digits (1,797 rows) with a coarse level: digit below 5 or not."""
    X, digit = load_digits(return_X_y=True)
    Y = np.column_stack([np.where(digit < 5, "low", "high"), digit.astype(str)])
    return train_test_split(X, Y, test_size=0.3, random_state=0, stratify=digit)


def test_small_data_gets_enough_optimizer_steps_at_the_defaults():
    # At a fixed batch of 512 these 1,257 training rows made 3 steps an
    # epoch, 90 in the whole 30-epoch budget.
    X_train, X_test, Y_train, Y_test = _digits_two_levels()
    clf = MultiGranularityClassifier(random_state=0).fit(X_train, Y_train)
    assert clf.batch_size_ == 64
    assert clf.lr_ == pytest.approx(6e-3 * math.sqrt(64 / 512))
    assert not clf.early_stopping_  # every row trains
    steps = len(clf.history_[-1, "batches"])
    assert steps == math.ceil(len(X_train) / 64)
    assert clf.n_epochs_ * steps >= 500
    assert clf.score(X_test, Y_test) > 0.97


def test_lr_auto_follows_an_explicit_batch_size():
    X_train, _, Y_train, _ = _digits_two_levels()
    clf = MultiGranularityClassifier(
        hidden_layer_sizes=(8,), batch_size=128, max_epochs=1, random_state=0
    ).fit(X_train, Y_train)
    assert clf.batch_size_ == 128
    assert clf.lr_ == pytest.approx(3e-3)
    clf.set_params(lr=0.01).fit(X_train, Y_train)
    assert clf.lr_ == 0.01
    assert clf.net_.lr == 0.01


def test_early_stopping_auto_holds_rows_out_above_ten_thousand_rows():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(10_001, 5))
    y = rng.randint(2, size=10_001)
    params = dict(hidden_layer_sizes=(4,), max_epochs=1, random_state=0)
    large = MultiGranularityClassifier(**params).fit(X, y)
    assert large.early_stopping_
    assert "valid_loss" in large.history_[-1]
    small = MultiGranularityClassifier(**params).fit(X[:10_000], y[:10_000])
    assert not small.early_stopping_
    assert "valid_loss" not in small.history_[-1]
    assert small.temperature_ == 1.0  # no held-out rows to calibrate on


def test_partial_fit_never_stops_early():
    X_train, _, Y_train, _ = _digits_two_levels()
    clf = MultiGranularityClassifier(
        hidden_layer_sizes=(8,), early_stopping=True, random_state=0
    ).partial_fit(X_train, Y_train)
    assert not clf.early_stopping_
