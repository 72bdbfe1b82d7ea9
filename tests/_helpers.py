"""Data, model and assertion helpers shared by the test modules.

A plain module (fixtures live in ``conftest.py``): the tests import these by
name, as ``from _helpers import make_tree_data``.
"""

import numpy as np
import pytest

TINY_BUDGETS = pytest.mark.filterwarnings(
    "ignore:Training ran all max_epochs:sklearn.exceptions.ConvergenceWarning"
)
"""``pytestmark`` of the test modules that fit tiny models for a few epochs on
purpose: such fits run out of ``max_epochs`` while still learning, which
``fit`` warns about (``tests/test_convergence.py`` tests that warning and
carries no such filter)."""


def make_tree_data(n_samples=300, n_features=6, branching=(3, 2), seed=0):
    """Gaussian clusters laid out as a tree; labels are full paths ('1', '1/0').

    Examples
    --------
    >>> X, Y = make_tree_data(n_samples=4, branching=(2, 3))
    >>> X.shape, Y.shape
    ((4, 6), (4, 2))
    >>> all(fine.startswith(coarse + "/") for coarse, fine in Y)
    True
    """
    rng = np.random.RandomState(seed)
    n_leaves = int(np.prod(branching))
    leaf = rng.randint(n_leaves, size=n_samples)
    digits = np.array(np.unravel_index(leaf, branching)).T  # (n, depth)
    centers = np.zeros((n_samples, n_features))
    for level, width in enumerate(branching):
        offsets = rng.normal(scale=3.0 / (level + 1), size=(width, n_features))
        centers += offsets[digits[:, level]]
    X = centers + rng.normal(size=(n_samples, n_features))
    Y = np.empty(digits.shape, dtype=object)
    for level in range(len(branching)):
        Y[:, level] = ["/".join(map(str, row[: level + 1])) for row in digits]
    return X, Y.astype(str)


def sub_codes(Y):
    """``make_tree_data`` labels cut to each level's own digit ('1/0' -> '0').

    Numbered sub-codes: below the coarsest level every label sits under
    every parent, so each label is several nodes of the tree.

    Examples
    --------
    >>> sub_codes([["1", "1/0"], ["0", "0/0"]]).tolist()
    [['1', '0'], ['0', '0']]
    """
    Y = np.asarray(Y, dtype=str)
    return np.vectorize(lambda label: label.rsplit("/", 1)[-1])(Y)


def tiny_classifier(**params):
    """A MultiGranularityClassifier small enough to fit in well under a second
    on ``make_tree_data``; ``params`` override the defaults.

    Early stopping is on, whatever the data's size, so the held-out split,
    the validation history and the calibration are exercised.
    """
    from mgclassifier import MultiGranularityClassifier

    defaults = dict(
        hidden_layer_sizes=(16,),
        max_epochs=15,
        batch_size=32,
        lr=6e-3,
        early_stopping=True,
        random_state=0,
    )
    return MultiGranularityClassifier(**{**defaults, **params})


def assert_valid_paths(Y_pred, Y_train):
    """Every predicted row is a path that occurs in ``Y_train``."""
    known = {tuple(row) for row in np.asarray(Y_train)}
    assert {tuple(row) for row in np.asarray(Y_pred)} <= known


def assert_coherent(probas, parents, atol=1e-6):
    """Each node's probability is the sum of its children's, level by level.

    ``probas`` holds one ``(n_samples, n_nodes)`` array per level, coarse to
    fine; ``parents[level][j]`` is the column at ``level`` of the parent of
    column ``j`` at ``level + 1`` (``LabelHierarchy.parents``). Node
    probabilities (``predict_node_proba``) always qualify; ``predict_proba``
    does when every label has one parent, so that labels are nodes.

    Examples
    --------
    >>> coarse = np.array([[0.3, 0.7]])
    >>> fine = np.array([[0.1, 0.2, 0.7]])
    >>> assert_coherent([coarse, fine], [np.array([0, 0, 1])])
    >>> assert_coherent([coarse, fine], [np.array([0, 1, 1])])
    Traceback (most recent call last):
    ...
    AssertionError: ...
    """
    for level, parent in enumerate(parents):
        fine = probas[level + 1]
        summed = fine @ np.eye(probas[level].shape[1])[parent]
        np.testing.assert_allclose(probas[level], summed, atol=atol, rtol=0)


def assert_same_proba(a, b):
    """Two ``predict_proba`` results (lists of per-level arrays) are equal."""
    for pa, pb in zip(a, b, strict=True):
        np.testing.assert_array_equal(pa, pb)


def make_text_corpus(n_docs, seed=0, vocabulary=5000, branching=(4, 5)):
    """Short documents of a 2-level topic tree, as a TF-IDF pipeline sees them.

    Each document has 15 words drawn from a Zipf law over the whole
    vocabulary (shared by every topic) and 3 from its leaf topic, whose own
    Zipf law runs over 300 words of the vocabulary. Many of a topic's words
    are rare, which is what per-column standardisation blows up. The topic
    word lists do not depend on ``seed``: corpora drawn with other seeds
    share them (a train and a test set).

    Examples
    --------
    >>> docs, Y = make_text_corpus(3)
    >>> len(docs), Y.shape, len(docs[0].split())
    (3, (3, 2), 18)
    """
    n_leaves = int(np.prod(branching))
    topics = np.random.RandomState(12345)
    own_words = [topics.permutation(vocabulary)[:300] for _ in range(n_leaves)]
    shared = 1.0 / np.arange(1, vocabulary + 1)
    own = 1.0 / np.arange(1, 301) ** 0.7
    rng = np.random.RandomState(seed)
    leaf = rng.randint(n_leaves, size=n_docs)
    docs = [
        " ".join(
            f"w{word}"
            for word in np.concatenate(
                [
                    rng.choice(vocabulary, size=15, p=shared / shared.sum()),
                    own_words[k][rng.choice(300, size=3, p=own / own.sum())],
                ]
            )
        )
        for k in leaf
    ]
    coarse = leaf // branching[1]
    Y = np.column_stack(
        [coarse.astype(str), [f"{c}/{k}" for c, k in zip(coarse, leaf)]]
    )
    return docs, Y


NEIGHBOR_TIE_GAP = 1e-5
"""Two products of the same unit vectors (onnxruntime's and numpy's, or
numpy's over different blocks of rows) round differently, by ~1e-7: a row
whose k-th and next nearest kept rows are that close could keep either
(rows whose features repeat tie exactly). Tests of the neighbour votes
compare the rows whose gap is a hundred times wider."""


def rows_clear_of_ties(clf, X):
    """The rows of ``X`` whose k-th nearest kept row is clear of the next
    (by :data:`NEIGHBOR_TIE_GAP`), for a model fitted with votes."""
    import torch

    votes = clf._predictor().neighbors
    with torch.no_grad():
        features = clf.net_.module_.features(torch.as_tensor(X, dtype=torch.float32))
    similarity = np.sort(votes.similarities(features).numpy(), axis=1)[:, ::-1]
    k = votes.n_neighbors
    return similarity[:, k - 1] - similarity[:, k] > NEIGHBOR_TIE_GAP
