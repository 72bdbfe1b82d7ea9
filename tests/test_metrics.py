"""Tests for mgclassifier.metrics."""

import importlib

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import log_loss
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    cross_val_score,
    cross_validate,
)
from sklearn.naive_bayes import GaussianNB

from mgclassifier.datasets import make_hierarchical_classification
from mgclassifier.metrics import (
    SCORERS,
    accuracy_per_level,
    average_precision_scorer,
    brier_score_per_level,
    expected_calibration_error_per_level,
    fine_accuracy_scorer,
    hierarchical_average_precision,
    hierarchical_f1_score,
    hierarchical_f1_scorer,
    hierarchical_precision_recall_fscore,
    log_loss_per_level,
    mistake_severity,
    neg_brier_score_scorer,
    neg_expected_calibration_error_scorer,
    neg_log_loss_scorer,
)

Y_TRUE = [["a", "a1"], ["a", "a2"], ["b", "b1"], ["b", "b2"]]
Y_PRED = [["a", "a1"], ["a", "a1"], ["b", "b1"], ["a", "a2"]]
# Positives ranked 1, 2, 3, 5, 6 and 10 in the two-level example below.
HAND_AP_2_LEVELS = (1 + 1 + 1 + 4 / 5 + 5 / 6 + 6 / 10) / 6


def _direct_average_precision(targets, scores):
    """AP from its definition, for scores without ties.

    Mean over the positives of the precision among the items ranked at or
    above them.
    """
    order = np.argsort(-np.ravel(scores), kind="stable")
    hits = np.ravel(targets)[order]
    ranks = np.flatnonzero(hits) + 1
    return np.mean(np.cumsum(hits)[ranks - 1] / ranks)


# ---------------------------------------------------------------------------
# accuracy_per_level
# ---------------------------------------------------------------------------


def test_accuracy_per_level_values():
    np.testing.assert_allclose(accuracy_per_level(Y_TRUE, Y_PRED), [0.75, 0.5])


def test_accuracy_per_level_accepts_1d_and_pandas():
    acc = accuracy_per_level(pd.Series(["a", "b", "c"]), np.array(["a", "b", "b"]))
    assert acc.shape == (1,)
    np.testing.assert_allclose(acc, [2 / 3])
    df_true = pd.DataFrame(Y_TRUE, columns=["coarse", "fine"])
    df_pred = pd.DataFrame(Y_PRED, columns=["coarse", "fine"])
    np.testing.assert_allclose(accuracy_per_level(df_true, df_pred), [0.75, 0.5])


def test_accuracy_per_level_missing_labels_agree():
    y_true = [["a", ""], ["b", None]]
    y_pred = [["a", None], ["b", "b1"]]
    np.testing.assert_allclose(accuracy_per_level(y_true, y_pred), [1.0, 0.5])


def test_accuracy_does_not_equate_int_and_str():
    assert accuracy_per_level([1, 2], ["1", "2"])[0] == 0.0


def test_accuracy_per_level_shape_mismatch():
    with pytest.raises(
        ValueError, match=r"y_true has 2 levels but y_pred has 1 level: give both"
    ):
        accuracy_per_level(Y_TRUE, [["a"], ["a"], ["b"], ["b"]])
    with pytest.raises(ValueError, match=r"y_true has 1 level but y_pred has 2 "):
        accuracy_per_level([row[-1] for row in Y_TRUE], Y_TRUE)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        accuracy_per_level(Y_TRUE, Y_PRED[:3])


# ---------------------------------------------------------------------------
# hierarchical precision / recall / F-score
# ---------------------------------------------------------------------------


def test_hierarchical_prf_hand_computed():
    # |T&P| = 2 + 1 + 0, |P| = 2 + 2 + 2, |T| = 2 + 2 + 1 (short path).
    y_true = [["a", "a1"], ["a", "a2"], ["b", ""]]
    y_pred = [["a", "a1"], ["a", "a1"], ["a", "a2"]]
    hp, hr, hf = hierarchical_precision_recall_fscore(y_true, y_pred)
    assert hp == pytest.approx(3 / 6)
    assert hr == pytest.approx(3 / 5)
    assert hf == pytest.approx(2 * 0.5 * 0.6 / 1.1)
    assert hierarchical_f1_score(y_true, y_pred) == pytest.approx(hf)


