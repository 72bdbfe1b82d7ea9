"""min_path_probability: predict stops at the deepest level the model is sure of."""

import numpy as np
import pytest
import torch
from _helpers import TINY_BUDGETS, make_tree_data, sub_codes, tiny_classifier
from sklearn.model_selection import GridSearchCV, KFold

from mgclassifier._hierarchy import is_missing_label
from mgclassifier._prediction._engine import PredictionEngine
from mgclassifier.metrics import (
    accuracy_per_level,
    hierarchical_f1_scorer,
    hierarchical_precision_recall_fscore,
)

pytestmark = TINY_BUDGETS  # small models, few epochs, on purpose


def noisy_fine_data(n_samples=300, seed=0):
    """Coarse label easy (3 separated clusters), fine label a coin toss among 4."""
    rng = np.random.RandomState(seed)
    coarse = rng.randint(3, size=n_samples)
    fine = rng.randint(4, size=n_samples)
    X = 4.0 * np.eye(3)[coarse] + rng.normal(scale=0.5, size=(n_samples, 3))
    Y = np.column_stack(
        [coarse.astype(str), [f"{c}/{f}" for c, f in zip(coarse, fine)]]
    )
    return X, Y


@pytest.fixture(scope="module")
def fitted():
    X, Y = make_tree_data(n_samples=300, branching=(3, 2, 2), seed=1)
    clf = tiny_classifier(max_epochs=10).fit(X, Y)
    return clf, X, Y


def path_probabilities(clf, X):
    """Probability of each prefix of the full-path prediction, from the nodes."""
    nodes = clf.predict_node_proba(X)
    leaf = nodes[-1].argmax(axis=1)
    path = clf.hierarchy_.paths[leaf]
    rows = np.arange(len(X))
    return np.column_stack(
        [proba[rows, path[:, level]] for level, proba in enumerate(nodes)]
    )


def test_prefix_probability_never_rises_as_the_path_gets_longer(fitted):
    clf, X, _ = fitted
    proba = path_probabilities(clf, X)
    assert np.all(np.diff(proba, axis=1) <= 0)  # exactly, not up to rounding
    # The engine's prefix probabilities, from the path probabilities alone.
    engine = PredictionEngine(clf.hierarchy_)
    leaf_proba = torch.from_numpy(clf.predict_node_proba(X)[-1])
    np.testing.assert_array_equal(
        engine.prefix_proba(
            engine.node_proba(leaf_proba), leaf_proba.argmax(axis=1)
        ).numpy(),
        proba,
    )


@pytest.mark.parametrize("threshold", [0.3, 0.6, 0.9, 0.99])
def test_predict_returns_the_longest_sure_prefix(fitted, threshold):
    clf, X, _ = fitted
    full = clf.set_params(min_path_probability=None).predict(X)
    proba = path_probabilities(clf, X)
    short = clf.set_params(min_path_probability=threshold).predict(X)
    clf.set_params(min_path_probability=None)
    assert short.dtype == object and short.shape == full.shape
    depth = np.array([sum(not is_missing_label(v) for v in row) for row in short])
    np.testing.assert_array_equal(depth, (proba >= threshold).sum(axis=1))
    for row, n in zip(range(len(X)), depth):
        assert short[row, :n].tolist() == full[row, :n].tolist()
        assert all(v is None for v in short[row, n:])
        assert np.all(proba[row, :n] >= threshold)
        if n < short.shape[1]:
            assert proba[row, n] < threshold
    assert 0 < (depth < full.shape[1]).sum()  # the thresholds do cut rows


def test_none_and_zero_give_full_paths(fitted):
    clf, X, _ = fitted
    full = clf.set_params(min_path_probability=None).predict(X)
    assert full.dtype.kind == "U"
    zero = clf.set_params(min_path_probability=0.0).predict(X)
    clf.set_params(min_path_probability=None)
    assert zero.dtype == object
    assert zero.tolist() == full.tolist()


