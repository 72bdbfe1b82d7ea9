"""Datasets for multi-granularity (hierarchical) classification.

* :func:`load_imclef07a` loads the ImageCLEF07A benchmark shipped with the
  package.
* :func:`make_hierarchical_classification` generates synthetic data from a
  tree of Gaussian clusters.
"""

import numbers
from importlib.resources import files

import numpy as np
from sklearn.utils import Bunch, check_random_state

from ._upstream import Interval, InvalidParameterError, validate_params

__all__ = ["load_imclef07a", "make_hierarchical_classification"]

_IMCLEF_DESCR = """\
ImageCLEF07A (anatomical axis)
==============================

Medical X-ray images from the ImageCLEF 2007 medical annotation task,
labelled with the anatomical axis of the IRMA code, a 3-level tree
(8 / 25 / 63 classes per level). Each image is described by 80
edge-histogram features.

===========================  ==========================
Samples (train / test)       10000 / 1006
Features                     80 (float32)
Levels                       3 (coarse -> fine)
Classes per level            8 / 25 / 63
===========================  ==========================

Labels are full paths such as "6", "6/2", "6/2/0", so every fine label has
exactly one parent.

Origin and attribution
----------------------
One of the hierarchical-classification benchmark sets distributed with the
Clus system (KU Leuven; Vens et al., "Decision trees for hierarchical
multi-label classification", Machine Learning 73, 2008; features from
Dimitrovski et al.), also shipped in the public repository of C-HMCNN
(Giunchiglia & Lukasiewicz, NeurIPS 2020). Converted from the ARFF files
without changing any value.

Published AU(PRC) on the test set: C-HMCNN 0.956, HMCN-F 0.950,
HMCN-R 0.904, Clus-Ens 0.803.
"""

_IMCLEF_KEYS = ("X_train", "y_train", "X_test", "y_test")


def load_imclef07a(*, return_X_y=False):
    """Load the ImageCLEF07A hierarchical classification benchmark.

    ========================  ==========================
    Samples (train / test)    10000 / 1006
    Features                  80 edge-histogram features
    Levels                    3
    Classes per level         8 / 25 / 63
    ========================  ==========================

    Read more in the ``DESCR`` attribute of the returned bunch, which also
    gives the attribution of the data.

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(X_train, X_test, y_train, y_test)`` (the order of
        :func:`sklearn.model_selection.train_test_split`) instead of a bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        X_train : ndarray of shape (10000, 80), dtype float32
            Training features.
        y_train : ndarray of shape (10000, 3), dtype str
            Training paths, coarse to fine, e.g. ``["6", "6/2", "6/2/0"]``.
        X_test : ndarray of shape (1006, 80), dtype float32
            Test features.
        y_test : ndarray of shape (1006, 3), dtype str
            Test paths.
        level_names : list of str
            ``["level_1", "level_2", "level_3"]``, coarse to fine.
        DESCR : str
            Description and attribution of the dataset.

    (X_train, X_test, y_train, y_test) : tuple of ndarray
        Returned instead of the bunch when ``return_X_y=True``.

    Examples
    --------
    >>> from mgclassifier.datasets import load_imclef07a
    >>> data = load_imclef07a()
    >>> data.X_train.shape, data.y_train.shape
    ((10000, 80), (10000, 3))
    >>> data.y_train[0].tolist()
    ['2', '2/1', '2/1/3']
    >>> X_train, X_test, y_train, y_test = load_imclef07a(return_X_y=True)
    >>> X_test.shape
    (1006, 80)
    """
    resource = files("mgclassifier") / "data" / "imclef07a.npz"
    # Copy the arrays out so the file is closed before returning.
    with resource.open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in _IMCLEF_KEYS}
    if return_X_y:
        return arrays["X_train"], arrays["X_test"], arrays["y_train"], arrays["y_test"]
    level_names = [f"level_{i + 1}" for i in range(arrays["y_train"].shape[1])]
    return Bunch(**arrays, level_names=level_names, DESCR=_IMCLEF_DESCR)


# ---------------------------------------------------------------------------
# Synthetic generator
# ---------------------------------------------------------------------------

# Each level's centroid offsets are this much smaller than the previous
# level's, so siblings are closer to each other than to their cousins.
_OFFSET_DECAY = 0.5


_POSITIVE_INT = Interval(numbers.Integral, 1, None, closed="left")
_NON_NEGATIVE = Interval(numbers.Real, 0, np.inf, closed="left")  # finite


def _check_not_bool(**params):
    """scikit-learn's ``Interval(Integral, ...)`` lets True pass as 1."""
    for name, value in params.items():
        if isinstance(value, (bool, np.bool_)):
            raise InvalidParameterError(f"{name} must be an integer; got {value!r}.")


def _check_branching(branching):
    """Validate ``branching`` as a non-empty sequence of integers >= 1."""
    if isinstance(branching, (numbers.Integral, str)) or not hasattr(
        branching, "__len__"
    ):
        raise InvalidParameterError(
            "branching must be a sequence with one number of children per "
            f"level, e.g. (3, 3, 3); got {branching!r}."
        )
    if len(branching) == 0:
        raise ValueError("branching must contain at least one level.")
    for i, b in enumerate(branching):
        if isinstance(b, (bool, np.bool_)) or not _POSITIVE_INT.is_satisfied_by(b):
            raise InvalidParameterError(
                f"branching[{i}] must be an integer >= 1; got {b!r}."
            )
    return tuple(int(b) for b in branching)