def test_hierarchical_prf_on_four_samples():
    # |T&P| = 2 + 1 + 2 + 0 = 5 out of 8 nodes on each side.
    assert hierarchical_precision_recall_fscore(Y_TRUE, Y_PRED) == pytest.approx(
        (5 / 8, 5 / 8, 5 / 8)
    )


def test_hierarchical_prf_nodes_are_level_specific():
    # Same labels at swapped levels are different nodes: nothing is shared.
    assert hierarchical_precision_recall_fscore([[1, 2]], [[2, 1]]) == (0.0,) * 3
    hp, hr, _ = hierarchical_precision_recall_fscore([["x", "x"]], [["x", "y"]])
    assert (hp, hr) == (0.5, 0.5)


def test_nodes_are_paths_so_a_label_under_another_parent_is_not_shared():
    y_true = [["Clothing", "Accessories"], ["Electronics", "Accessories"]]
    y_pred = [["Electronics", "Accessories"], ["Electronics", "Accessories"]]
    # Row 0 shares nothing: its 'Accessories' sits under another parent.
    assert hierarchical_precision_recall_fscore(y_true, y_pred) == (0.5, 0.5, 0.5)
    np.testing.assert_allclose(accuracy_per_level(y_true, y_pred), [0.5, 0.5])
    assert mistake_severity(y_true, y_pred) == 4.0
    assert fine_accuracy_scorer(_Constant(y_pred), np.zeros((2, 1)), y_true) == 0.5
    # The same rows with the labels made unique give the same numbers.
    unique = [[p[0], "/".join(p)] for p in y_true]
    unique_pred = [[p[0], "/".join(p)] for p in y_pred]
    assert hierarchical_precision_recall_fscore(
        unique, unique_pred
    ) == hierarchical_precision_recall_fscore(y_true, y_pred)


class _Constant:
    def __init__(self, y_pred):
        self.y_pred = np.asarray(y_pred, dtype=object)

    def predict(self, X):
        return self.y_pred[: len(X)]


def test_correct_shorter_path_beats_wrong_longer_path():
    y_true = [["a", "a/x", "a/x/1"]]
    shorter = [["a", "a/x", None]]  # stops one level early, right so far
    longer = [["a", "a/y", "a/y/1"]]  # full path, wrong from level 1 on
    assert hierarchical_precision_recall_fscore(y_true, shorter) == pytest.approx(
        (1.0, 2 / 3, 0.8)
    )
    assert hierarchical_precision_recall_fscore(y_true, longer) == pytest.approx(
        (1 / 3, 1 / 3, 1 / 3)
    )
    assert mistake_severity(y_true, shorter) < mistake_severity(y_true, longer)
    np.testing.assert_allclose(accuracy_per_level(y_true, shorter), [1, 1, 0])
    np.testing.assert_allclose(accuracy_per_level(y_true, longer), [1, 0, 0])


def test_hierarchical_prf_nan_none_and_after_missing():
    # NaN / None end the path; a label after them is not a node either.
    y_true = np.array([["a", np.nan, "z"], ["b", "b1", None]], dtype=object)
    y_pred = np.array([["a", "a1", "z"], ["b", "b1", "b1x"]], dtype=object)
    hp, hr, _ = hierarchical_precision_recall_fscore(y_true, y_pred)
    assert hp == pytest.approx(3 / 6)
    assert hr == pytest.approx(3 / 3)


def test_hierarchical_prf_pandas_na_leaves_input_unchanged():
    y_true = pd.DataFrame({"c": ["x", "y"], "f": pd.array(["x1", pd.NA], "string")})
    y_pred = pd.DataFrame({"c": ["x", "y"], "f": pd.array([pd.NA, "y1"], "string")})
    before = y_true.copy()
    # Shared: the two level-1 nodes, out of 3 nodes on each side.
    assert hierarchical_f1_score(y_true, y_pred) == pytest.approx(2 / 3)
    pd.testing.assert_frame_equal(y_true, before)


def test_hierarchical_prf_perfect_and_empty():
    assert hierarchical_precision_recall_fscore(Y_TRUE, Y_TRUE) == (1.0, 1.0, 1.0)
    assert hierarchical_f1_score(["a", "b"], ["a", "b"]) == 1.0
    assert hierarchical_precision_recall_fscore([[""]], [["a"]]) == (0.0, 0.0, 0.0)


