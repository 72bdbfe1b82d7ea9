"""MultiGranularityClassifier's public contract, tested here mostly on labels
with one parent each (labels under several parents: test_taxonomies.py).

- ``fit(X, Y)`` takes one label column per level, coarse to fine, or a 1-D
  ``y`` for a flat classifier; it returns ``self`` and is repeatable.
- ``predict`` returns, per sample, a root-to-leaf path seen in training: the
  most probable whole path, so its finest label is the argmax of the finest
  level's ``predict_proba``.
- ``predict_proba`` returns one array per level, columns in ``classes_``
  order, rows summing to 1, each coarse probability the sum of its
  children's.
- ``score`` is the finest-level accuracy.
- scikit-learn conventions hold: ``clone``, ``set_params``, pipelines, grid
  search and cross-validation; invalid parameters fail before training
  (test_reliability.py); saved models load (test_persistence.py).
"""

import io
import json
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from _helpers import TINY_BUDGETS, assert_coherent, assert_valid_paths, tiny_classifier
from scipy.special import softmax
from sklearn.base import clone
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mgclassifier import MultiGranularityClassifier
from mgclassifier.datasets import make_hierarchical_classification

pytestmark = TINY_BUDGETS  # small models, few epochs, on purpose


def test_fit_predict_multilevel_strings(tree_data, small_clf):
    X, Y = tree_data
    clf = small_clf.fit(X, Y)
    Y_pred = clf.predict(X)
    assert Y_pred.shape == Y.shape
    assert_valid_paths(Y_pred, Y)
    assert clf.score(X, Y) > 0.8
    probas = clf.predict_proba(X)
    assert [p.shape[1] for p in probas] == [3, 6]
    for proba, classes in zip(probas, clf.classes_):
        assert proba.shape == (len(X), len(classes))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert_coherent(probas, clf.hierarchy_.parents)
    assert clf.n_levels_ == 2
    assert clf.n_features_in_ == X.shape[1]


def test_predict_is_joint_argmax_of_fine_proba(tree_data, small_clf):
    X, Y = tree_data
    clf = small_clf.fit(X, Y)
    fine = clf.predict_proba(X)[-1]
    np.testing.assert_array_equal(
        clf.predict(X)[:, -1], clf.classes_[-1][fine.argmax(1)]
    )


def test_integer_labels(tree_data, small_clf):
    X, Y = tree_data
    Y_int = np.column_stack(
        [np.unique(Y[:, k], return_inverse=True)[1] for k in range(2)]
    )
    clf = small_clf.fit(X, Y_int)
    assert clf.predict(X).dtype.kind == "i"
    assert_valid_paths(clf.predict(X), Y_int)


def test_one_dimensional_y_is_a_flat_classifier(tree_data, small_clf):
    X, Y = tree_data
    clf = small_clf.fit(X, Y[:, 1])
    assert isinstance(clf.classes_, np.ndarray)
    assert clf.predict(X).shape == (len(X),)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 6)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(1)])


def test_label_with_two_parents_is_two_nodes(tree_data, small_clf):
    X, Y = tree_data
    Y = Y.astype(object)
    Y[Y[:, 1] == "0/0", 1] = "shared"
    Y[Y[:, 1] == "1/0", 1] = "shared"
    clf = small_clf.fit(X, Y)
    assert clf.hierarchy_.n_nodes == [3, 6]
    assert len(clf.classes_[1]) == 5 and "shared" in clf.classes_[1]
    assert_valid_paths(clf.predict(X), Y)
    assert {("0", "shared"), ("1", "shared")} <= {tuple(r) for r in clf.predict(X)}


def test_dataframe_feature_names(tree_data, small_clf):
    X, Y = tree_data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = small_clf.fit(frame, Y)
    np.testing.assert_array_equal(clf.feature_names_in_, frame.columns)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        np.testing.assert_array_equal(clf.predict(frame), clf.predict(X))


