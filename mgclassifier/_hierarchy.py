"""Label hierarchy: per-level encoding, parent maps and joint path decoding.

This module knows nothing of torch. It turns a label matrix ``Y`` of shape
(n_samples, n_levels) into integer codes per level, checks that the columns
form a tree (every label has exactly one parent), and turns per-level
log-probabilities back into probabilities that are coherent with the tree.
"""

import numbers

import numpy as np
import scipy.sparse as sp
from scipy.special import logsumexp
from sklearn.utils.multiclass import type_of_target

MISSING = -1
"""Code of a missing label (only used for partially labelled ``Y``)."""


def _py(value):
    """A numpy scalar as a Python value: messages show '3', not np.str_('3')."""
    return value.item() if isinstance(value, np.generic) else value


def is_missing_label(value):
    """True for the values that mean "no label here".

    None, NaN, ``""`` and pandas' NA/NaT (recognised without importing
    pandas). Shared by the hierarchy, the metrics and the plots.
    """
    if value is None:
        return True
    if isinstance(value, str):
        return value == ""
    if isinstance(value, numbers.Real):
        return value != value  # NaN is the only value not equal to itself
    return type(value).__name__ in ("NAType", "NaTType")


def _check_level_column(column, level):
    """Validate one column of ``Y`` and return (labels, missing mask)."""
    column = np.asarray(column)
    if column.dtype.kind == "O":
        missing = np.fromiter((is_missing_label(v) for v in column), bool, len(column))
        present = column[~missing]
        kinds = {}  # kind -> first label of that kind, for the message
        for v in present:
            if isinstance(v, (str, numbers.Number, np.generic)):
                kinds.setdefault("string" if isinstance(v, str) else "number", v)
        if len(kinds) > 1:
            raise ValueError(
                f"Y mixes string and number labels at level {level} (e.g. "
                f"{_py(kinds['string'])!r} and {_py(kinds['number'])!r}); use one "
                f"type per level (e.g. convert with Y.astype(str))."
            )
    elif column.dtype.kind == "f":
        missing = np.isnan(column)
        present = column[~missing]
    elif column.dtype.kind == "U":
        missing = column == ""
        present = column[~missing]
    else:
        missing = np.zeros(len(column), dtype=bool)
        present = column
    if present.size:
        target_type = type_of_target(present)
        if target_type not in ("binary", "multiclass"):
            example = next(
                (
                    v
                    for v in present
                    if isinstance(v, numbers.Real) and float(v) % 1 != 0
                ),
                None,
            )
            found = "" if example is None else f" (e.g. {_py(example)!r})"
            raise ValueError(
                f"Unknown label type: level {level} of Y looks {target_type!r}"
                f"{found}; a classifier needs discrete class labels."
            )
    return column, missing


def _first_offending_child(parent_codes, child_codes):
    """Return (child, parent_a, parent_b) codes of a child with two parents."""
    pairs = np.unique(np.column_stack([child_codes, parent_codes]), axis=0)
    children, counts = np.unique(pairs[:, 0], return_counts=True)
    child = children[counts > 1][0]
    parents = pairs[pairs[:, 0] == child, 1]
    return child, parents[0], parents[1]