# ---------------------------------------------------------------------------
# hierarchical_average_precision
# ---------------------------------------------------------------------------


def test_average_precision_single_level_by_hand():
    # Ranked: .9+ .7- .6+ .4- .3+ .1-  ->  AP = (1/1 + 2/3 + 3/5) / 3.
    y_proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7]])
    ap = hierarchical_average_precision(["a", "b", "a"], y_proba, ["a", "b"])
    assert ap == pytest.approx(34 / 45)
    # Same input as lists / pandas.
    ap_pd = hierarchical_average_precision(
        pd.Series(["a", "b", "a"]), y_proba.tolist(), np.array(["a", "b"])
    )
    assert ap_pd == pytest.approx(34 / 45)


def test_average_precision_two_levels_matches_direct_computation():
    y_true = [["a", "a1"], ["b", "b1"], ["a", "a2"]]
    classes = [np.array(["a", "b"]), np.array(["a1", "a2", "b1"])]
    proba = [
        np.array([[0.95, 0.05], [0.35, 0.65], [0.55, 0.45]]),
        np.array([[0.50, 0.30, 0.20], [0.10, 0.15, 0.75], [0.62, 0.26, 0.12]]),
    ]
    targets = [[1, 0, 1, 0, 0], [0, 1, 0, 0, 1], [1, 0, 0, 1, 0]]
    scores = np.hstack(proba)
    # The scores have no ties, so the direct definition applies.
    assert len(np.unique(scores)) == scores.size
    expected = _direct_average_precision(targets, scores)
    ap = hierarchical_average_precision(y_true, proba, classes)
    assert ap == pytest.approx(expected)
    # By hand: .95+ .75+ .65+ .62- .55+ .50+ .45- .35- .30- .26+ ...
    assert ap == pytest.approx(HAND_AP_2_LEVELS)


def test_average_precision_perfect():
    classes = [np.array(["a", "b"]), np.array(["a1", "b1", "b2"])]
    y_true = [["a", "a1"], ["b", "b2"], ["b", "b1"]]
    proba = [
        np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]),
        np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]),
    ]
    assert hierarchical_average_precision(y_true, proba, classes) == 1.0


def test_average_precision_unseen_true_label_counts_as_missed():
    # "c" is not in classes: it is a positive scored 0 (extra column).
    # Ranked: .8+ .6- .4- .2- then a tie at 0 holding 1 positive, 1 negative:
    # AP = 1/2 * 1 + 1/2 * 2/6.
    y_proba = np.array([[0.8, 0.2], [0.6, 0.4]])
    ap = hierarchical_average_precision(["a", "c"], y_proba, ["a", "b"])
    assert ap == pytest.approx(0.5 + 1 / 6)
    # Dropping it would have given a perfect score.
    assert ap < 1.0


def test_average_precision_missing_true_label_is_no_node():
    # The short path of sample 2 has no level-2 node: that row is all negative.
    y_true = [["a", "a1"], ["b", ""]]
    classes = [["a", "b"], ["a1", "b1"]]
    proba = [np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([[0.7, 0.3], [0.4, 0.6]])]
    targets = [[1, 0, 1, 0], [0, 1, 0, 0]]
    expected = _direct_average_precision(targets, np.hstack(proba))
    ap = hierarchical_average_precision(y_true, proba, classes)
    assert ap == pytest.approx(expected)


@pytest.mark.parametrize(
    ("y_proba", "classes", "match"),
    [
        ([np.ones((2, 2))], [["a", "b"], ["a1"]], "level"),
        ([np.ones((2, 2)), np.ones((2, 2))], [["a", "b"]], "level"),
        ([np.ones((2, 2)), np.ones((2, 3))], [["a", "b"], ["x", "y"]], r"y_proba\[1\]"),
        ([np.ones((3, 2)), np.ones((3, 2))], [["a", "b"], ["x", "y"]], "shape"),
    ],
)
def test_average_precision_validates_shapes(y_proba, classes, match):
    y_true = [["a", "x"], ["b", "y"]]
    with pytest.raises(ValueError, match=match):
        hierarchical_average_precision(y_true, y_proba, classes)