def test_history_and_early_stopping(tree_data):
    X, Y = tree_data
    clf = MultiGranularityClassifier(
        hidden_layer_sizes=(32,),
        early_stopping=True,
        patience=3,
        max_epochs=500,
        random_state=0,
    ).fit(X, Y)
    assert clf.n_epochs_ < 500
    assert 1 <= clf.best_epoch_ <= clf.n_epochs_ - 3
    row = clf.history_[-1]
    for key in ("train_loss", "valid_loss", "train_loss_level_0", "valid_loss_level_1"):
        assert np.isfinite(row[key])
    # The restored epoch has the lowest validation loss, up to the relative
    # threshold (1e-4) below which skorch's EarlyStopping ignores improvements.
    best = min(clf.history_[:, "valid_loss"])
    assert clf.history_[clf.best_epoch_ - 1, "valid_loss"] == pytest.approx(
        best, rel=1e-3
    )


def test_without_early_stopping_runs_max_epochs(tree_data):
    X, Y = tree_data
    clf = MultiGranularityClassifier(
        hidden_layer_sizes=(8,), early_stopping=False, max_epochs=4, random_state=0
    ).fit(X, Y)
    assert clf.n_epochs_ == clf.best_epoch_ == 4
    assert "valid_loss" not in clf.history_[-1]


def test_deferred_loss_reads_record_the_same_history(tree_data, monkeypatch):
    # On a GPU batch losses are read once per epoch (no sync per batch); force
    # that path on the CPU and compare with per-batch reads of the same fit.
    from mgclassifier._network._net import MultiGranularityNet

    X, Y = tree_data
    params = dict(
        hidden_layer_sizes=(16,),
        max_epochs=4,
        early_stopping=True,
        patience=2,
        random_state=0,
    )
    histories = {}
    for defer in (False, True):
        monkeypatch.setattr(MultiGranularityNet, "defer_loss_read", defer)
        histories[defer] = MultiGranularityClassifier(**params).fit(X, Y).history_
    assert len(histories[True]) == len(histories[False]) == 4
    for row_deferred, row_direct in zip(histories[True], histories[False]):
        for key in ("train_loss", "valid_loss"):
            assert isinstance(row_deferred[key], float)
            assert row_deferred[key] == row_direct[key]
        losses, direct = (
            [{k: v for k, v in b.items() if k.endswith("loss")} for b in row["batches"]]
            for row in (row_deferred, row_direct)
        )
        assert set().union(*losses) == {"train_loss", "valid_loss"}
        assert all(type(v) is float for batch in losses for v in batch.values())
        assert losses == direct


def test_array_shortcut_predicts_like_full_validation(tree_data, small_clf):
    # Plain float arrays skip validate_data's generic input handling; a list
    # of lists takes the full path. Both must give the same predictions.
    X, Y = tree_data
    clf = small_clf.fit(X, Y)
    for rows in (X[:1], X[:100]):
        full = clf.predict_proba(rows.tolist())
        for array in (
            rows.astype(np.float32),
            rows.astype(np.float64),
            rows[:, ::-1][:, ::-1],
        ):
            for a, b in zip(clf.predict_proba(array), full):
                assert a.dtype == array.dtype
                if array.dtype == np.float64:
                    np.testing.assert_array_equal(a, b)
                else:  # float32 input is predicted in float32
                    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
        np.testing.assert_array_equal(clf.predict(rows), clf.predict(rows.tolist()))


def test_single_sample_class_falls_back_to_plain_split(tree_data, small_clf):
    X, Y = tree_data
    Y = Y.astype(object)
    Y[0] = ["0", "0/lonely"]
    clf = small_clf.fit(X, Y)
    assert "0/lonely" in clf.classes_[1]


def test_same_random_state_same_model(tree_data, small_clf):
    X, Y = tree_data
    first = small_clf.fit(X, Y).predict_proba(X)
    second = clone(small_clf).fit(X, Y).predict_proba(X)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_refit_is_repeatable_and_returns_self(tree_data, small_clf):
    X, Y = tree_data
    assert small_clf.fit(X, Y) is small_clf
    first = small_clf.predict_proba(X)[-1]
    np.testing.assert_array_equal(small_clf.fit(X, Y).predict_proba(X)[-1], first)


