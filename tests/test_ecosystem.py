"""Real-world inputs and training modes: DataFrames, sparse text, weights,
partial labels, warm start, partial_fit, progress output, devices."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from _helpers import TINY_BUDGETS
from _helpers import tiny_classifier as tiny
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline

pytestmark = TINY_BUDGETS  # small models, few epochs, on purpose


def test_dataframe_y_keeps_level_names(tree_data):
    X, Y = tree_data
    frame = pd.DataFrame({"family": Y[:, 0], "species": Y[:, 1]})
    clf = tiny(max_epochs=2).fit(X, frame)
    assert clf.level_names_ == ["family", "species"]
    assert tiny(max_epochs=2).fit(X, Y).level_names_ is None
    series = pd.Series(Y[:, 1], name="species")
    assert tiny(max_epochs=2).fit(X, series).level_names_ == ["species"]


def _text_corpus(n_docs, vocabulary, seed=0):
    """Documents whose words depend on a 2-level topic (topic/subtopic)."""
    rng = np.random.RandomState(seed)
    topic = rng.randint(3, size=n_docs)
    sub = rng.randint(2, size=n_docs)
    docs = []
    for t, s in zip(topic, sub):
        own = rng.randint(0, vocabulary // 6, size=20) + (2 * t + s) * (vocabulary // 6)
        noise = rng.randint(0, vocabulary, size=20)
        docs.append(" ".join(f"w{w}" for w in np.concatenate([own, noise])))
    Y = np.column_stack([topic.astype(str), [f"{t}/{s}" for t, s in zip(topic, sub)]])
    return docs, Y


def test_tfidf_pipeline_never_densifies(monkeypatch):
    docs, Y = _text_corpus(600, vocabulary=30_000)

    def no_densify(self, *args, **kwargs):
        raise AssertionError("a sparse matrix was densified")

    monkeypatch.setattr(sp.csr_matrix, "toarray", no_densify)
    monkeypatch.setattr(sp.csr_array, "toarray", no_densify)
    pipe = make_pipeline(TfidfVectorizer(), tiny(max_epochs=20))
    pipe.fit(docs, Y)
    assert pipe.score(docs, Y) > 0.8
    assert pipe.predict(docs[:5]).shape == (5, 2)


def test_sparse_and_dense_input_give_the_same_predictions(tree_data):
    X, Y = tree_data
    X_sparse = sp.csr_matrix(np.where(np.abs(X) > 1, X, 0.0))
    clf = tiny(max_epochs=3).fit(X_sparse, Y)
    for a, b in zip(clf.predict_proba(X_sparse), clf.predict_proba(X_sparse.toarray())):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_sample_weight_zero_removes_samples(tree_data):
    X, Y = tree_data
    weight = np.ones(len(X))
    weight[Y[:, 0] == "0"] = 0.0
    clf = tiny(early_stopping=False, max_epochs=20).fit(X, Y, sample_weight=weight)
    # With the weight of class '0' zeroed, the model learns not to predict it.
    assert np.mean(clf.predict(X)[:, 0] == "0") < 0.05
    unweighted = tiny(early_stopping=False, max_epochs=20).fit(X, Y)
    assert np.mean(unweighted.predict(X)[:, 0] == "0") > 0.2


def test_class_weight_balanced_raises_minority_recall():
    rng = np.random.RandomState(0)
    n = 600
    minority = rng.rand(n) < 0.05
    X = rng.normal(size=(n, 4)) + minority[:, None] * 1.0
    fine = np.where(minority, "b/x", np.where(rng.rand(n) < 0.5, "a/x", "a/y"))
    Y = np.column_stack([[f[0] for f in fine], fine])
    recall = {}
    for weighting in (None, "balanced"):
        clf = tiny(class_weight=weighting, early_stopping=False, max_epochs=20)
        clf.fit(X, Y)
        recall[weighting] = np.mean(clf.predict(X)[minority, 0] == "b")
    assert recall["balanced"] > recall[None] + 0.2


@pytest.mark.parametrize("missing", [None, np.nan, ""])
def test_missing_fine_labels_train_only_coarse_heads(tree_data, missing):
    X, Y = tree_data
    Y = Y.astype(object)
    Y[::2, 1] = missing
    clf = tiny().fit(X, Y)
    Y_pred = clf.predict(X)
    # Every prediction is still a full path, and the coarse level learns from all.
    assert all(str(fine).startswith(f"{coarse}/") for coarse, fine in Y_pred)
    assert np.mean(Y_pred[:, 0] == Y[:, 0]) > 0.8
    assert np.isfinite(clf.history_[-1, "train_loss_level_1"])


def test_score_and_cross_validation_skip_rows_without_a_fine_label(tree_data):
    X, Y = tree_data
    Y_partial = pd.DataFrame(Y, columns=["family", "species"], dtype=object)
    Y_partial.loc[::3, "species"] = None
    labelled = np.arange(len(X)) % 3 != 0
    clf = tiny().fit(X, Y_partial)
    assert clf.score(X, Y_partial) == clf.score(X[labelled], Y[labelled])
    weights = np.linspace(0.5, 2.0, len(X))
    assert clf.score(X, Y_partial, sample_weight=weights) == clf.score(
        X[labelled], Y[labelled], sample_weight=weights[labelled]
    )
    # Default scoring (the estimator's score) on partially labelled folds.
    scores = cross_val_score(tiny(), X, Y_partial, cv=KFold(3))
    assert scores.shape == (3,) and np.all(scores > 0.3)  # chance is 1/6
    with pytest.raises(ValueError, match="No sample of y has a label at the finest"):
        clf.score(X[:1], Y_partial[:1])


def test_warm_start_continues_training(tree_data):
    X, Y = tree_data
    clf = tiny(warm_start=True, early_stopping=False, max_epochs=3).fit(X, Y)
    first_weights = clf.net_.module_.heads.weight.detach().clone()
    clf.fit(X, Y)
    assert clf.n_epochs_ == 6
    assert [row["epoch"] for row in clf.history_] == [1, 2, 3, 4, 5, 6]
    assert not torch.equal(clf.net_.module_.heads.weight, first_weights)
    # Without warm_start the second fit starts afresh.
    cold = tiny(early_stopping=False, max_epochs=3).fit(X, Y).fit(X, Y)
    assert cold.n_epochs_ == 3


def test_warm_start_refuses_a_different_hierarchy(tree_data):
    X, Y = tree_data
    clf = tiny(warm_start=True, max_epochs=2).fit(X, Y)
    before = clf.predict_proba(X)
    Y_other = Y.astype(object)
    Y_other[0] = ["9", "9/9"]
    with pytest.raises(ValueError, match="'9' at level 0 is not in the hierarchy"):
        clf.fit(X, Y_other)
    for a, b in zip(before, clf.predict_proba(X)):
        np.testing.assert_array_equal(a, b)


def test_partial_fit_learns_from_chunks(tree_data):
    X, Y = tree_data
    clf = tiny(lr=1e-2)
    for _ in range(8):
        for chunk in np.array_split(np.arange(len(X)), 5):
            clf.partial_fit(X[chunk], Y[chunk], classes=Y)
    assert clf.n_epochs_ == 40
    assert clf.score(X, Y) > 0.7
    with pytest.raises(ValueError, match="'0/0' at level 1 appears under '1'"):
        clf.partial_fit(X[:2], np.array([["1", "0/0"], ["1", "0/0"]]))


def test_partial_fit_classes_cover_labels_missing_from_first_chunk(tree_data):
    X, Y = tree_data
    first = Y[:, 0] != "2"
    clf = tiny().partial_fit(X[first], Y[first], classes=np.unique(Y, axis=0))
    assert len(clf.classes_[1]) == 6
    clf.partial_fit(X[~first], Y[~first])  # labels unseen so far, but declared
    with pytest.raises(ValueError, match="not in the hierarchy"):
        tiny().partial_fit(X[first], Y[first]).partial_fit(X[~first], Y[~first])


def test_verbose_prints_one_line_per_epoch_with_level_losses(tree_data, capsys):
    X, Y = tree_data
    tiny(max_epochs=3, early_stopping=True, patience=10, verbose=1).fit(X, Y)
    out = capsys.readouterr().out
    assert "train_loss_level_0" in out and "valid_loss_level_1" in out and "dur" in out
    epoch_lines = [line for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert len(epoch_lines) == 3


def test_verbose_2_shows_a_progress_bar(tree_data, capsys):
    X, Y = tree_data
    tiny(max_epochs=2, verbose=2).fit(X, Y)
    captured = capsys.readouterr()
    assert "it/s" in captured.err + captured.out


def test_device_auto_resolves_to_an_available_device(tree_data):
    X, Y = tree_data
    clf = tiny(device="auto", max_epochs=2).fit(X, Y)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert clf.net_.device == expected


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; none here")
def test_cuda_fit_predicts_like_and_pickles_to_cpu(tree_data):
    import pickle

    X, Y = tree_data
    clf = tiny(device="cuda", max_epochs=3).fit(X, Y)
    assert next(clf.net_.module_.parameters()).is_cuda
    restored = pickle.loads(pickle.dumps(clf))
    for a, b in zip(clf.predict_proba(X), restored.predict_proba(X)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    # Batch losses were read once per epoch, yet the history holds plain floats.
    batch_losses = [
        value
        for row in clf.history_
        for batch in row["batches"]
        for key, value in batch.items()
        if key.endswith("_loss")
    ]
    assert batch_losses and all(type(v) is float for v in batch_losses)
    assert np.isfinite(batch_losses).all()
    # The device-side shuffle is seeded from random_state: a refit repeats.
    again = tiny(device="cuda", max_epochs=3).fit(X, Y)
    np.testing.assert_allclose(
        again.history_[:, "train_loss"], clf.history_[:, "train_loss"], rtol=1e-5
    )
    np.testing.assert_allclose(
        again.predict_proba(X)[-1], clf.predict_proba(X)[-1], atol=1e-5
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; none here")
def test_cuda_progress_bar_reads_each_batch_loss(tree_data, monkeypatch):
    from skorch.callbacks import ProgressBar

    shown = []
    original = ProgressBar._get_postfix_dict

    def spy(self, net):
        postfix = original(self, net)
        shown.extend(postfix.values())
        return postfix

    monkeypatch.setattr(ProgressBar, "_get_postfix_dict", spy)
    X, Y = tree_data
    tiny(device="cuda", max_epochs=2, verbose=2).fit(X, Y)
    # The bar shows each batch's loss as it comes: no deferred placeholders.
    assert shown and all(type(v) is float and np.isfinite(v) for v in shown)