def test_average_precision_rejects_no_positive_and_nan():
    with pytest.raises(ValueError, match="no labelled node"):
        hierarchical_average_precision([""], np.array([[0.5, 0.5]]), ["a", "b"])
    with pytest.raises(ValueError, match="NaN"):
        hierarchical_average_precision(["a"], np.array([[np.nan, 0.5]]), ["a", "b"])


# ---------------------------------------------------------------------------
# mistake_severity
# ---------------------------------------------------------------------------

TRUE_PATH = ["a", "a/x", "a/x/1"]


@pytest.mark.parametrize(
    ("pred", "expected"),
    [
        (["a", "a/x", "a/x/2"], 2.0),  # sibling
        (["a", "a/y", "a/y/1"], 4.0),  # cousin
        (["b", "b/x", "b/x/1"], 6.0),  # different root
    ],
)
def test_mistake_severity_tree_distances(pred, expected):
    assert mistake_severity([TRUE_PATH], [pred]) == expected


def test_mistake_severity_mean_over_wrong_samples_only():
    y_true = [TRUE_PATH] * 4
    y_pred = [TRUE_PATH, ["a", "a/x", "a/x/2"], ["a", "a/y", "a/y/1"], TRUE_PATH]
    assert mistake_severity(y_true, y_pred) == 3.0
    assert mistake_severity(y_true, y_true) == 0.0


def test_mistake_severity_right_leaf_under_wrong_ancestor_is_a_mistake():
    # A node is its path: the leaf label under another root is another node,
    # six edges away from the true leaf.
    y_pred = [["b", "a/x", "a/x/1"], ["a", "a/x", "a/x/2"]]
    assert mistake_severity([TRUE_PATH] * 2, y_pred) == 4.0


def test_mistake_severity_shorter_path_and_1d():
    # Predicting only the parent is one edge away from the true leaf.
    assert mistake_severity([["a", "a/x"]], [["a", ""]]) == 1.0
    assert mistake_severity(["a", "b", "c"], ["a", "c", "c"]) == 2.0


# ---------------------------------------------------------------------------
# Calibration: log-loss, Brier score, expected calibration error
# ---------------------------------------------------------------------------
CAL_CLASSES = [np.array(["a", "b"]), np.array(["a1", "a2", "b1"])]


def calibration_case(n_samples=60, seed=0):
    """Random coherent-ish probabilities; every fifth true path stops early."""
    rng = np.random.RandomState(seed)
    paths = np.array([["a", "a1"], ["a", "a2"], ["b", "b1"]], dtype=object)
    y_true = paths[rng.randint(3, size=n_samples)]
    y_true[::5, 1] = None
    fine = rng.dirichlet(np.ones(3), size=n_samples)
    coarse = np.column_stack([fine[:, :2].sum(axis=1), fine[:, 2]])
    return y_true, [coarse, fine]


def _direct_ece(labels, proba, classes, n_bins):
    """ECE from its definition: loop over (lo, hi] bins, 0 in the first."""
    confidence = proba.max(axis=1)
    correct = classes[proba.argmax(axis=1)] == labels
    total = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        members = (confidence > lo) & (confidence <= hi)
        if b == 0:
            members |= confidence == 0
        if members.any():
            gap = abs(correct[members].mean() - confidence[members].mean())
            total += members.sum() / len(labels) * gap
    return total


def brier_by_definition(labels, proba, classes):
    """Mean over samples of the squared distance to the one-hot label (what
    scikit-learn >= 1.7's brier_score_loss computes with scale_by_half=False;
    written out so the check runs on older releases too)."""
    onehot = np.asarray(labels)[:, None] == np.asarray(classes)[None, :]
    return np.mean(((proba - onehot) ** 2).sum(axis=1))


