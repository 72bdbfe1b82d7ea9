"""target_accuracy: fit chooses the path threshold that certifies an accuracy."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import torch
from _helpers import TINY_BUDGETS, make_tree_data, sub_codes, tiny_classifier
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold

from mgclassifier._data._datasets import ArrayDataset
from mgclassifier._hierarchy import is_missing_label
from mgclassifier._prediction._predict import Predictor, predict_path_proba
from mgclassifier._prediction._selective import (
    SelectiveTarget,
    batch_miss_probability,
    choose_threshold,
    coverage_at,
    error_upper_bound,
    first_wrong_depth,
    max_certified_errors,
    min_rows,
    returned_depth,
)
from mgclassifier.metrics import hierarchical_f1_scorer

pytestmark = TINY_BUDGETS  # small models, few epochs, on purpose


# ------------------------------------------------------------ the rule alone
def simulated_rows(rng, n_rows):
    """Two-level prefix probabilities and calibrated correctness.

    The coarse node has probability p1 ~ U(0.5, 1), the fine one p2 = p1 * u
    with u ~ U(0, 1); the coarse label is right with probability p1 and,
    when it is, the fine one with probability u: the probabilities are
    calibrated, as the model's aim to be.
    """
    p1 = rng.uniform(0.5, 1.0, n_rows)
    u = rng.uniform(0.0, 1.0, n_rows)
    coarse_right = rng.uniform(size=n_rows) < p1
    fine_right = coarse_right & (rng.uniform(size=n_rows) < u)
    first_wrong = np.where(~coarse_right, 1, np.where(~fine_right, 2, 3))
    return np.column_stack([p1, p1 * u]), first_wrong


def accuracy(prefix, first_wrong, threshold):
    """Share of rows whose returned path is right (no label counts as right)."""
    return float(np.mean(returned_depth(prefix, threshold) < first_wrong))


@pytest.fixture(scope="module")
def population():
    """A large sample that stands for the true distribution."""
    return simulated_rows(np.random.RandomState(12345), 400_000)


@pytest.mark.parametrize("target", [0.8, 0.9])
def test_the_bound_holds_on_simulated_draws(population, target):
    # Over many draws of held-out rows, the threshold's true accuracy reaches
    # the target in at least the asked share of draws.
    rng = np.random.RandomState(0)
    hits = {0.9: [], 0.5: []}
    for _ in range(300):
        prefix, first_wrong = simulated_rows(rng, 400)
        for confidence, record in hits.items():
            threshold = choose_threshold(prefix, first_wrong, target, confidence)
            record.append(accuracy(*population, threshold) >= target)
    # With 300 draws the share of a 0.9 event falls below 0.86 with
    # probability under 2%; the bound's slack makes it higher still.
    assert np.mean(hits[0.9]) >= 0.86
    # The check has power: asking for a coin toss of confidence gets one.
    assert np.mean(hits[0.5]) < 0.8


def test_the_threshold_keeps_as_much_as_the_bound_allows(population):
    prefix, first_wrong = simulated_rows(np.random.RandomState(1), 1000)
    target, confidence = 0.85, 0.9
    threshold = choose_threshold(prefix, first_wrong, target, confidence)
    chosen = coverage_at(prefix, first_wrong, threshold, confidence)
    assert chosen["accuracy_bound"] >= target
    assert 0 < chosen["mean_depth"] < 2
    # The next held-out probability below the threshold would lose the bound.
    lower = prefix[prefix < threshold].max()
    below = coverage_at(prefix, first_wrong, lower, confidence)
    assert below["accuracy_bound"] < target


def test_coverage_shrinks_as_the_target_or_the_confidence_rises():
    prefix, first_wrong = simulated_rows(np.random.RandomState(2), 2000)
    depths = []
    for target in (0.7, 0.8, 0.85, 0.9, 0.95, 0.98):
        threshold = choose_threshold(prefix, first_wrong, target, 0.9)
        depths.append(returned_depth(prefix, threshold).mean())
    assert np.all(np.diff(depths) <= 0) and depths[0] > depths[-1]
    by_confidence = [
        returned_depth(prefix, choose_threshold(prefix, first_wrong, 0.9, c)).mean()
        for c in (0.5, 0.8, 0.9, 0.99)
    ]
    assert np.all(np.diff(by_confidence) <= 0) and by_confidence[0] > by_confidence[-1]


def test_edge_cases_of_the_rule():
    prefix = np.array([[0.9, 0.8], [0.7, 0.2]] * 100)
    never_wrong = np.full(200, 3)
    assert choose_threshold(prefix, never_wrong, 0.95, 0.9) == 0.0  # full paths
    # Fewer rows than a perfect record needs: no label at all.
    few = min_rows(0.95, 0.9) - 1
    assert choose_threshold(prefix[:few], never_wrong[:few], 0.95, 0.9) == np.inf
    assert choose_threshold(np.empty((0, 2)), np.empty(0, int), 0.9, 0.9) == np.inf
    # Every fine label wrong: the threshold cuts above the fine probabilities
    # and below the coarse ones.
    fine_wrong = np.full(200, 2)
    threshold = choose_threshold(prefix, fine_wrong, 0.95, 0.9)
    assert 0.8 < threshold <= 0.9  # at 0.8 every fine label is returned
    np.testing.assert_array_equal(returned_depth(prefix, threshold), [1, 0] * 100)


def test_bound_helpers_agree_with_their_definitions():
    # Clopper-Pearson with no error: 1 - (1 - confidence) ** (1 / n).
    assert error_upper_bound(0, 100, 0.9) == pytest.approx(1 - 0.1 ** (1 / 100))
    assert error_upper_bound(5, 5, 0.9) == 1.0
    k = max_certified_errors(1000, 0.9, 0.95)
    assert error_upper_bound(k, 1000, 0.95) <= 0.1
    assert error_upper_bound(k + 1, 1000, 0.95) > 0.1
    n = min_rows(0.97, 0.8)
    assert max_certified_errors(n, 0.97, 0.8) == 0
    assert max_certified_errors(n - 1, 0.97, 0.8) == -1
    np.testing.assert_array_equal(
        first_wrong_depth([[0, 1, 2], [0, 1, 3], [1, 1, 2]], [[0, 1, 2]] * 3),
        [4, 3, 1],
    )


# ------------------------------------------- the accuracy of one batch
def test_the_batch_rule_holds_on_simulated_batches():
    # Held-out rows and a batch drawn together: the batch's own accuracy
    # reaches the target in the asked share of draws with target_batch_size,
    # and the long-run rule, exact about the long run, misses it more often.
    rng = np.random.RandomState(0)
    n_held_out, n_batch, target = 400, 400, 0.8
    hits = {n_batch: [], None: []}
    for _ in range(1000):
        prefix, first_wrong = simulated_rows(rng, n_held_out + n_batch)
        held_out, batch = slice(0, n_held_out), slice(n_held_out, None)
        for batch_size, record in hits.items():
            threshold = choose_threshold(
                prefix[held_out], first_wrong[held_out], target, 0.9, batch_size
            )
            batch_accuracy = accuracy(prefix[batch], first_wrong[batch], threshold)
            record.append(batch_accuracy >= target)
    # 1,000 draws measure a share of 0.9 to about +-0.01: 0.88 is two below.
    assert np.mean(hits[n_batch]) >= 0.88
    assert np.mean(hits[None]) < 0.88


def test_the_batch_bound_agrees_with_its_definition():
    # A batch of 10 at 0.95 must be perfect: with k held-out errors of n, it
    # is not when one of the k + 1 most sure erring rows of both is in it.
    n, k, m = 1000, 3, 10
    all_held_out = np.prod([(n - i) / (n + m - i) for i in range(k + 1)])
    assert batch_miss_probability(k, n, 0.95, m) == pytest.approx(1 - all_held_out)
    # 10 rows at 0.9 allow one error, though 1 - 0.9 is just below 0.1.
    assert batch_miss_probability(k, n, 0.9, m) < batch_miss_probability(k, n, 0.95, m)
    # A batch of a million rows is the long run.
    for target in (0.9, 0.95, 0.99):
        assert max_certified_errors(1000, target, 0.9, 10**6) == max_certified_errors(
            1000, target, 0.9
        )
    # Batches of hundreds of rows allow fewer held-out errors than the long run.
    assert max_certified_errors(1000, 0.95, 0.9, 500) < max_certified_errors(
        1000, 0.95, 0.9
    )
    n = min_rows(0.95, 0.9, 200)
    assert max_certified_errors(n, 0.95, 0.9, 200) == 0
    assert max_certified_errors(n - 1, 0.95, 0.9, 200) == -1
    assert SelectiveTarget(0.9, 0.8).describe() == (
        "target_accuracy=0.9, target_confidence=0.8"
    )


# -------------------------------------------------------- the estimator
@pytest.fixture(scope="module")
def tree():
    return make_tree_data(n_samples=1500, branching=(3, 2, 2), seed=1)


@pytest.fixture(scope="module")
def fitted(tree):
    X, Y = tree
    clf = tiny_classifier(target_accuracy=0.9, early_stopping=False, max_epochs=8)
    return clf.fit(X, Y)


def rule_inputs(clf, X, codes):
    """What the rule reads of rows: their prefix probabilities and the depth
    of their first wrong level."""
    leaf, prefix = predict_path_proba(
        clf._predictor(), X.astype(np.float32), np.float64
    )
    return prefix, first_wrong_depth(clf.hierarchy_.paths[leaf], codes)


def depth_of(Y_pred):
    Y_pred = np.asarray(Y_pred, dtype=object).reshape(len(Y_pred), -1)
    return np.array([sum(not is_missing_label(v) for v in row) for row in Y_pred])


def test_fit_sets_the_threshold_and_the_held_out_coverage(fitted, tree):
    X, Y = tree
    clf = fitted
    coverage = clf.held_out_coverage_
    assert 0 < clf.path_threshold_ < 1
    # Without early stopping a tenth of the rows was held out for it, and
    # training ran every epoch (nothing stopped it early).
    assert coverage["rows"] == int(np.ceil(0.1 * len(X)))
    assert clf.early_stopping_ is False and clf.n_epochs_ == 8
    assert "valid_loss" not in clf.history_[-1]  # they validated nothing either
    assert coverage["accuracy_bound"] >= 0.9 and coverage["accuracy"] >= 0.9
    assert 0 < coverage["full_paths"] < 1 and 0 < coverage["mean_depth"] <= 3
    # predict cuts paths at the chosen threshold, as min_path_probability does.
    short = clf.predict(X)
    by_hand = clone(clf).set_params(target_accuracy=None)
    by_hand.__dict__.update(
        {k: v for k, v in clf.__dict__.items() if k.endswith("_") or k[0] == "_"}
    )
    by_hand.set_params(min_path_probability=clf.path_threshold_)
    np.testing.assert_array_equal(short, by_hand.predict(X))
    assert 0 < (depth_of(short) < 3).sum() < len(X)


def test_predict_reads_the_same_rule_as_the_fit(fitted, tree):
    # The fit's prefix probabilities, cut by the fit's rule, give predict's
    # depths on any rows.
    X, _ = tree
    clf = fitted
    _, prefix = predict_path_proba(clf._predictor(), X.astype(np.float32), np.float64)
    depth = returned_depth(prefix, clf.path_threshold_)
    np.testing.assert_array_equal(depth_of(clf.predict(X)), depth)


def test_the_device_path_gives_the_cpu_paths_probabilities(fitted, tree, monkeypatch):
    X, _ = tree
    clf, X32 = fitted, X.astype(np.float32)
    leaf, prefix = predict_path_proba(clf._predictor(), X32, np.float64)
    cpu = clf.predict(X)
    monkeypatch.setattr(Predictor, "on_accelerator", True)
    leaf_t, prefix_t = predict_path_proba(clf._predictor(), X32, np.float64)
    np.testing.assert_array_equal(leaf, leaf_t)
    np.testing.assert_allclose(prefix, prefix_t, atol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), cpu)


def test_the_threshold_rows_are_apart_from_the_early_stopping_rows(tree):
    # Rows that picked the epoch and fitted the temperature would make the
    # guarantee optimistic: the threshold gets rows of its own.
    X, Y = tree
    clf = tiny_classifier(target_accuracy=0.9, validation_fraction=0.2).fit(X, Y)
    assert clf.early_stopping_ is True
    n_out = int(np.ceil(0.2 * len(X)))
    assert clf.held_out_coverage_["rows"] == n_out
    assert clf.held_out_coverage_["accuracy_bound"] >= 0.9
    codes = clf.hierarchy_.encode(Y)
    train, valid, aside = clf.net_.train_split.parts(ArrayDataset(X, codes))
    assert len(valid) == len(aside) == n_out and len(train) == len(X) - 2 * n_out
    assert not set(aside) & (set(valid) | set(train))
    assert "valid_loss" in clf.history_[-1]  # the early-stopping rows validated


@pytest.mark.parametrize(
    "params, name",
    [
        (dict(target_accuracy=0.0), "target_accuracy"),
        (dict(target_accuracy=1.0), "target_accuracy"),
        (dict(target_accuracy=1.5), "target_accuracy"),
        (dict(target_accuracy="0.9"), "target_accuracy"),
        (dict(target_accuracy=0.9, target_confidence=1.0), "target_confidence"),
        (dict(target_accuracy=0.9, target_confidence=0), "target_confidence"),
        (dict(target_accuracy=0.9, min_path_probability=0.5), "min_path_probability"),
        (dict(target_accuracy=0.9, target_batch_size=0), "target_batch_size"),
        (dict(target_accuracy=0.9, target_batch_size=2.5), "target_batch_size"),
        (dict(target_accuracy=0.9, target_batch_size="100"), "target_batch_size"),
    ],
)
def test_bad_targets_fail_before_training_naming_the_parameter(
    tree, params, name, monkeypatch
):
    def no_training(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr("mgclassifier._training._train.build_net", no_training)
    X, Y = tree
    clf = tiny_classifier(**params)
    with pytest.raises(ValueError, match=name):
        clf.fit(X, Y)
    assert not hasattr(clf, "net_")


def test_setting_both_names_both_parameters(tree):
    X, Y = tree
    with pytest.raises(ValueError, match="target_accuracy=0.9 and min_path_prob"):
        tiny_classifier(target_accuracy=0.9, min_path_probability=0.5).fit(X, Y)


def test_partial_fit_refuses_it_before_training(tree):
    X, Y = tree
    clf = tiny_classifier(target_accuracy=0.9)
    with pytest.raises(ValueError, match="target_accuracy=0.9 .* partial_fit"):
        clf.partial_fit(X, Y)
    assert not hasattr(clf, "net_")


def test_changing_the_target_after_fit_asks_for_a_refit(fitted, tree):
    X, _ = tree
    clf = copy.deepcopy(fitted)
    clf.set_params(target_accuracy=0.95)
    with pytest.raises(ValueError, match="fitted for target_accuracy=0.9"):
        clf.predict(X[:3])
    clf.set_params(target_accuracy=0.9, min_path_probability=0.3)
    with pytest.raises(ValueError, match="min_path_probability"):
        clf.predict(X[:3])
    # Back to the full paths: the fit's threshold is no longer applied.
    clf.set_params(target_accuracy=None, min_path_probability=None)
    assert (depth_of(clf.predict(X)) == 3).all()
    # A model fitted without a target cannot invent its threshold.
    plain = tiny_classifier(max_epochs=2).fit(*tree)
    assert plain.path_threshold_ is None and plain.held_out_coverage_ is None
    with pytest.raises(ValueError, match="fitted without target_accuracy"):
        plain.set_params(target_accuracy=0.9).predict(X[:3])


def test_target_batch_size_chooses_for_a_batch_of_that_many_rows(fitted, tree):
    X, Y = tree
    params = dict(target_accuracy=0.9, early_stopping=False, max_epochs=8)
    clf = tiny_classifier(target_batch_size=100, **params).fit(X, Y)
    # The fixture's network (same seed, same rows): only the rule differs.
    np.testing.assert_allclose(
        clf.predict_proba(X[:50])[-1], fitted.predict_proba(X[:50])[-1]
    )
    assert clf._selective_target == SelectiveTarget(0.9, 0.9, 100)
    codes = clf.hierarchy_.encode(Y)
    aside = clf.net_.train_split.parts(ArrayDataset(X, codes))[2]
    prefix, first_wrong = rule_inputs(clf, X[aside], codes[aside])
    expected = choose_threshold(prefix, first_wrong, 0.9, 0.9, batch_size=100)
    assert clf.path_threshold_ == pytest.approx(expected)
    # A batch of 100 scatters more than the long run: it keeps less depth.
    assert clf.path_threshold_ >= fitted.path_threshold_
    assert (
        clf.held_out_coverage_["mean_depth"] <= fitted.held_out_coverage_["mean_depth"]
    )
    # The threshold was chosen for that batch size: another asks for a refit,
    # naming it, or choose_threshold applies it without training.
    changed = copy.deepcopy(fitted).set_params(target_batch_size=100)
    with pytest.raises(ValueError, match="target_batch_size=100: the threshold is"):
        changed.predict(X[:3])
    changed.choose_threshold(X[aside], Y[aside])
    assert changed.path_threshold_ == pytest.approx(clf.path_threshold_)
    np.testing.assert_array_equal(changed.predict(X), clf.predict(X))
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict(X), clf.predict(X))


def test_too_few_held_out_rows_return_no_label_with_a_warning(tree):
    X, Y = tree
    clf = tiny_classifier(target_accuracy=0.99, early_stopping=False, max_epochs=2)
    with pytest.warns(UserWarning, match="at least 230 held-out rows"):
        clf.fit(X[:300], Y[:300])  # 30 held out
    assert clf.path_threshold_ == np.inf
    assert clf.held_out_coverage_["no_label"] == 1.0
    assert all(v is None for v in clf.predict(X[:20]).ravel())


def test_repeated_labels(tree):
    X, Y = tree
    Y_sub = sub_codes(Y)  # '0' under every parent: each label is several nodes
    clf = tiny_classifier(target_accuracy=0.9, early_stopping=False, max_epochs=8)
    clf.fit(X, Y_sub)
    assert clf.held_out_coverage_["accuracy_bound"] >= 0.9
    short = clf.predict(X)
    full = clf.set_params(target_accuracy=None).predict(X)
    depth = depth_of(short)
    assert 0 < (depth < 3).sum()
    for row in range(len(X)):
        assert short[row, : depth[row]].tolist() == full[row, : depth[row]].tolist()


def test_partial_labels_leave_unlabelled_held_out_rows_out(tree):
    X, Y = tree
    Y_partial = Y.astype(object)
    Y_partial[::3, 2] = None  # a third of the rows stop at the middle level
    clf = tiny_classifier(target_accuracy=0.85, early_stopping=False, max_epochs=8)
    clf.fit(X, Y_partial)
    n_held_out = int(np.ceil(0.1 * len(X)))
    assert 0.5 * n_held_out < clf.held_out_coverage_["rows"] < n_held_out
    assert clf.held_out_coverage_["accuracy_bound"] >= 0.85
    assert clf.predict(X).shape == Y.shape


def test_one_level_y_returns_none_where_no_level_qualifies():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(1200, 4))
    # Class 'a' is easy, 'b' and 'c' are a coin toss between themselves.
    y = np.where(X[:, 0] > 0, "a", np.where(rng.uniform(size=1200) < 0.5, "b", "c"))
    clf = tiny_classifier(target_accuracy=0.9, early_stopping=False, max_epochs=8)
    y_pred = clf.fit(X, y).predict(X)
    assert y_pred.shape == (1200,) and y_pred.dtype == object
    given = np.array([v is not None for v in y_pred])
    assert 0.3 < given.mean() < 0.9  # the coin toss is left unanswered
    assert set(y_pred[given]) <= {"a", "b", "c"}
    right_or_none = np.mean(~given | (y_pred == y))
    assert right_or_none >= 0.85


def test_pickle_round_trip(fitted, tree):
    X, _ = tree
    restored = pickle.loads(pickle.dumps(fitted))
    assert restored.path_threshold_ == fitted.path_threshold_
    assert restored.held_out_coverage_ == fitted.held_out_coverage_
    np.testing.assert_array_equal(restored.predict(X), fitted.predict(X))


def test_onnx_export_refuses_it_clearly(fitted, tree):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    from mgclassifier.onnx import to_onnx

    with pytest.raises(ValueError, match="target_accuracy=0.9 is not exported"):
        to_onnx(fitted, tree[0][:2])


def test_clone_and_grid_search(tree):
    X, Y = tree
    clf = tiny_classifier(target_accuracy=0.9, target_confidence=0.8)
    cloned = clone(clf)
    assert cloned.get_params()["target_accuracy"] == 0.9
    assert cloned.get_params()["target_confidence"] == 0.8
    search = GridSearchCV(
        tiny_classifier(early_stopping=False, max_epochs=4),
        {"target_accuracy": [0.8, 0.9]},
        scoring=hierarchical_f1_scorer,
        cv=KFold(2),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        search.fit(X, Y)
    best = search.best_estimator_
    assert best.target_accuracy in (0.8, 0.9)
    assert best.held_out_coverage_["accuracy_bound"] >= best.target_accuracy


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; none here")
def test_on_a_cuda_gpu(tree):
    X, Y = tree
    clf = tiny_classifier(
        target_accuracy=0.9, early_stopping=False, max_epochs=8, device="cuda"
    ).fit(X, Y)
    assert clf._predictor().on_accelerator
    assert clf.held_out_coverage_["accuracy_bound"] >= 0.9
    on_cpu = copy.deepcopy(clf)
    on_cpu.net_.module_.to("cpu")
    on_cpu.net_.device = "cpu"
    np.testing.assert_array_equal(clf.predict(X), on_cpu.predict(X))
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict(X), clf.predict(X))


# ------------------------------------------------- choosing it on given rows
def test_choose_threshold_on_given_rows_is_the_rule_on_those_rows(fitted, tree):
    X, Y = tree
    clf = copy.deepcopy(fitted)
    rows = slice(0, 600)
    clf.set_params(target_accuracy=0.95, target_confidence=0.8)
    assert clf.choose_threshold(X[rows], Y[rows]) is clf
    # The fit's rule applied by hand to the same rows' probabilities.
    prefix, first_wrong = rule_inputs(clf, X[rows], clf.hierarchy_.encode(Y[rows]))
    expected = choose_threshold(prefix, first_wrong, 0.95, 0.8)
    assert clf.path_threshold_ == pytest.approx(expected)
    assert clf.held_out_coverage_ == coverage_at(prefix, first_wrong, expected, 0.8)
    assert clf.held_out_coverage_["rows"] == 600
    assert clf.held_out_coverage_["accuracy_bound"] >= 0.95
    # The new target is applied: predict cuts at the new threshold.
    depth = returned_depth(prefix, clf.path_threshold_)
    np.testing.assert_array_equal(depth_of(clf.predict(X[rows])), depth)
    # And it survives pickling.
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict(X[:50]), clf.predict(X[:50]))


def test_choose_threshold_counts_unseen_labels_as_wrong(fitted, tree):
    # A row whose fine label the model never saw is wrong wherever its full
    # path is returned: such rows push the threshold up, never out.
    X, Y = tree
    rows = slice(0, 600)
    seen = copy.deepcopy(fitted).choose_threshold(X[rows], Y[rows])
    Y_new = Y[rows].astype(object)
    Y_new[:150, 2] = "never seen"
    unseen = copy.deepcopy(fitted).choose_threshold(X[rows], Y_new)
    assert unseen.held_out_coverage_["rows"] == 600
    assert unseen.path_threshold_ > seen.path_threshold_
    assert (
        unseen.held_out_coverage_["full_paths"] < seen.held_out_coverage_["full_paths"]
    )
    # Rows without a finest label are left out instead.
    Y_partial = Y[rows].astype(object)
    Y_partial[:150, 2] = None
    partial = copy.deepcopy(fitted).choose_threshold(X[rows], Y_partial)
    assert partial.held_out_coverage_["rows"] == 450


def test_choose_threshold_with_a_one_level_y():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(1200, 4))
    y = np.where(X[:, 0] > 0, "a", np.where(rng.uniform(size=1200) < 0.5, "b", "c"))
    clf = tiny_classifier(target_accuracy=0.9, early_stopping=False, max_epochs=8)
    clf.fit(X[:800], y[:800]).choose_threshold(X[800:], y[800:])
    assert clf.held_out_coverage_["rows"] == 400
    y_pred = clf.predict(X[800:])
    assert y_pred.shape == (400,) and any(v is None for v in y_pred)


@pytest.mark.parametrize(
    "params, y_change, message",
    [
        (dict(target_accuracy=None), None, "target_accuracy, which is None"),
        (dict(min_path_probability=0.5), None, "min_path_probability=0.5 both set"),
        (dict(target_accuracy=1.5), None, "target_accuracy"),
        (dict(target_confidence=0.0), None, "target_confidence"),
        ({}, "levels", "y has 2 level"),
        ({}, "rows", "inconsistent numbers of samples"),
    ],
)
def test_choose_threshold_refuses_bad_input_naming_it(
    fitted, tree, params, y_change, message
):
    X, Y = tree
    clf = copy.deepcopy(fitted).set_params(**params)
    before = (clf.path_threshold_, clf.held_out_coverage_)
    y = {"levels": Y[:100, :2], "rows": Y[:99]}.get(y_change, Y[:100])
    with pytest.raises(ValueError, match=message):
        clf.choose_threshold(X[:100], y)
    assert (clf.path_threshold_, clf.held_out_coverage_) == before


def test_choose_threshold_needs_a_fitted_model(tree):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        tiny_classifier(target_accuracy=0.9).choose_threshold(*tree)


def test_too_few_given_rows_warn_naming_them(fitted, tree):
    X, Y = tree
    clf = copy.deepcopy(fitted).set_params(target_accuracy=0.99)
    with pytest.warns(UserWarning, match="230 rows given; give more labelled rows"):
        clf.choose_threshold(X[:100], Y[:100])
    assert clf.path_threshold_ == np.inf
    # For a batch, the count the batch's rule needs, and the batch size named.
    clf.set_params(target_batch_size=1000)
    needed = min_rows(0.99, 0.9, 1000)
    with pytest.warns(UserWarning, match=f"batch_size=1000 on .* at least {needed} "):
        clf.choose_threshold(X[:100], Y[:100])
    assert clf.path_threshold_ == np.inf
