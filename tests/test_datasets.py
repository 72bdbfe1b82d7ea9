"""Tests for mgclassifier.datasets."""

import numpy as np
import pytest
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NearestCentroid

from mgclassifier.datasets import load_imclef07a, make_hierarchical_classification


def _parents_per_label(Y):
    """Number of distinct parents of every label of every level below the top."""
    Y = np.asarray(Y)
    counts = []
    for level in range(1, Y.shape[1]):
        pairs = np.unique(Y[:, level - 1 : level + 1], axis=0)
        _, n_parents = np.unique(pairs[:, 1], return_counts=True)
        counts.append(n_parents)
    return np.concatenate(counts) if counts else np.array([1])


def _assert_paths(Y):
    """Each label is its parent's label followed by '/<child index>'."""
    Y = np.asarray(Y)
    for level in range(1, Y.shape[1]):
        parents = [label.rpartition("/")[0] for label in Y[:, level]]
        np.testing.assert_array_equal(parents, Y[:, level - 1])


# ---------------------------------------------------------------------------
# load_imclef07a
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def imclef():
    return load_imclef07a()


def test_imclef_shapes_and_dtypes(imclef):
    assert imclef.X_train.shape == (10000, 80)
    assert imclef.X_test.shape == (1006, 80)
    assert imclef.y_train.shape == (10000, 3)
    assert imclef.y_test.shape == (1006, 3)
    assert imclef.X_train.dtype == np.float32
    assert imclef.X_test.dtype == np.float32
    assert imclef.y_train.dtype.kind == "U"
    assert np.isfinite(imclef.X_train).all()
    assert imclef.level_names == ["level_1", "level_2", "level_3"]


def test_imclef_hierarchy(imclef):
    n_classes = [len(np.unique(imclef.y_train[:, level])) for level in range(3)]
    assert n_classes == [8, 25, 63]
    # The test labels all belong to the training hierarchy.
    for level in range(3):
        assert set(imclef.y_test[:, level]) <= set(imclef.y_train[:, level])
    Y = np.vstack([imclef.y_train, imclef.y_test])
    assert (_parents_per_label(Y) == 1).all()
    _assert_paths(Y)


def test_imclef_descr_has_attribution(imclef):
    for text in ("ImageCLEF 2007", "IRMA", "Clus", "Vens", "C-HMCNN", "0.956"):
        assert text in imclef.DESCR


def test_imclef_return_X_y(imclef):
    X_train, X_test, y_train, y_test = load_imclef07a(return_X_y=True)
    np.testing.assert_array_equal(X_train, imclef.X_train)
    np.testing.assert_array_equal(X_test, imclef.X_test)
    np.testing.assert_array_equal(y_train, imclef.y_train)
    np.testing.assert_array_equal(y_test, imclef.y_test)


# ---------------------------------------------------------------------------
# make_hierarchical_classification
# ---------------------------------------------------------------------------


def test_generator_shapes_dtypes_and_labels():
    X, Y = make_hierarchical_classification(
        n_samples=2000, n_features=7, branching=(3, 3, 3), random_state=0
    )
    assert X.shape == (2000, 7)
    assert X.dtype == np.float64
    assert Y.shape == (2000, 3)
    assert Y.dtype.kind == "U"
    # Balanced leaves and 74 samples per leaf on average: all of them appear.
    assert [len(np.unique(Y[:, level])) for level in range(3)] == [3, 9, 27]
    assert (_parents_per_label(Y) == 1).all()
    _assert_paths(Y)
    assert set(Y[:, 0]) == {"0", "1", "2"}


@pytest.mark.parametrize("branching", [(4,), (2, 5), [2, 1, 3], (2, 2, 2, 2)])
def test_generator_depth_and_branching(branching):
    _, Y = make_hierarchical_classification(
        n_samples=500, n_features=3, branching=branching, random_state=1
    )
    assert Y.shape == (500, len(branching))
    expected = np.cumprod(branching)
    assert [len(np.unique(col)) for col in Y.T] == list(expected)
    assert (_parents_per_label(Y) == 1).all()


def test_generator_is_deterministic():
    kwargs = {"n_samples": 300, "n_features": 6, "imbalance": 1.0, "label_noise": 0.1}
    X1, Y1 = make_hierarchical_classification(**kwargs, random_state=42)
    X2, Y2 = make_hierarchical_classification(**kwargs, random_state=42)
    X3, Y3 = make_hierarchical_classification(
        **kwargs, random_state=np.random.RandomState(42)
    )
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(Y1, Y2)
    np.testing.assert_array_equal(X1, X3)
    np.testing.assert_array_equal(Y1, Y3)
    X4, _ = make_hierarchical_classification(**kwargs, random_state=43)
    assert not np.allclose(X1, X4)