class _ArrayRecorder(pickle.Pickler):
    """A pickler that keeps every numpy array and torch tensor it writes."""

    def __init__(self, file):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.arrays = []

    def reducer_override(self, obj):
        if isinstance(obj, torch.Tensor):
            self.arrays.append(obj.detach().cpu().numpy())
        elif isinstance(obj, np.ndarray):
            self.arrays.append(obj)
        return NotImplemented  # pickle it as usual


@pytest.mark.parametrize("early_stopping", [True, False])
def test_pickle_carries_no_weight_copies(tree_data, small_clf, early_stopping):
    # Early stopping, the divergence guard and weight averaging each keep a
    # copy of the weights while training; the pickle holds the weights once.
    X, Y = tree_data
    clf = small_clf.set_params(early_stopping=early_stopping, weight_averaging=0.9)
    clf.fit(X, Y)
    buffer = io.BytesIO()
    pickler = _ArrayRecorder(buffer)
    pickler.dump(clf)
    for name, param in clf.net_.module_.named_parameters():
        weight = param.detach().numpy()
        copies = [
            a
            for a in pickler.arrays
            if a.shape == weight.shape and np.array_equal(a, weight)
        ]
        assert len(copies) == 1, name
    restored = pickle.loads(buffer.getvalue())
    np.testing.assert_array_equal(restored.predict(X), clf.predict(X))


def test_score_is_fine_level_accuracy(tree_data, small_clf):
    X, Y = tree_data
    clf = small_clf.fit(X, Y)
    assert clf.score(X, Y) == np.mean(clf.predict(X)[:, -1] == Y[:, -1])