def test_log_loss_and_brier_match_their_definitions_level_by_level():
    y_true, proba = calibration_case()
    labelled = [np.ones(len(y_true), bool), y_true[:, 1] != None]  # noqa: E711
    expected_ll = [
        log_loss(y_true[rows, level], proba[level][rows], labels=CAL_CLASSES[level])
        for level, rows in enumerate(labelled)
    ]
    expected_brier = [
        # The binary level too has the multiclass scale: one scale for all.
        brier_by_definition(y_true[rows, level], proba[level][rows], CAL_CLASSES[level])
        for level, rows in enumerate(labelled)
    ]
    np.testing.assert_allclose(
        log_loss_per_level(y_true, proba, CAL_CLASSES), expected_ll
    )
    np.testing.assert_allclose(
        brier_score_per_level(y_true, proba, CAL_CLASSES), expected_brier
    )
    assert log_loss_per_level(
        y_true, proba, CAL_CLASSES, average="macro"
    ) == pytest.approx(np.mean(expected_ll))
    assert brier_score_per_level(
        y_true, proba, CAL_CLASSES, average="macro"
    ) == pytest.approx(np.mean(expected_brier))


@pytest.mark.parametrize("n_bins", [1, 5, 15])
def test_expected_calibration_error_matches_its_definition(n_bins):
    y_true, proba = calibration_case()
    labelled = y_true[:, 1] != None  # noqa: E711
    expected = [
        _direct_ece(y_true[:, 0], proba[0], CAL_CLASSES[0], n_bins),
        _direct_ece(y_true[labelled, 1], proba[1][labelled], CAL_CLASSES[1], n_bins),
    ]
    ece = expected_calibration_error_per_level(
        y_true, proba, CAL_CLASSES, n_bins=n_bins
    )
    np.testing.assert_allclose(ece, expected)
    assert np.all((ece > 0) & (ece < 1))


def test_calibration_metrics_of_perfect_and_of_calibrated_predictions():
    y_true = ["a", "b", "a", "b"]
    sure = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    assert log_loss_per_level(y_true, sure, ["a", "b"])[0] == pytest.approx(0)
    assert brier_score_per_level(y_true, sure, ["a", "b"])[0] == 0
    assert expected_calibration_error_per_level(y_true, sure, ["a", "b"])[0] == 0
    # Saying 0.75 and being right 3 times out of 4 is perfectly calibrated.
    y_true = ["a", "a", "a", "b"]
    three_quarters = np.tile([0.75, 0.25], (4, 1))
    ece = expected_calibration_error_per_level(y_true, three_quarters, ["a", "b"])
    assert ece[0] == pytest.approx(0)
    assert brier_score_per_level(y_true, three_quarters, ["a", "b"])[0] > 0


def test_calibration_metrics_unseen_label_and_empty_level():
    # 'c' is unknown to the model: probability 0, so a large log-loss, a Brier
    # term of 1 + sum(p^2), and a wrong top label.
    proba = np.array([[0.6, 0.4]])
    assert log_loss_per_level(["c"], proba, ["a", "b"])[0] == pytest.approx(
        -np.log(np.finfo(np.float64).eps)
    )
    assert brier_score_per_level(["c"], proba, ["a", "b"])[0] == pytest.approx(
        1 + 0.36 + 0.16
    )
    assert expected_calibration_error_per_level(["c"], proba, ["a", "b"])[
        0
    ] == pytest.approx(0.6)
    # No sample reaches level 1: NaN there, and the summary skips it.
    y_true = [["a", None], ["b", None]]
    proba = [np.array([[0.8, 0.2], [0.4, 0.6]]), np.full((2, 2), 0.5)]
    classes = [["a", "b"], ["a1", "b1"]]
    per_level = brier_score_per_level(y_true, proba, classes)
    assert per_level[0] == pytest.approx((0.08 + 0.32) / 2) and np.isnan(per_level[1])
    assert brier_score_per_level(y_true, proba, classes, average="macro") == (
        pytest.approx(per_level[0])
    )


@pytest.mark.parametrize(
    "metric",
    [log_loss_per_level, brier_score_per_level, expected_calibration_error_per_level],
)
def test_calibration_metrics_validate_their_input(metric):
    y_true, proba = calibration_case()
    with pytest.raises(ValueError, match="average must be None or 'macro'"):
        metric(y_true, proba, CAL_CLASSES, average="micro")
    with pytest.raises(ValueError, match=r"y_proba\[1\] holds values outside"):
        metric(y_true, [proba[0], proba[1] * 2], CAL_CLASSES)
    # Rounding of summed probabilities is tolerated (and the input kept).
    rounded, exact = [proba[0].copy(), proba[1]], [proba[0].copy(), proba[1]]
    rounded[0][0], exact[0][0] = [1 + 1e-7, 0.0], [1.0, 0.0]
    before = rounded[0].copy()
    np.testing.assert_array_equal(
        metric(y_true, rounded, CAL_CLASSES), metric(y_true, exact, CAL_CLASSES)
    )
    np.testing.assert_array_equal(rounded[0], before)
    with pytest.raises(ValueError, match="level"):
        metric(y_true, proba[:1], CAL_CLASSES)
    with pytest.raises(ValueError, match="no labelled node"):
        metric([None, None], np.full((2, 2), 0.5), ["a", "b"])


