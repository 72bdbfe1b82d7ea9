"""Property-based tests (hypothesis): random hierarchies, random shapes.

A hierarchy is drawn as a random tree (depth 1 to 4, 2 to 4 children per
node) with string labels (unique because they spell the path), integer
labels (globally unique per level, so each has one parent) or integer
sub-codes (a node's index among its siblings, so the same label repeats under
every parent). Every leaf occurs at least once in the training labels.
"""

import numpy as np
import pytest
import torch
from _helpers import assert_coherent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mgclassifier import MultiGranularityClassifier
from mgclassifier._hierarchy import LabelHierarchy, _unique_inverse
from mgclassifier._prediction._engine import PredictionEngine

N_FIT_EXAMPLES = 50
"""Examples of the property test that fits a model (each a tiny fit)."""

N_HIERARCHY_EXAMPLES = 500
"""Examples of the pure LabelHierarchy property test (no training)."""


@st.composite
def label_matrices(draw, max_depth=4):
    """A label matrix (n_samples, depth), coarse to fine, and its leaf count."""
    depth = draw(st.integers(1, max_depth))
    paths = [()]
    for _ in range(depth):
        paths = [p + (c,) for p in paths for c in range(draw(st.integers(2, 4)))]
    n_extra = draw(st.integers(0, 20))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.RandomState(seed)
    rows = np.r_[np.arange(len(paths)), rng.randint(len(paths), size=n_extra)]
    rows = rng.permutation(rows)
    kind = draw(st.sampled_from(["path", "unique", "sub-code"]))
    if kind == "path":
        prefix = draw(st.text(alphabet="abXY_- ", max_size=3))
        columns = [
            [prefix + "/".join(map(str, paths[r][: level + 1])) for r in rows]
            for level in range(depth)
        ]
        Y = np.array(columns, dtype=str).T
    elif kind == "sub-code":
        Y = np.array([paths[r] for r in rows], dtype=np.int64).reshape(len(rows), -1)
    else:
        Y = np.empty((len(rows), depth), dtype=np.int64)
        for level in range(depth):
            nodes = sorted({p[: level + 1] for p in paths})
            values = rng.choice(10_000, size=len(nodes), replace=False) - 5_000
            label = dict(zip(nodes, values))
            Y[:, level] = [label[paths[r][: level + 1]] for r in rows]
    return Y


def assert_label_sums(label_probas, node_probas, tree):
    """Each label's column is the sum of its nodes' columns."""
    for level, (label, node) in enumerate(zip(label_probas, node_probas)):
        to_label = np.eye(len(tree.classes[level]))[tree.label_index[level]]
        np.testing.assert_allclose(label, node @ to_label, atol=1e-6, rtol=0)


# Random paths of random sizes: a rare path among sub-codes is no typo.
@pytest.mark.filterwarnings("ignore::mgclassifier.HierarchyWarning")
@settings(
    max_examples=N_FIT_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    Y=label_matrices(),
    n_features=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_fitted_model_respects_the_hierarchy(Y, n_features, seed):
    X = np.random.RandomState(seed).normal(size=(len(Y), n_features))
    y = Y[:, 0] if Y.shape[1] == 1 else Y
    clf = MultiGranularityClassifier(
        hidden_layer_sizes=(8,),
        max_epochs=2,
        early_stopping=False,
        batch_size=32,
        random_state=seed,
    ).fit(X, y)

    pred = clf.predict(X)
    assert pred.shape == y.shape
    assert pred.dtype.kind == Y.dtype.kind
    pred = pred.reshape(len(Y), -1)
    assert {tuple(row) for row in pred} <= {tuple(row) for row in Y}

    classes = [clf.classes_] if Y.shape[1] == 1 else clf.classes_
    probas = clf.predict_proba(X)
    probas = [probas] if Y.shape[1] == 1 else probas
    assert len(classes) == len(probas) == Y.shape[1]
    for level, (level_classes, proba) in enumerate(zip(classes, probas)):
        np.testing.assert_array_equal(level_classes, np.unique(Y[:, level]))
        assert proba.shape == (len(Y), len(level_classes))
        assert np.all(np.isfinite(proba)) and proba.min() >= 0
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6, rtol=0)
    tree = clf.hierarchy_
    nodes = clf.predict_node_proba(X)
    assert [p.shape[1] for p in nodes] == tree.n_nodes
    assert_coherent(nodes, tree.parents)
    assert_label_sums(probas, nodes, tree)
    # predict is the most probable path: its leaf is the finest node's argmax.
    np.testing.assert_array_equal(pred, tree.decode_leaves(nodes[-1].argmax(1)))