def test_generator_imbalance_follows_zipf():
    n_samples, n_leaves = 20000, 27
    _, Y0 = make_hierarchical_classification(n_samples, 4, random_state=0)
    _, Y2 = make_hierarchical_classification(
        n_samples, 4, imbalance=1.5, random_state=0
    )
    counts0 = np.unique(Y0[:, -1], return_counts=True)[1]
    counts2 = np.sort(np.unique(Y2[:, -1], return_counts=True)[1])[::-1]
    # Balanced: every leaf within 20% of n_samples / n_leaves (~741).
    assert len(counts0) == n_leaves
    assert np.abs(counts0 / (n_samples / n_leaves) - 1).max() < 0.2
    # Skewed: frequencies close to rank ** -1.5 / sum(rank ** -1.5).
    zipf = np.arange(1, n_leaves + 1) ** -1.5
    zipf /= zipf.sum()
    np.testing.assert_allclose(counts2[:3] / n_samples, zipf[:3], atol=0.015)
    assert counts2[0] / n_samples > 0.35
    assert counts2[0] / counts2[-1] > 20


def test_generator_label_noise_changes_exact_fraction():
    kwargs = {"n_samples": 1000, "n_features": 5, "random_state": 3}
    X0, Y0 = make_hierarchical_classification(**kwargs)
    X1, Y1 = make_hierarchical_classification(**kwargs, label_noise=0.25)
    # Noise is applied after X is drawn, so X is unchanged.
    np.testing.assert_array_equal(X0, X1)
    changed = Y0[:, -1] != Y1[:, -1]
    assert changed.mean() == 0.25
    # Noisy paths stay consistent.
    assert (_parents_per_label(Y1) == 1).all()
    _assert_paths(Y1)
    _, Y_all = make_hierarchical_classification(**kwargs, label_noise=1.0)
    assert (Y_all[:, -1] != Y0[:, -1]).all()


def _leaf_means(X, leaves):
    labels = np.unique(leaves)
    return labels, np.array([X[leaves == lab].mean(axis=0) for lab in labels])


def test_generator_siblings_closer_than_cousins():
    X, Y = make_hierarchical_classification(
        n_samples=8000, n_features=10, class_sep=2.0, random_state=0
    )
    labels, means = _leaf_means(X, Y[:, -1])
    dist = np.linalg.norm(means[:, None] - means[None], axis=-1)
    parts = np.array([lab.split("/") for lab in labels])
    same_parent = (parts[:, None, :2] == parts[None, :, :2]).all(-1)
    same_root = parts[:, None, 0] == parts[None, :, 0]
    off_diag = ~np.eye(len(labels), dtype=bool)
    siblings = dist[same_parent & off_diag].mean()
    cousins = dist[same_root & ~same_parent].mean()
    strangers = dist[~same_root].mean()
    assert siblings < cousins < strangers
    assert 1.5 * siblings < cousins


def test_generator_class_sep_controls_difficulty():
    def fine_accuracy(class_sep):
        X, Y = make_hierarchical_classification(
            n_samples=1500, n_features=10, class_sep=class_sep, random_state=0
        )
        X_tr, X_te, y_tr, y_te = train_test_split(X, Y[:, -1], random_state=0)
        return NearestCentroid().fit(X_tr, y_tr).score(X_te, y_te)

    assert fine_accuracy(0.05) < 0.2  # chance is 1 / 27
    assert fine_accuracy(4.0) > 0.85


def test_generator_noise_features_are_uninformative():
    X, Y = make_hierarchical_classification(
        n_samples=6000, n_features=8, n_informative=3, class_sep=2.0, random_state=0
    )
    _, means = _leaf_means(X, Y[:, -1])
    spread = means.std(axis=0)
    assert (spread[:3] > 0.5).all()
    assert (spread[3:] < 0.15).all()


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_samples": 2.5}, "n_samples"),
        ({"n_samples": True}, "n_samples"),
        ({"n_features": 0}, "n_features"),
        ({"n_informative": 0}, "n_informative"),
        ({"n_features": 3, "n_informative": 4}, "n_informative"),
        ({"branching": 3}, "branching"),
        ({"branching": ()}, "branching"),
        ({"branching": (2, 0)}, r"branching\[1\]"),
        ({"branching": (2, 1.5)}, r"branching\[1\]"),
        ({"class_sep": -1.0}, "class_sep"),
        ({"class_sep": np.nan}, "class_sep"),
        ({"imbalance": -0.5}, "imbalance"),
        ({"imbalance": "zipf"}, "imbalance"),
        ({"label_noise": 1.5}, "label_noise"),
        ({"label_noise": -0.1}, "label_noise"),
        ({"branching": (1,), "label_noise": 0.1}, "two leaves"),
    ],
)
def test_generator_rejects_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        make_hierarchical_classification(**params)