@pytest.mark.parametrize("n_bins", [0, 2.5, True])
def test_expected_calibration_error_checks_n_bins(n_bins):
    y_true, proba = calibration_case()
    with pytest.raises(ValueError, match="n_bins must be an integer >= 1"):
        expected_calibration_error_per_level(y_true, proba, CAL_CLASSES, n_bins=n_bins)


# ---------------------------------------------------------------------------
# Scorers
# ---------------------------------------------------------------------------


class FixedEstimator:
    """Stand-in fitted estimator returning canned outputs."""

    def __init__(self):
        self.classes_ = [np.array(["a", "b"]), np.array(["a1", "a2", "b1"])]

    def predict(self, X):
        return np.array([["a", "a1"], ["a", "a1"], ["b", "b1"]])[: len(X)]

    def predict_proba(self, X):
        return [
            np.array([[0.95, 0.05], [0.35, 0.65], [0.55, 0.45]])[: len(X)],
            np.array([[0.50, 0.30, 0.20], [0.10, 0.15, 0.75], [0.62, 0.26, 0.12]])[
                : len(X)
            ],
        ]


def test_scorers_with_fake_estimator():
    est, X = FixedEstimator(), np.zeros((3, 1))
    y = [["a", "a1"], ["b", "b1"], ["a", "a2"]]
    # |T&P| = 2 + 0 + 0 out of 6 on each side.
    assert hierarchical_f1_scorer(est, X, y) == pytest.approx(1 / 3)
    assert fine_accuracy_scorer(est, X, y) == pytest.approx(1 / 3)
    assert average_precision_scorer(est, X, y) == pytest.approx(HAND_AP_2_LEVELS)
    proba = est.predict_proba(X)
    for scorer, metric in [
        (neg_log_loss_scorer, log_loss_per_level),
        (neg_brier_score_scorer, brier_score_per_level),
        (neg_expected_calibration_error_scorer, expected_calibration_error_per_level),
    ]:
        expected = -metric(y, proba, est.classes_).mean()
        assert scorer(est, X, y) == pytest.approx(expected)
        assert expected < 0
    assert SCORERS == {
        "hierarchical_f1": hierarchical_f1_scorer,
        "average_precision": average_precision_scorer,
        "fine_accuracy": fine_accuracy_scorer,
        "neg_log_loss": neg_log_loss_scorer,
        "neg_brier_score": neg_brier_score_scorer,
        "neg_expected_calibration_error": neg_expected_calibration_error_scorer,
    }
    for scorer in SCORERS.values():
        assert isinstance(scorer(est, X, y), float)


class RowEstimator:
    """Stand-in fitted estimator: X holds row numbers of canned outputs."""

    classes_ = FixedEstimator().classes_

    def predict(self, X):
        return FixedEstimator().predict(np.zeros((3, 1)))[_rows(X)]

    def predict_proba(self, X):
        return [p[_rows(X)] for p in FixedEstimator().predict_proba(np.zeros((3, 1)))]


def _rows(X):
    return np.asarray(X, dtype=int)[:, 0]


@pytest.mark.parametrize("missing", [None, np.nan, "", pd.NA])
@pytest.mark.parametrize("name", sorted(SCORERS))
def test_scorers_skip_rows_without_a_finest_label(name, missing):
    # Row 1 has no fine label: it is left out, as the training loss leaves it
    # out at that level, instead of counting as a wrong or shorter path.
    scorer, est = SCORERS[name], RowEstimator()
    y = pd.DataFrame([["a", "a1"], ["b", missing], ["a", "a2"]], dtype=object)
    labelled = [["a", "a1"], ["a", "a2"]]
    expected = scorer(est, [[0], [2]], labelled)
    assert scorer(est, [[0], [1], [2]], y) == pytest.approx(expected)
    assert scorer(est, np.array([[0], [1], [2]]), y.to_numpy()) == pytest.approx(
        expected
    )
    # By hand: a/a1 is right, b/b1 for a/a2 shares no node with it.
    by_hand = {"fine_accuracy": 1 / 2, "hierarchical_f1": 2 / 4}
    if name in by_hand:
        assert expected == pytest.approx(by_hand[name])
    with pytest.raises(ValueError, match="No sample of y has a label at the finest"):
        scorer(est, [[1]], y.iloc[[1]])