@settings(
    max_examples=N_HIERARCHY_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(Y=label_matrices(), seed=st.integers(0, 2**16))
def test_label_hierarchy_round_trips(Y, seed):
    tree, codes = LabelHierarchy.from_labels(Y)
    assert tree.n_levels == Y.shape[1]
    for level, level_classes in enumerate(tree.classes):
        np.testing.assert_array_equal(level_classes, np.unique(Y[:, level]))
    assert codes.min() >= 0
    np.testing.assert_array_equal(tree.paths[codes[:, -1]], codes)
    np.testing.assert_array_equal(tree.decode_leaves(codes[:, -1]), Y)
    np.testing.assert_array_equal(tree.encode(Y), codes)

    rng = np.random.RandomState(seed)
    n_leaves = tree.n_nodes[-1]
    leaf_proba = rng.dirichlet(np.full(n_leaves, 0.5), size=7)
    engine = PredictionEngine(tree, coarse_weight=1.0)
    node_tensors = engine.node_proba(torch.from_numpy(leaf_proba))
    nodes = [p.numpy() for p in node_tensors]
    probas = [p.numpy() for p in engine.label_proba(node_tensors)]
    assert [p.shape for p in nodes] == [(7, n) for n in tree.n_nodes]
    assert [p.shape for p in probas] == [(7, len(c)) for c in tree.classes]
    np.testing.assert_array_equal(nodes[-1], leaf_proba)
    for proba in nodes + probas:
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9, rtol=0)
    assert_coherent(nodes, tree.parents)
    assert_label_sums(probas, nodes, tree)
    # A prefix of a path is never less probable than the path itself.
    leaf = rng.randint(n_leaves, size=7)
    prefix = engine.prefix_proba(node_tensors, torch.from_numpy(leaf)).numpy()
    assert np.all(np.diff(prefix, axis=1) <= 0)
    # Path scores from per-level log-probabilities renormalise over the paths.
    level_log = np.log(
        np.hstack([rng.dirichlet(np.ones(n), size=7) for n in tree.n_nodes])
    )
    path_proba = engine.path_proba(engine.path_scores(torch.from_numpy(level_log)))
    np.testing.assert_allclose(path_proba.sum(axis=1).numpy(), 1.0, atol=1e-9)


@given(
    dtype=st.sampled_from(["int8", "uint8", "int16", "uint16", "int32", "int64"]),
    data=st.data(),
)
def test_unique_inverse_equals_numpys(dtype, data):
    # The linear-time encoding of integer labels (a table of the values
    # present) gives np.unique's classes, dtype and inverse, wrapping-prone
    # dtypes and ranges included.
    info = np.iinfo(dtype)
    values = np.array(
        data.draw(
            st.lists(st.integers(int(info.min), int(info.max)), min_size=1, max_size=60)
        ),
        dtype=dtype,
    )
    classes, inverse = _unique_inverse(values)
    expected_classes, expected_inverse = np.unique(values, return_inverse=True)
    assert classes.dtype == expected_classes.dtype
    assert np.array_equal(classes, expected_classes)
    assert np.array_equal(inverse, expected_inverse)