def test_a_row_unsure_of_its_coarsest_node_is_all_missing(fitted):
    clf, X, _ = fitted
    coarse = path_probabilities(clf, X)[:, 0]
    threshold = float(np.sort(coarse)[5])  # a few rows fall below it
    short = clf.set_params(min_path_probability=threshold).predict(X)
    clf.set_params(min_path_probability=None)
    empty = np.array([all(v is None for v in row) for row in short])
    np.testing.assert_array_equal(empty, coarse < threshold)
    assert empty.sum() == 5


def test_metrics_read_the_missing_marker_as_a_shorter_path(fitted):
    clf, X, Y = fitted
    short = clf.set_params(min_path_probability=0.9).predict(X)
    clf.set_params(min_path_probability=None)
    depth = np.array([sum(v is not None for v in row) for row in short])
    right = np.array(
        [
            sum(1 for level in range(n) if list(s[: level + 1]) == list(y[: level + 1]))
            for s, y, n in zip(short, Y, depth)
        ]
    )
    hp, hr, _ = hierarchical_precision_recall_fscore(Y, short)
    assert hp == pytest.approx(right.sum() / depth.sum())
    assert hr == pytest.approx(right.sum() / Y.size)
    as_empty_strings = np.where(short == None, "", short)  # noqa: E711
    assert hierarchical_precision_recall_fscore(Y, as_empty_strings) == (
        hierarchical_precision_recall_fscore(Y, short)
    )
    full = clf.predict(X)
    # Stopping early never loses precision here: the cut levels were the unsure ones.
    assert hp >= hierarchical_precision_recall_fscore(Y, full)[0]


def test_integer_labels_stay_integers_next_to_none():
    X, Y = make_tree_data(n_samples=120, branching=(3, 2))
    Y_int = sub_codes(Y).astype(int)
    clf = tiny_classifier(min_path_probability=0.8).fit(X, Y_int)
    short = clf.predict(X)
    assert short.dtype == object
    assert {type(v) for v in short.ravel()} <= {int, type(None)}
    assert any(v is None for v in short[:, -1])


def test_one_dimensional_y():
    X, Y = make_tree_data(n_samples=120)
    clf = tiny_classifier(max_epochs=5).fit(X, Y[:, -1])
    top = clf.predict_proba(X).max(axis=1)
    short = clf.set_params(min_path_probability=0.7).predict(X)
    assert short.shape == (len(X),) and short.dtype == object
    np.testing.assert_array_equal([v is None for v in short], top < 0.7)
    kept = top >= 0.7
    assert (
        short[kept].tolist()
        == clf.classes_[clf.predict_proba(X)[kept].argmax(1)].tolist()
    )


def test_repeated_labels_stop_on_the_node_probability():
    # '0' and '1' sit under every coarse label: a row stops where its node (not
    # the label summed over parents) falls below the threshold.
    X, Y = make_tree_data(n_samples=300, branching=(3, 2, 2), seed=1)
    Y = sub_codes(Y)
    clf = tiny_classifier(max_epochs=10, min_path_probability=0.6).fit(X, Y)
    short = clf.predict(X)
    proba = path_probabilities(clf, X)
    depth = np.array([sum(v is not None for v in row) for row in short])
    np.testing.assert_array_equal(depth, (proba >= 0.6).sum(axis=1))
    assert {tuple(row[:n]) for row, n in zip(short, depth)} <= {
        tuple(row[:n]) for row in Y for n in range(4)
    }


def test_grid_search_with_hierarchical_f1_tunes_the_threshold():
    # The fine label is noise: stopping at the (sure) coarse label earns more
    # hierarchical F1 (precision 1, recall 1/2) than guessing a fine label
    # right a quarter of the time.
    X, Y = noisy_fine_data()
    search = GridSearchCV(
        tiny_classifier(max_epochs=40, lr=1e-2),
        {"min_path_probability": [None, 0.5]},
        scoring=hierarchical_f1_scorer,
        cv=KFold(3, shuffle=True, random_state=0),
    ).fit(X, Y)
    scores = search.cv_results_["mean_test_score"]
    assert search.best_params_ == {"min_path_probability": 0.5}
    assert scores[1] > scores[0] + 0.02
    Y_pred = search.predict(X)
    assert np.mean([v is None for v in Y_pred[:, 1]]) > 0.5
    assert accuracy_per_level(Y, Y_pred)[0] > 0.9