@pytest.mark.slow  # two worker processes for the search
def test_pipeline_gridsearch_and_cross_validation(tree_data):
    X, Y = tree_data
    clf = MultiGranularityClassifier(
        hidden_layer_sizes=(16,), max_epochs=20, batch_size=32, random_state=0
    )
    pipe = make_pipeline(StandardScaler(), clf)
    search = GridSearchCV(
        pipe,
        {
            "multigranularityclassifier__dropout": [0.0, 0.3],
            "multigranularityclassifier__consistency": [0.0, 1.0],
        },
        cv=2,
        n_jobs=2,
        error_score="raise",
    ).fit(X, Y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_score_ > 0.35  # chance is 1/6
    scores = cross_val_score(clf, X, Y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.3)  # chance is 1/6


def test_set_params_changes_the_network(tree_data, small_clf):
    X, Y = tree_data
    clf = small_clf.set_params(hidden_layer_sizes=(7, 5), dropout=0.4).fit(X, Y)
    linears = [m for m in clf.net_.module_.trunk if hasattr(m, "out_features")]
    assert [m.out_features for m in linears] == [7, 5]
    assert [m.p for m in clf.net_.module_.trunk if hasattr(m, "p")] == [0.4, 0.4]


def test_regularisers_have_their_effect(tree_data):
    X, Y = tree_data
    base = dict(
        hidden_layer_sizes=(32,),
        early_stopping=False,
        max_epochs=15,
        batch_size=32,
        random_state=0,
    )

    def head_gap(clf):
        with torch.no_grad():
            logits = clf.net_.module_(torch.from_numpy(X.astype(np.float32))).numpy()
        coarse, fine = np.split(logits, [3], axis=1)
        summed = softmax(fine, axis=1) @ np.eye(3)[clf.hierarchy_.parents[0]]
        return np.abs(softmax(coarse, axis=1) - summed).mean()

    plain = MultiGranularityClassifier(**base).fit(X, Y)
    consistent = MultiGranularityClassifier(consistency=10.0, **base).fit(X, Y)
    assert head_gap(consistent) < head_gap(plain)

    def weight_l1(clf):
        return sum(
            p.abs().sum().item()
            for n, p in clf.net_.module_.named_parameters()
            if n.endswith("weight")
        )

    sparse = MultiGranularityClassifier(alpha_l1=0.1, **base).fit(X, Y)
    assert weight_l1(sparse) < 0.7 * weight_l1(plain)
    smooth = MultiGranularityClassifier(label_smoothing=0.3, **base).fit(X, Y)
    assert (
        smooth.predict_proba(X)[-1].max(1).mean()
        < plain.predict_proba(X)[-1].max(1).mean()
    )


def test_auxiliary_level_weights_default_and_equal(tree_data, small_clf):
    X, Y = tree_data
    clf = small_clf.set_params(max_epochs=2).fit(X, Y)
    assert clf.net_.criterion_.level_weights.tolist() == [0.25, 1.0]
    for equal in (None, "equal"):
        clf = small_clf.set_params(level_weights=equal).fit(X, Y)
        assert clf.net_.criterion_.level_weights.tolist() == [1.0, 1.0]


def test_level_weight_schedule_moves_training_weight(tree_data, small_clf):
    X, Y = tree_data
    schedule = {1: [0.9, 0.1], 3: [0.0, 1.0]}
    clf = small_clf.set_params(
        level_weight_schedule=schedule, early_stopping=True, max_epochs=4, patience=10
    ).fit(X, Y)
    criterion = clf.net_.criterion_
    assert criterion.train_level_weights.tolist() == [0.0, 1.0]
    # Validation keeps the fixed weights, so early stopping compares like with like.
    assert criterion.level_weights.tolist() == [0.25, 1.0]
    row = clf.history_[1]  # epoch 2: weights [0.9, 0.1]
    expected = 0.9 * row["train_loss_level_0"] + 0.1 * row["train_loss_level_1"]
    assert row["train_loss"] == pytest.approx(expected, rel=0.05)
    with pytest.raises(ValueError, match=r"level_weight_schedule\[2\] must have one"):
        small_clf.set_params(level_weight_schedule={2: [1.0]}).fit(X, Y)
    with pytest.raises(ValueError, match="keys must be epochs"):
        small_clf.set_params(level_weight_schedule={0: [1.0, 1.0]}).fit(X, Y)


def test_calibration_temperature_improves_held_out_log_loss():
    # Label smoothing leaves the raw model under-confident: the case calibration
    # is for (the defaults smooth labels too).
    X, Y = make_hierarchical_classification(
        3000, 10, branching=(3, 3), class_sep=2.0, random_state=0
    )
    train, test = slice(0, 2000), slice(2000, None)
    params = dict(
        hidden_layer_sizes=(64,),
        label_smoothing=0.2,
        early_stopping=True,
        patience=5,
        random_state=0,
    )
    calibrated = MultiGranularityClassifier(**params).fit(X[train], Y[train])
    raw = MultiGranularityClassifier(calibrate=False, **params).fit(X[train], Y[train])
    assert raw.temperature_ == 1.0 and calibrated.temperature_ != 1.0
    # Same network, same predictions; only the confidence changes.
    np.testing.assert_array_equal(calibrated.predict(X[test]), raw.predict(X[test]))

    def fine_log_loss(clf):
        proba = clf.predict_proba(X[test])[1]
        return log_loss(Y[test, 1], proba, labels=clf.classes_[1])

    assert fine_log_loss(calibrated) < fine_log_loss(raw)


def test_coarse_decoding_weight_scores_paths_with_coarse_heads(tree_data, small_clf):
    X, Y = tree_data
    clf = small_clf.fit(X, Y)
    fine_only = clf.predict_proba(X)
    clf.set_params(coarse_decoding_weight=1.0)
    product = clf.predict_proba(X)
    assert not np.allclose(fine_only[-1], product[-1])
    assert_coherent(product, clf.hierarchy_.parents)
    assert_valid_paths(clf.predict(X), Y)


def test_read_only_rows_are_never_wrapped_by_torch(tree_data, small_clf, monkeypatch):
    # torch warns (once per process) when it wraps a read-only array, as a
    # float32 data frame's values are; prediction copies such a chunk instead.
    X, Y = tree_data
    clf = small_clf.fit(X, Y)
    X32 = X.astype(np.float32)
    expected = clf.predict_proba(X32)
    X32.setflags(write=False)
    wrapped = []
    as_tensor = torch.as_tensor

    def spy(data, *args, **kwargs):
        if isinstance(data, np.ndarray):
            wrapped.append(data.flags.writeable)
        return as_tensor(data, *args, **kwargs)

    monkeypatch.setattr(torch, "as_tensor", spy)
    assert len(X32) > 64  # past the numpy path of tiny calls: torch runs
    for a, b in zip(clf.predict_proba(X32), expected):
        np.testing.assert_array_equal(a, b)
    assert False not in wrapped


def test_n_threads_holds_during_fit_and_predict_and_is_restored(tree_data):
    from _trunks import ThreadSpy

    X, Y = tree_data
    ThreadSpy.seen, ThreadSpy.fail = [], False
    before = torch.get_num_threads()  # 1: conftest's session setting
    clf = tiny_classifier(module=ThreadSpy, max_epochs=2, n_threads=before + 1)
    clf.fit(X, Y)
    assert set(ThreadSpy.seen) == {before + 1}
    assert torch.get_num_threads() == before
    for method in (clf.predict, clf.predict_proba, clf.predict_node_proba):
        ThreadSpy.seen = []
        method(X)
        assert set(ThreadSpy.seen) == {before + 1}, method.__name__
        assert torch.get_num_threads() == before
    # Restored when the call fails, too; None leaves torch alone.
    ThreadSpy.fail = True
    try:
        with pytest.raises(RuntimeError, match="fails on purpose"):
            clf.predict_proba(X)
        assert torch.get_num_threads() == before
        ThreadSpy.seen = []
        with pytest.raises(RuntimeError, match="fails on purpose"):
            clf.set_params(n_threads=None).predict_proba(X)
        assert set(ThreadSpy.seen) == {before}
    finally:
        ThreadSpy.fail = False


def test_n_threads_is_checked_before_anything_runs(tree_data):
    X, Y = tree_data
    before = torch.get_num_threads()
    with pytest.raises(ValueError, match="'n_threads' parameter .* must be"):
        tiny_classifier(n_threads=0).fit(X, Y)
    assert torch.get_num_threads() == before


# The modules whose import made a process's first fit slower than its later
# ones (torch's compiler stack, ~800 modules and 1.2 s on a 2-core EPYC).
COMPILER_STACK = ("torch._dynamo", "torch._inductor", "torch.fx", "sympy")


def test_a_first_fit_in_a_fresh_process_imports_no_compiler_stack():
    # Counting imports rather than timing: a first fit that imports torch's
    # compiler stack again fails here on any machine, loaded or not.
    code = (
        "import json, sys\n"
        "from mgclassifier import MultiGranularityClassifier\n"
        "from mgclassifier.datasets import make_hierarchical_classification\n"
        "X, Y = make_hierarchical_classification(300, random_state=0)\n"
        "calls = []\n"
        "for fit in range(2):\n"
        "    before = set(sys.modules)\n"
        "    clf = MultiGranularityClassifier(hidden_layer_sizes=(8,), max_epochs=2,\n"
        "        early_stopping=True, n_threads=1, random_state=0).fit(X, Y)\n"
        "    clf.predict_proba(X)\n"
        "    calls.append(sorted(set(sys.modules) - before))\n"
        "print(json.dumps(calls))\n"
    )
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    first, second = json.loads(out.stdout.splitlines()[-1])
    heavy = [m for m in first if m.startswith(COMPILER_STACK)]
    assert not heavy, f"the first fit imported {len(heavy)} modules: {heavy[:10]}"
    assert len(first) <= 20, first  # 2 with torch 2.13
    assert second == []