def _leaf_centroids(branching, n_informative, class_sep, rng):
    """Centroids of the leaves, built top-down from the root at the origin.

    Rows follow the row-major order of the leaf paths, matching
    :func:`numpy.unravel_index` with shape ``branching``.
    """
    centroids = np.zeros((1, n_informative))
    for depth, n_children in enumerate(branching):
        parents = np.repeat(centroids, n_children, axis=0)
        scale = class_sep * _OFFSET_DECAY**depth
        centroids = parents + rng.normal(scale=scale, size=parents.shape)
    return centroids


def _leaf_priors(n_leaves, imbalance, rng):
    """Zipf-like leaf probabilities, ``p_k ~ rank_k ** -imbalance``."""
    # Random ranks so that the frequent leaves are not always the first ones.
    ranks = rng.permutation(n_leaves) + 1.0
    weights = ranks**-imbalance
    return weights / weights.sum()


def _add_label_noise(leaves, n_leaves, label_noise, rng):
    """Move a fraction of samples to a uniformly drawn *other* leaf."""
    n_noisy = round(label_noise * len(leaves))
    if n_noisy == 0:
        return leaves
    noisy = rng.choice(len(leaves), size=n_noisy, replace=False)
    leaves = leaves.copy()
    # A shift in [1, n_leaves - 1] guarantees a different leaf.
    shift = rng.randint(1, n_leaves, size=n_noisy)
    leaves[noisy] = (leaves[noisy] + shift) % n_leaves
    return leaves


def _path_labels(branching):
    """Table of shape (n_leaves, depth) with the path labels of every leaf."""
    digits = np.array(np.unravel_index(np.arange(np.prod(branching)), branching)).T
    table = [
        ["/".join(map(str, row[: level + 1])) for level in range(len(branching))]
        for row in digits
    ]
    return np.array(table, dtype=str)


@validate_params(
    {
        "n_samples": [_POSITIVE_INT],
        "n_features": [_POSITIVE_INT],
        "n_informative": [None, _POSITIVE_INT],
        "branching": ["array-like"],
        "class_sep": [_NON_NEGATIVE],
        "imbalance": [_NON_NEGATIVE],
        "label_noise": [Interval(numbers.Real, 0, 1, closed="both")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_hierarchical_classification(
    n_samples=1000,
    n_features=20,
    *,
    n_informative=None,
    branching=(3, 3, 3),
    class_sep=1.0,
    imbalance=0.0,
    label_noise=0.0,
    random_state=None,
):
    """Generate a random hierarchical (multi-granularity) classification problem.

    The classes form a balanced tree with ``len(branching)`` levels, node
    ``k`` of level ``l`` having ``branching[l]`` children. Every node gets a
    centroid equal to its parent's centroid plus a Gaussian offset of
    standard deviation ``class_sep * 0.5 ** l`` (the root sits at the
    origin), so siblings are closer to each other than cousins. Each sample
    picks a leaf, then its informative features are the leaf centroid plus
    standard Gaussian noise; the remaining features are pure noise.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of samples.
    n_features : int, default=20
        Total number of features.
    n_informative : int, default=None
        Number of informative features, the first ``n_informative`` columns
        of ``X``. None uses all ``n_features``.
    branching : sequence of int, default=(3, 3, 3)
        Number of children per node at each level, coarse to fine; its length
        is the depth of the tree and the number of columns of ``Y``. For a
        depth-``d`` tree with ``k`` children everywhere use ``(k,) * d``.
    class_sep : float, default=1.0
        Scale of the centroid offsets; larger values make the task easier.
    imbalance : float, default=0.0
        Skew of the leaf priors, used as a Zipf exponent:
        ``p(leaf) ~ rank ** -imbalance`` with ranks assigned at random.
        0 gives balanced leaves.
    label_noise : float, default=0.0
        Fraction of samples, in [0, 1], whose leaf is replaced by a uniformly
        drawn different leaf after ``X`` is generated; the whole path is
        updated so it stays consistent.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float64
        Features.
    Y : ndarray of shape (n_samples, len(branching)), dtype str
        Paths, coarse to fine. Labels are full paths such as ``"2"``,
        ``"2/0"``, ``"2/0/1"``, so every fine label has exactly one parent.
        Leaves with low prior may be absent from a small sample.

    Raises
    ------
    ValueError
        If a parameter is out of range or of the wrong type.

    Examples
    --------
    >>> from mgclassifier.datasets import make_hierarchical_classification
    >>> X, Y = make_hierarchical_classification(
    ...     n_samples=6, n_features=4, branching=(2, 3), random_state=0
    ... )
    >>> X.shape, Y.shape
    ((6, 4), (6, 2))
    >>> [label.count("/") for label in Y[0]]
    [0, 1]
    """
    _check_not_bool(
        n_samples=n_samples, n_features=n_features, n_informative=n_informative
    )
    if n_informative is None:
        n_informative = n_features
    if n_informative > n_features:
        raise ValueError(
            f"n_informative ({n_informative}) must be <= n_features ({n_features})."
        )
    branching = _check_branching(branching)
    n_leaves = int(np.prod(branching))
    if label_noise > 0 and n_leaves < 2:
        raise ValueError("label_noise > 0 needs at least two leaves in the tree.")

    rng = check_random_state(random_state)
    centroids = _leaf_centroids(branching, n_informative, class_sep, rng)
    priors = _leaf_priors(n_leaves, imbalance, rng)
    leaves = rng.choice(n_leaves, size=n_samples, p=priors)
    X = rng.normal(size=(n_samples, n_features))
    X[:, :n_informative] += centroids[leaves]
    # Noise is drawn last so that, for a given seed, X does not depend on it.
    leaves = _add_label_noise(leaves, n_leaves, label_noise, rng)
    return X, _path_labels(branching)[leaves]