class LabelHierarchy:
    """A label tree read from a label matrix, with encoding and decoding.

    Parameters
    ----------
    classes : list of ndarray
        Sorted class labels of each level, coarse to fine.
    parents : list of ndarray of int
        ``parents[l][j]`` is the index (in ``classes[l]``) of the parent of
        class ``j`` of level ``l + 1``.

    Attributes
    ----------
    paths : ndarray of shape (n_leaves, n_levels)
        For every finest-level class, the class index of its ancestor at each
        level. Row ``i`` is the path of ``classes[-1][i]``.

    Examples
    --------
    >>> import numpy as np
    >>> Y = np.array([["animal", "dog"], ["animal", "cat"], ["plant", "fern"]])
    >>> tree, codes = LabelHierarchy.from_labels(Y)
    >>> [c.tolist() for c in tree.classes]
    [['animal', 'plant'], ['cat', 'dog', 'fern']]
    >>> tree.paths.tolist()
    [[0, 0], [0, 1], [1, 2]]
    """

    def __init__(self, classes, parents):
        self.classes = list(classes)
        self.parents = [np.asarray(p, dtype=np.intp) for p in parents]
        n_leaves = len(self.classes[-1])
        paths = np.empty((n_leaves, len(self.classes)), dtype=np.intp)
        paths[:, -1] = np.arange(n_leaves)
        for level in range(len(self.classes) - 2, -1, -1):
            paths[:, level] = self.parents[level][paths[:, level + 1]]
        self.paths = paths
        for level, parent in enumerate(self.parents):
            if np.any(np.bincount(parent, minlength=len(self.classes[level])) == 0):
                raise ValueError(f"Every class of level {level} needs a child.")

    def __getstate__(self):
        # The child-sum matrices are rebuilt on demand: a saved model then
        # holds no scipy sparse object (skops would ask to trust one).
        state = self.__dict__.copy()
        state.pop("_child_sums", None)
        return state

    def _child_sum(self, level):
        """Sparse 0/1 matrix that sums level ``level + 1``'s classes into
        their parents. scipy's sparse product is a plain loop with no BLAS
        call (numpy's BLAS threads would keep spinning and slow down torch's
        next forward pass)."""
        if "_child_sums" not in self.__dict__:
            self._child_sums = [
                sp.csr_matrix(
                    (np.ones(len(parent)), (parent, np.arange(len(parent)))),
                    shape=(len(self.classes[level]), len(parent)),
                )
                for level, parent in enumerate(self.parents)
            ]
        return self._child_sums[level]

    @property
    def n_levels(self):
        return len(self.classes)

    @property
    def n_classes(self):
        return [len(c) for c in self.classes]

    @classmethod
    def from_labels(cls, Y):
        """Read the tree from ``Y`` and encode it.

        Parameters
        ----------
        Y : array-like of shape (n_samples, n_levels)
            Labels, columns coarse to fine. Missing labels (None, NaN, ``""``)
            are allowed only below a present label (a sample may stop early).

        Returns
        -------
        hierarchy : LabelHierarchy
        codes : ndarray of shape (n_samples, n_levels)
            Class index per level, ``MISSING`` (-1) where the label is missing.

        Raises
        ------
        ValueError
            If a level has fewer than two classes, a label has two parents,
            a coarse label is missing under a present fine label, or the
            labels are not discrete.
        """
        Y = _as_label_matrix(Y)
        n_samples, n_levels = Y.shape
        classes, codes = [], np.empty((n_samples, n_levels), dtype=np.intp)
        previous_missing = np.zeros(n_samples, dtype=bool)
        for level in range(n_levels):
            column, missing = _check_level_column(Y[:, level], level)
            orphan = ~missing & previous_missing
            if orphan.any():
                row = int(np.flatnonzero(orphan)[0])
                raise ValueError(
                    f"Y has a label at level {level} ({_py(column[row])!r}, row {row}) "
                    f"under a missing label at level {level - 1}; every present "
                    f"label needs its coarser labels."
                )
            level_classes, inverse = np.unique(column[~missing], return_inverse=True)
            if len(level_classes) < 2:
                found = f" ({_py(level_classes[0])!r})" if len(level_classes) else ""
                raise ValueError(
                    f"Level {level} of Y has only one class{found}; every level "
                    f"needs at least two classes to learn from."
                )
            codes[:, level] = MISSING
            codes[~missing, level] = inverse
            classes.append(level_classes)
            previous_missing = missing
        parents = [
            cls._parent_map(codes, level, classes) for level in range(n_levels - 1)
        ]
        for level, parent in enumerate(parents):
            childless = np.setdiff1d(np.arange(len(classes[level])), parent)
            if childless.size:
                raise ValueError(
                    f"Class {_py(classes[level][childless[0]])!r} at level {level} "
                    f"has no labelled child at level {level + 1}; every class "
                    f"needs at least one sample labelled below it (paths that "
                    f"stop early are not supported)."
                )
        return cls(classes, parents), codes

    @staticmethod
    def _parent_map(codes, level, classes):
        """Parent index of every class of ``level + 1``; fail on two parents."""
        labelled = codes[:, level + 1] != MISSING
        parent_codes = codes[labelled, level]
        child_codes = codes[labelled, level + 1]
        parent_of = np.full(len(classes[level + 1]), MISSING, dtype=np.intp)
        parent_of[child_codes] = parent_codes
        if np.any(parent_of[child_codes] != parent_codes):
            child, p_a, p_b = _first_offending_child(parent_codes, child_codes)
            raise ValueError(
                f"Label {_py(classes[level + 1][child])!r} at level {level + 1} has "
                f"two parents at level {level}: {_py(classes[level][p_a])!r} and "
                f"{_py(classes[level][p_b])!r}. Each label must have exactly one "
                f"parent; make such labels unique, e.g. 'parent/child'."
            )
        return parent_of

    def encode(self, Y):
        """Class index per level for known labels; -1 for unknown or missing."""
        return self._encode(_as_label_matrix(Y))[0]

    def _encode(self, Y):
        """``(codes, missing)`` for a label matrix; ``missing`` marks no-labels."""
        codes = np.full(Y.shape, MISSING, dtype=np.intp)
        missing = np.zeros(Y.shape, dtype=bool)
        for level, level_classes in enumerate(self.classes):
            column, missing[:, level] = _check_level_column(Y[:, level], level)
            present = np.flatnonzero(~missing[:, level])
            try:
                values = column[present].astype(level_classes.dtype)
            except (TypeError, ValueError):
                continue  # labels of another type: none of them is known
            index = np.searchsorted(level_classes, values)
            index = np.clip(index, 0, len(level_classes) - 1)
            known = level_classes[index] == values
            codes[present[known], level] = index[known]
        return codes, missing

    def encode_known(self, Y):
        """Encode labels that must all lie on paths of this tree.

        Raises
        ------
        ValueError
            If ``Y`` has another number of levels, holds a label the tree
            does not have, or a label under a parent other than its own.
        """
        Y = _as_label_matrix(Y)
        if Y.ndim != 2 or Y.shape[1] != self.n_levels:
            raise ValueError(
                f"y has {Y.shape[1] if Y.ndim == 2 else 1} level(s) but the fitted "
                f"hierarchy has {self.n_levels}."
            )
        codes, missing = self._encode(Y)
        for level in range(self.n_levels):
            unknown = np.flatnonzero((codes[:, level] == MISSING) & ~missing[:, level])
            if unknown.size:
                raise ValueError(
                    f"Label {_py(Y[unknown[0], level])!r} at level {level} is not in "
                    f"the hierarchy the estimator was fitted on; pass every path in "
                    f"`classes` on the first partial_fit, or refit from scratch."
                )
            if level == 0:
                continue
            labelled = np.flatnonzero(codes[:, level] != MISSING)
            expected = self.parents[level - 1][codes[labelled, level]]
            wrong = labelled[expected != codes[labelled, level - 1]]
            if wrong.size:
                row = wrong[0]
                raise ValueError(
                    f"Label {_py(Y[row, level])!r} at level {level} appears under "
                    f"{_py(Y[row, level - 1])!r}, but its parent in the fitted "
                    f"hierarchy is "
                    f"{_py(self.classes[level - 1][expected[wrong == row][0]])!r}."
                )
        return codes

    def decode_leaves(self, leaf_index):
        """Labels of the full path of each finest-level class index."""
        path_codes = self.paths[leaf_index]
        labels = np.empty(path_codes.shape, dtype=self.label_dtype)
        for level, level_classes in enumerate(self.classes):
            labels[:, level] = level_classes[path_codes[:, level]]
        return labels

    @property
    def label_dtype(self):
        """A dtype that holds the labels of every level (object if they mix)."""
        try:
            dtype = np.result_type(*(c.dtype for c in self.classes))
        except TypeError:
            return np.dtype(object)
        return dtype

    def leaf_log_proba(self, level_log_proba, coarse_weight=1.0):
        """Joint log-probability of every root-to-leaf path.

        The score of a path is the finest level's log-probability of its leaf
        plus ``coarse_weight`` times the log-probabilities of its coarser
        nodes, renormalised over the paths that exist in the tree. So a
        sample is never assigned a fine label under the wrong coarse label.

        Parameters
        ----------
        level_log_proba : list of ndarray of shape (n_samples, n_classes_l)
        coarse_weight : float, default=1.0
            Weight of the coarse levels' votes (0: finest level alone).

        Returns
        -------
        ndarray of shape (n_samples, n_leaves)
        """
        if self.n_levels == 1 or coarse_weight == 0:
            return level_log_proba[-1]  # already normalised over the leaves
        scores = level_log_proba[-1].copy()
        for level in range(self.n_levels - 1):
            scores += coarse_weight * level_log_proba[level][:, self.paths[:, level]]
        return scores - logsumexp(scores, axis=1, keepdims=True)

    def level_proba(self, leaf_proba):
        """Aggregate path probabilities to every level (coherent by design).

        Parameters
        ----------
        leaf_proba : ndarray of shape (n_samples, n_leaves)

        Returns
        -------
        list of ndarray
            One array per level; a coarse probability is exactly the sum of
            the probabilities of its children.
        """
        # One row per class while summing: each sum then adds whole rows.
        columns = [np.ascontiguousarray(leaf_proba.T)]
        for level in range(self.n_levels - 2, -1, -1):
            columns.insert(0, self._child_sum(level) @ columns[0])
        return [np.ascontiguousarray(c.T) for c in columns[:-1]] + [leaf_proba]


def _as_label_matrix(Y):
    """``Y`` as an array; object dtype for a DataFrame whose columns differ in
    dtype, so each column keeps its own labels (ints stay ints)."""
    dtypes = getattr(Y, "dtypes", None)
    mixed = dtypes is not None and len(set(map(str, dtypes))) > 1
    return np.asarray(Y, dtype=object) if mixed else np.asarray(Y)