class PerLevelNB(ClassifierMixin, BaseEstimator):
    """One Gaussian naive Bayes per level; predict returns 2-D labels."""

    def __init__(self, var_smoothing=1e-9):
        self.var_smoothing = var_smoothing

    def fit(self, X, Y):
        Y = np.asarray(Y)
        self.models_ = [
            GaussianNB(var_smoothing=self.var_smoothing).fit(X, Y[:, level])
            for level in range(Y.shape[1])
        ]
        self.classes_ = [model.classes_ for model in self.models_]
        return self

    def predict(self, X):
        return np.column_stack([model.predict(X) for model in self.models_])

    def predict_proba(self, X):
        return [model.predict_proba(X) for model in self.models_]


@pytest.fixture(scope="module")
def hierarchical_data():
    return make_hierarchical_classification(
        n_samples=150, n_features=5, branching=(2, 3), class_sep=3.0, random_state=0
    )


def _manual_cv_scores(X, Y, scorer, cv):
    scores = []
    for train, test in cv.split(X):
        model = PerLevelNB().fit(X[train], Y[train])
        scores.append(scorer(model, X[test], Y[test]))
    return np.array(scores)


@pytest.mark.parametrize("name", sorted(SCORERS))
def test_scorers_in_cross_val_score(hierarchical_data, name):
    X, Y = hierarchical_data
    cv = KFold(3)
    scores = cross_val_score(PerLevelNB(), X, Y, cv=cv, scoring=SCORERS[name])
    np.testing.assert_allclose(scores, _manual_cv_scores(X, Y, SCORERS[name], cv))
    if name.startswith("neg_"):  # losses: at most 0, here well above chance
        assert np.all((scores <= 0) & (scores > -0.5))
    else:
        assert np.all((scores > 0.3) & (scores <= 1.0))


def test_scorers_multimetric_grid_search(hierarchical_data):
    X, Y = hierarchical_data
    scoring = {
        "hf1": hierarchical_f1_scorer,
        "ap": average_precision_scorer,
        "acc": fine_accuracy_scorer,
    }
    search = GridSearchCV(
        PerLevelNB(),
        {"var_smoothing": [10.0, 1e-9]},
        scoring=scoring,
        refit="hf1",
        cv=3,
    ).fit(X, Y)
    expected = _manual_cv_scores(X, Y, average_precision_scorer, KFold(3)).mean()
    assert search.cv_results_["mean_test_ap"][1] == pytest.approx(expected)
    for key in ("mean_test_hf1", "mean_test_ap", "mean_test_acc"):
        assert np.all((search.cv_results_[key] > 0) & (search.cv_results_[key] <= 1))
    assert search.best_score_ == search.cv_results_["mean_test_hf1"].max()
    assert search.score(X, Y) == pytest.approx(
        hierarchical_f1_score(Y, search.predict(X))
    )


def test_scorers_dict_in_cross_validate(hierarchical_data):
    X, Y = hierarchical_data
    result = cross_validate(PerLevelNB(), X, Y, cv=2, scoring=SCORERS)
    for name in SCORERS:
        assert result[f"test_{name}"].shape == (2,)


@pytest.mark.parametrize(
    "module_name", ["mgclassifier.metrics", "mgclassifier.plotting"]
)
def test_public_modules_show_only_their_own_functions(module_name):
    # scikit-learn's average_precision_score, once importable from
    # mgclassifier.metrics beside hierarchical_average_precision, failed
    # when called as ours are, with (y, proba, classes).
    module = importlib.import_module(module_name)
    foreign = [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and callable(value)
        and not getattr(value, "__module__", "").startswith("mgclassifier")
    ]
    assert foreign == []
    assert not hasattr(module, "average_precision_score")
