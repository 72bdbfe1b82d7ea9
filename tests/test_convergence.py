"""A fit cut short by max_epochs while its loss still falls warns, as
MLPClassifier does (ConvergenceWarning), naming max_epochs.

This module carries no filter of that warning (the modules that fit tiny
models on purpose do: ``_helpers.TINY_BUDGETS``).
"""

import warnings

import numpy as np
import pytest
from _helpers import tiny_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mgclassifier import MultiGranularityClassifier
from mgclassifier._training._convergence import budget_message, final_window


@pytest.mark.parametrize(
    "losses, max_epochs, monitor, warns",
    [
        ([1.0, 0.8, 0.7, 0.6], 4, "valid_loss", True),  # still falling
        ([1.0, 0.8, 0.7], 4, "valid_loss", False),  # early stopping fired
        ([1.0, 0.8, 0.8, 0.7995], 4, "valid_loss", False),  # 0.06%: flat
        ([1.0, 0.6], 2, "valid_loss", False),  # no epoch before the window
        ([1.0, 0.8, 0.7, 0.6, 0.7, 0.8], 6, "valid_loss", False),  # best earlier
        ([1.0, 0.8, 0.8, 0.78], 4, "train_loss", False),  # 2.5% < 5%
        ([1.0, 0.8, 0.8, 0.74], 4, "train_loss", True),
        ([1.0, np.nan, 0.8, 0.7], 4, "valid_loss", False),  # diverged: warned
    ],
)
def test_the_rule(losses, max_epochs, monitor, warns):
    message = budget_message(losses, max_epochs, monitor)
    assert (message is not None) == warns
    if warns:
        assert f"max_epochs={max_epochs}" in message and "Raise max_epochs" in message


def test_the_final_window_is_the_last_tenth_at_least_two():
    assert [final_window(n) for n in (3, 20, 21, 30, 100)] == [2, 2, 3, 3, 10]


def slow_learner(**params):
    """A small, constant learning rate: the loss is still falling after a few
    epochs, by a wide margin. On the tree data its validation loss fell
    0.9-1.6% over the last 2 of 6 epochs (whole set and each half of a 2-fold
    split), 9x or more the warning's 0.1%; the one-cycle schedule's annealing
    left 0.09-0.17%, a margin one BLAS's rounding can cross."""
    return tiny_classifier(
        **{"lr": 3e-4, "max_epochs": 6, "lr_schedule": "constant", **params}
    )


@pytest.mark.parametrize("how", ["fit", "pipeline", "grid search"])
def test_a_fit_cut_by_max_epochs_warns_at_the_callers_line(tree_data, how):
    X, Y = tree_data
    clf = slow_learner()
    fit = {
        "fit": clf.fit,
        "pipeline": make_pipeline(StandardScaler(), clf).fit,
        "grid search": GridSearchCV(clf, {"dropout": [0.6]}, cv=2, refit=False).fit,
    }[how]
    with pytest.warns(ConvergenceWarning, match="max_epochs=6") as record:
        fit(X, Y)
    caught = [w for w in record if w.category is ConvergenceWarning]
    assert len(caught) == (2 if how == "grid search" else 1)  # one per fit
    assert {w.filename for w in caught} == {__file__}
    assert "validation loss was still falling" in str(caught[0].message)
    if how != "grid search":
        assert clf.best_epoch_ == 6


def test_without_early_stopping_the_training_loss_decides(tree_data):
    X, Y = tree_data
    with pytest.warns(ConvergenceWarning, match="training loss was still falling"):
        # A constant rate: the training loss falls by 10% in the last epochs
        # (the one-cycle schedule's annealing would slow it).
        slow_learner(
            early_stopping=False, lr=3e-3, max_epochs=4, lr_schedule="constant"
        ).fit(X, Y)


def test_no_warning_when_early_stopping_ends_training(tree_data):
    X, Y = tree_data
    clf = tiny_classifier(max_epochs=300, patience=3, lr_schedule="constant")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, Y)
    assert clf.n_epochs_ < 300  # early stopping fired: nothing to warn about


def test_partial_fit_never_warns_and_a_warm_fit_judges_its_own_epochs(tree_data):
    X, Y = tree_data
    clf = slow_learner(warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        for _ in range(3):  # one epoch each, by design
            clf.partial_fit(X, Y)
    # A warm fit's own 6 epochs, still learning, warn: the 3 epochs before
    # them in history_ are not part of its budget.
    with pytest.warns(ConvergenceWarning, match="max_epochs=6"):
        clf.fit(X, Y)
    assert clf.n_epochs_ == 3 + 6


@pytest.mark.slow  # a default fit on ImCLEF07A (~5 s)
def test_the_quickstart_fit_does_not_warn():
    # Its best epoch is near the budget, but what the last epochs gain is the
    # one-cycle schedule's annealing (measured: 0.02%), not a model that more
    # epochs would improve (max_epochs=60 stopped early, no more accurate).
    from mgclassifier.datasets import load_imclef07a

    data = load_imclef07a()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        MultiGranularityClassifier(random_state=0).fit(data.X_train, data.y_train)
