"""Label hierarchy: per-level encoding, parent maps and paths back to labels.

This module knows nothing of torch. It turns a label matrix ``Y`` of shape
(n_samples, n_levels) into a tree of nodes (a node is a path from the root,
so a label may repeat under several parents) with a node index per sample
and level, and a leaf node back into its path of labels. The probabilities
of paths, nodes and labels are the prediction engine's
(``_prediction._engine``).
"""

import numbers

import numpy as np
from sklearn.utils.multiclass import type_of_target

MISSING = -1
"""Code of a missing label (only used for partially labelled ``Y``)."""

UNKNOWN = -2
"""Code of a label the tree does not have, where it must not be taken for a
missing one (:meth:`LabelHierarchy.encode_judged`)."""


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
    checked = None  # what type_of_target looks at, when not ``present``
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
        if "number" in kinds:
            # Numbers held as objects (a DataFrame mixing a text column and a
            # number column): type_of_target calls any object array "unknown".
            checked = np.asarray(present.tolist())
            # Integers held as objects (next to None) are integer labels; so
            # are whole floats next to missing values: pandas makes an
            # integer column with missing values float.
            if checked.dtype.kind in "iu" or (missing.any() and _whole(checked)):
                column, present = _integer_labels(checked, missing)
    elif column.dtype.kind == "f":
        missing = np.isnan(column)
        present = column[~missing]
        if missing.any() and _whole(present):
            column, present = _integer_labels(present, missing)
    elif column.dtype.kind == "U":
        missing = column == ""
        present = column[~missing]
    else:
        missing = np.zeros(len(column), dtype=bool)
        present = column
    # Integers and strings are always discrete classes: type_of_target's scan
    # of a large column (a sort, for strings) is spared for them.
    if present.size and column.dtype.kind not in "iubUS":
        target_type = type_of_target(present if checked is None else checked)
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


RARE_PATH_ROWS = 3
"""A path of a repeated label with at most this many rows may be a typo..."""
RARE_PATH_FRACTION = 0.01
"""... or with less than this fraction of the label's rows; either way only
when another path of the label has ``RARE_PATH_RATIO`` times its rows
(balanced repeated labels are a feature, not a finding)."""
RARE_PATH_RATIO = 5


def hierarchy_findings(hierarchy, codes, level_names=None, most=5):
    """What in a label tree read from data looks like a mistake in ``y``.

    Two findings, each a sentence for a warning; the tree is taken as given
    either way:

    - a label under several parents one of whose paths is rare: at most
      ``RARE_PATH_ROWS`` rows or under ``RARE_PATH_FRACTION`` of the label's
      rows, while another of its paths has at least ``RARE_PATH_RATIO``
      (5) times as many: a typo in a parent, as 'Bottoms' > 'T-shirt' next
      to 'Tops' > 'T-shirt';
    - a level with more distinct labels than the next, finer one, each of
      whose nodes has a single child: y's columns look reversed (fine to
      coarse; reported for the first such pair of levels). Numbered
      sub-codes ('01' under every parent) have fewer labels below too, but
      some node with several children, and are not a finding.

    Parameters
    ----------
    hierarchy : LabelHierarchy
    codes : ndarray of shape (n_samples, n_levels)
        The node codes ``from_labels`` returned with it.
    level_names : list of str, default=None
        Names of the levels for the sentences; None: their indices.
    most : int, default=5
        Rare paths named at most; the others are counted.

    Returns
    -------
    findings : list of str
        Empty when nothing looks wrong.

    Examples
    --------
    >>> Y = np.array([["Tops", "T-shirt"]] * 40 + [["Bottoms", "T-shirt"]]
    ...              + [["Bottoms", "Jeans"]] * 30 + [["Tops", "Shirt"]] * 9)
    >>> hierarchy_findings(*LabelHierarchy.from_labels(Y))
    ["'Bottoms' > 'T-shirt' has 1 of the 41 rows of 'T-shirt' (the others \
under another parent): a typo?"]
    >>> reversed_y = np.delete(Y, 40, axis=0)[:, ::-1]  # without the typo
    >>> hierarchy_findings(*LabelHierarchy.from_labels(reversed_y), ["a", "b"])
    ["level 0 ('a') has 3 distinct labels but level 1 ('b'), finer, has 2, \
and each of its labels has a single child: are y's columns reversed? They \
go coarse to fine."]
    """

    def name(level):
        return f"level {level}" + (
            f" ({level_names[level]!r})" if level_names is not None else ""
        )

    rare = []
    for level in range(1, hierarchy.n_levels):
        if not hierarchy._repeated[level]:
            continue
        index = hierarchy.label_index[level]
        column = codes[:, level]
        rows = np.bincount(column[column >= 0], minlength=len(index))
        label_rows = np.bincount(index, weights=rows, minlength=len(index))
        label_top = np.zeros(len(hierarchy.classes[level]))
        np.maximum.at(label_top, index, rows)
        suspect = (
            (rows <= RARE_PATH_ROWS) | (rows < RARE_PATH_FRACTION * label_rows[index])
        ) & (label_top[index] >= RARE_PATH_RATIO * np.maximum(rows, 1))
        paths = hierarchy.node_paths(level)
        for node in np.flatnonzero(suspect):
            label = _py(hierarchy.classes[level][index[node]])
            rare.append(
                f"{_describe(paths[node], True, full=True)} has {rows[node]} of the "
                f"{int(label_rows[index[node]])} rows of {label!r} (the others "
                f"under another parent): a typo?"
            )
    findings = rare[:most]
    if len(rare) > most:
        findings.append(f"{len(rare) - most} more paths are as rare.")
    for level in range(hierarchy.n_levels - 1):
        coarse, fine = len(hierarchy.classes[level]), len(hierarchy.classes[level + 1])
        children = np.bincount(
            hierarchy.parents[level], minlength=hierarchy.n_nodes[level]
        )
        if coarse > fine and np.all(children == 1):
            findings.append(
                f"{name(level)} has {coarse} distinct labels but {name(level + 1)}, "
                f"finer, has {fine}, and each of its labels has a single child: "
                f"are y's columns reversed? They go coarse to fine."
            )
            break
    return findings


class LabelHierarchy:
    """A tree of nodes read from a label matrix, with encoding and decoding.

    A node is a path from the root: the same label under two parents (say
    ``"Accessories"`` under ``"Clothing"`` and under ``"Electronics"``) is
    two nodes, each with its own output in the network. On top of the nodes
    sits a *label view*: ``classes[l]`` holds each distinct label of level
    ``l`` once, and the probability of a label is the sum over the nodes that
    carry it. When no label repeats, node ``j`` of a level carries label
    ``classes[l][j]`` and both views coincide.

    Parameters
    ----------
    classes : list of ndarray
        Sorted distinct labels of each level, coarse to fine.
    parents : list of ndarray of int
        ``parents[l][j]`` is the index of the parent (a node of level ``l``)
        of node ``j`` of level ``l + 1``.
    label_index : list of ndarray of int, default=None
        ``label_index[l][j]`` is the index in ``classes[l]`` of the label of
        node ``j`` of level ``l``. None: one node per label, in the order of
        ``classes``.

    Attributes
    ----------
    paths : ndarray of shape (n_leaves, n_levels)
        For every leaf node, the node index of its ancestor at each level.
        Row ``i`` is the path of leaf ``i``.
    label_index : list of ndarray of int
        As the parameter (identity maps when no label repeats).

    Examples
    --------
    >>> import numpy as np
    >>> Y = np.array([["animal", "dog"], ["animal", "cat"], ["plant", "fern"]])
    >>> tree, codes = LabelHierarchy.from_labels(Y)
    >>> [c.tolist() for c in tree.classes]
    [['animal', 'plant'], ['cat', 'dog', 'fern']]
    >>> tree.paths.tolist()
    [[0, 0], [0, 1], [1, 2]]

    A label under two parents is two nodes, one label:

    >>> Y = np.array([["Clothing", "Shirts"], ["Clothing", "Accessories"],
    ...               ["Electronics", "Accessories"], ["Electronics", "Phones"]])
    >>> tree, codes = LabelHierarchy.from_labels(Y)
    >>> tree.classes[1].tolist(), tree.n_nodes
    (['Accessories', 'Phones', 'Shirts'], [2, 4])
    >>> tree.node_paths(1).tolist()
    [['Clothing', 'Accessories'], ['Electronics', 'Accessories'], \
['Electronics', 'Phones'], ['Clothing', 'Shirts']]
    """

    def __init__(self, classes, parents, label_index=None):
        self.classes = list(classes)
        self.parents = [np.asarray(p, dtype=np.intp) for p in parents]
        if label_index is None:
            label_index = [np.arange(len(c)) for c in self.classes]
        self.label_index = [np.asarray(i, dtype=np.intp) for i in label_index]
        n_leaves = len(self.label_index[-1])
        paths = np.empty((n_leaves, len(self.classes)), dtype=np.intp)
        paths[:, -1] = np.arange(n_leaves)
        for level in range(len(self.classes) - 2, -1, -1):
            paths[:, level] = self.parents[level][paths[:, level + 1]]
        self.paths = paths
        childless = _first_childless(self.parents, self.n_nodes)
        if childless is not None:
            raise ValueError(f"Every class of level {childless[0]} needs a child.")
        for level, index in enumerate(self.label_index):
            if np.any(np.bincount(index, minlength=len(self.classes[level])) == 0):
                raise ValueError(f"Every label of level {level} needs a node.")
        self._set_repeated()

    def _set_repeated(self):
        # Levels where some label is carried by several nodes; the others take
        # the fast path (node index == label index, nothing to sum).
        self._repeated = [
            len(index) != len(level_classes)
            or not np.array_equal(index, np.arange(len(index)))
            for index, level_classes in zip(self.label_index, self.classes)
        ]

    @property
    def n_levels(self):
        """Number of levels, coarse to fine."""
        return len(self.classes)

    @property
    def n_nodes(self):
        """Number of nodes of each level (the width of its network head)."""
        return [len(index) for index in self.label_index]

    @property
    def n_classes(self):
        """Classes each level's head tells apart: its nodes (see ``n_nodes``).

        Equal to ``len(classes[l])`` unless a label of level ``l`` repeats
        under several parents.
        """
        return self.n_nodes

    @property
    def has_repeated_labels(self):
        """Whether some label is carried by several nodes of its level."""
        return any(self._repeated)

    def node_labels(self, level):
        """Return the label of every node of ``level``.

        Parameters
        ----------
        level : int
            Index of the level, 0 the coarsest.

        Returns
        -------
        ndarray of shape (n_nodes[level],)
            Node ``j``'s label; a label under several parents repeats.
        """
        if not self._repeated[level]:
            return self.classes[level]  # node j carries label j: no copy
        return self.classes[level][self.label_index[level]]

    def node_paths(self, level):
        """Return the labels of every node of ``level`` and of its ancestors.

        Parameters
        ----------
        level : int
            Index of the level, 0 the coarsest.

        Returns
        -------
        ndarray of shape (n_nodes[level], level + 1)
            Row ``j`` is the path from the root to node ``j``: the node-level
            view behind the per-label columns of ``classes``.
        """
        nodes = np.arange(self.n_nodes[level])
        rows = [nodes]
        for parent_level in range(level - 1, -1, -1):
            rows.insert(0, self.parents[parent_level][rows[0]])
        paths = np.empty((len(nodes), level + 1), dtype=self.label_dtype)
        for depth, row in enumerate(rows):
            paths[:, depth] = self.node_labels(depth)[row]
        return paths

    @classmethod
    def from_labels(cls, Y):
        """Read the tree from ``Y`` and encode it.

        Parameters
        ----------
        Y : array-like of shape (n_samples, n_levels)
            Labels, columns coarse to fine. A label may appear under several
            parents (it is then one node per parent). Missing labels (None,
            NaN, ``""``) are allowed only below a present label (a sample may
            stop early). Integers stay integers next to missing labels: a
            float column of whole numbers with NaN (pandas' integer column
            with None) gives integer classes.

        Returns
        -------
        hierarchy : LabelHierarchy
        codes : ndarray of shape (n_samples, n_levels)
            Node index per level, ``MISSING`` (-1) where the label is missing.

        Raises
        ------
        ValueError
            If a level has fewer than two nodes, a node has no labelled child,
            a coarse label is missing under a present fine label, or the
            labels are not discrete.
        """
        Y = as_label_matrix(Y)
        n_samples, n_levels = Y.shape
        classes, label_index, parents = [], [], []
        codes = np.full((n_samples, n_levels), MISSING, dtype=np.intp)
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
            # Views rather than copies when no label is missing (memory, for
            # the tens of millions of rows of an out-of-core fit).
            rows = ~missing if missing.any() else slice(None)
            level_classes, labels = _unique_inverse(column[rows])
            if level == 0:
                nodes, node_label = labels, np.arange(len(level_classes))
            else:
                # A node is a (label, parent node) pair; sorting the pairs by
                # label first makes node j carry label j when none repeats.
                n_parents = len(label_index[-1])
                labels *= n_parents  # the pairs' keys, in place
                labels += codes[rows, level - 1]
                pairs, nodes = _unique_inverse(labels)
                node_label = pairs // n_parents
                parents.append(pairs % n_parents)
            if len(node_label) < 2:
                found = f" ({_py(level_classes[0])!r})" if len(level_classes) else ""
                raise ValueError(
                    f"Level {level} of Y has only one class{found}; every level "
                    f"needs at least two classes to learn from."
                )
            codes[rows, level] = nodes
            del labels, nodes  # before the next level allocates its own
            classes.append(level_classes)
            label_index.append(node_label)
            previous_missing = missing
        childless = _first_childless(parents, [len(index) for index in label_index])
        if childless is not None:
            level, node = childless
            row = int(np.flatnonzero(codes[:, level] == node)[0])
            repeated = len(label_index[level]) > len(classes[level])
            raise ValueError(
                f"Class {_describe(Y[row, : level + 1], repeated)} at level "
                f"{level} (e.g. row {row}) has no labelled child at level "
                f"{level + 1}; every class needs at least one sample labelled "
                f"below it (paths that stop early are not supported)."
            )
        return cls(classes, parents, label_index), codes

    def encode(self, Y):
        """Return the node index of every label, -1 for unknown or missing ones.

        Parameters
        ----------
        Y : array-like of shape (n_samples, n_levels)
            Labels, coarse to fine.

        Returns
        -------
        ndarray of int of shape (n_samples, n_levels)
            Node codes; a row whose path the tree does not have is -1 from
            the first unknown level on.
        """
        return self._encode(as_label_matrix(Y))[0]

    def _encode(self, Y):
        """``(codes, missing, labels)`` for a label matrix.

        ``codes`` are node indices, ``labels`` indices in ``classes`` (-1 for
        unknown labels), ``missing`` marks no-labels. A known label under a
        parent it never had has a label index but no node.
        """
        codes = np.full(Y.shape, MISSING, dtype=np.intp)
        labels = np.full(Y.shape, MISSING, dtype=np.intp)
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
            labels[present[known], level] = index[known]
            if not self._repeated[level]:
                codes[:, level] = labels[:, level]
                continue
            # The node of a repeated label is found by its (label, parent) pair.
            n_parents = self.n_nodes[level - 1]
            pairs = self.label_index[level] * n_parents + self.parents[level - 1]
            order = np.argsort(pairs)
            rows = np.flatnonzero((labels[:, level] >= 0) & (codes[:, level - 1] >= 0))
            query = labels[rows, level] * n_parents + codes[rows, level - 1]
            position = np.clip(np.searchsorted(pairs[order], query), 0, len(order) - 1)
            found = pairs[order][position] == query
            codes[rows[found], level] = order[position[found]]
        return codes, missing, labels

    def encode_judged(self, Y):
        """Encode the true labels of rows a fitted model is judged on.

        Parameters
        ----------
        Y : array-like of shape (n_samples, n_levels)
            True labels, coarse to fine, as for :meth:`encode`.

        Returns
        -------
        ndarray of int of shape (n_samples, n_levels)
            Node codes: ``MISSING`` (-1) where a label is missing,
            ``UNKNOWN`` (-2) where the tree does not have the label, or not
            under that parent: no predicted node equals it, so a prediction
            there is wrong rather than unscored.

        Raises
        ------
        ValueError
            If ``Y`` has another number of levels.
        """
        Y = self._check_n_levels(as_label_matrix(Y))
        codes, missing, _ = self._encode(Y)
        codes[(codes == MISSING) & ~missing] = UNKNOWN
        return codes

    def _check_n_levels(self, Y):
        if Y.ndim != 2 or Y.shape[1] != self.n_levels:
            raise ValueError(
                f"y has {Y.shape[1] if Y.ndim == 2 else 1} level(s) but the fitted "
                f"hierarchy has {self.n_levels}."
            )
        return Y

    def encode_known(self, Y):
        """Encode labels that must all lie on paths of this tree.

        Parameters
        ----------
        Y : array-like of shape (n_samples, n_levels)
            Labels, coarse to fine; missing labels (None, NaN, "") are -1.

        Returns
        -------
        ndarray of int of shape (n_samples, n_levels)
            Node codes.

        Raises
        ------
        ValueError
            If ``Y`` has another number of levels, holds a label the tree
            does not have, or a label under a parent the tree does not give
            it (the message names the label, its level and the row).
        """
        Y = self._check_n_levels(as_label_matrix(Y))
        codes, missing, labels = self._encode(Y)
        for level in range(self.n_levels):
            unknown = np.flatnonzero((labels[:, level] == MISSING) & ~missing[:, level])
            if unknown.size:
                raise ValueError(
                    f"Label {_py(Y[unknown[0], level])!r} at level {level} is not "
                    f"in the hierarchy the estimator was fitted on (row "
                    f"{unknown[0]}); pass every path in `classes` on the first "
                    f"partial_fit, or refit from scratch."
                )
            if level == 0:
                continue
            labelled = np.flatnonzero(labels[:, level] != MISSING)
            parent = self.parents[level - 1][np.maximum(codes[labelled, level], 0)]
            wrong = labelled[
                (codes[labelled, level] == MISSING)
                | (parent != codes[labelled, level - 1])
            ]
            if wrong.size:
                row = wrong[0]
                repeated = self._repeated[level - 1]
                found = _describe(Y[row, :level], repeated, full=True)
                known = " or ".join(
                    _describe(path, repeated, full=True)
                    for path in self._parent_paths(level, labels[row, level])
                )
                raise ValueError(
                    f"Label {_py(Y[row, level])!r} at level {level} appears under "
                    f"{found} (row {row}), but its parent in the fitted hierarchy "
                    f"is {known}."
                )
        return codes

    def _parent_paths(self, level, label):
        """Paths of the parents of the nodes of ``level`` carrying ``label``."""
        nodes = np.flatnonzero(self.label_index[level] == label)
        return self.node_paths(level - 1)[self.parents[level - 1][nodes]]

    def decode_leaves(self, leaf_index, depth=None):
        """Return the labels of the path of each leaf node.

        Parameters
        ----------
        leaf_index : ndarray of int of shape (n_samples,)
            A leaf node (finest level) per row.
        depth : ndarray of int of shape (n_samples,), default=None
            Number of levels to keep on each row. None keeps every level.

        Returns
        -------
        ndarray of shape (n_samples, n_levels)
            The user's labels; with ``depth``, an object array with None
            below each row's depth (the marker of a shorter path).
        """
        path_codes = self.paths[leaf_index]
        if depth is None:
            labels = np.empty(path_codes.shape, dtype=self.label_dtype)
        else:
            labels = np.full(path_codes.shape, None, dtype=object)
        for level in range(self.n_levels):
            nodes = path_codes[:, level]
            values = self.node_labels(level)[nodes]
            if depth is None:
                labels[:, level] = values
            else:
                keep = depth > level
                labels[keep, level] = values[keep]
        return labels

    @property
    def label_dtype(self):
        """A dtype that holds the labels of every level (object if they mix)."""
        kinds = {c.dtype.kind in "USO" for c in self.classes}
        if len(kinds) > 1:  # numpy would turn the numbers into strings
            return np.dtype(object)
        try:
            dtype = np.result_type(*(c.dtype for c in self.classes))
        except TypeError:
            return np.dtype(object)
        return dtype


def _describe(path, repeated, full=False):
    """A label for messages, with its path when labels repeat at its level.

    ``full=True`` writes just the path ('a' > 'b') in that case.
    """
    label = repr(_py(path[-1]))
    if not repeated:
        return label
    joined = " > ".join(repr(_py(v)) for v in path)
    return joined if full else f"{label} (path {joined})"


def _unique_inverse(values):
    """``np.unique(values, return_inverse=True)``, faster and in less memory.

    np.unique sorts (O(n log n): half a second for a million labels) and its
    inverse costs three integer arrays of ``len(values)`` (argsort,
    cumulative sum, scatter). For integers of a range not much wider than
    their number, a table of the values present gives the same result in a
    few linear passes; otherwise each value is looked up among the sorted
    classes (one integer array), which matters for the tens of millions of
    labels of an out-of-core fit.

    Examples
    --------
    >>> _unique_inverse(np.array([7, 3, 7, 5]))
    (array([3, 5, 7]), array([2, 0, 2, 1]))
    >>> _unique_inverse(np.array(["b", "a", "b"]))
    (array(['a', 'b'], dtype='<U1'), array([1, 0, 1]))
    """
    if values.dtype.kind in "iu" and values.size:
        low, high = int(values.min()), int(values.max())
        if high - low < 4 * values.size + 1024:
            shifted = values - low if low else values  # no copy from 0 up
            if np.iinfo(values.dtype).max < high - low:  # would wrap around
                shifted = values.astype(np.intp) - low
            # Marked by assignment, not np.bincount, which would copy the
            # values to int64 first (160 MB for 20M labels).
            present = np.zeros(high - low + 1, dtype=bool)
            present[shifted] = True
            position = np.cumsum(present) - 1
            uniques = (np.flatnonzero(present) + low).astype(values.dtype)
            return uniques, position[shifted]
    classes = np.unique(values)
    return classes, np.searchsorted(classes, values)


def _first_childless(parents, n_nodes):
    """``(level, node)`` of the first node without a child, or None."""
    for level, parent in enumerate(parents):
        childless = np.flatnonzero(np.bincount(parent, minlength=n_nodes[level]) == 0)
        if childless.size:
            return level, int(childless[0])
    return None


def _integer_labels(present, missing):
    """An int64 column holding ``present`` where not ``missing`` (0 there)."""
    column = np.zeros(len(missing), dtype=np.int64)
    column[~missing] = present
    return column, column[~missing]


def _whole(values):
    """Whether a float (or number) array holds only whole numbers."""
    return values.dtype.kind in "fiu" and bool(np.all(np.mod(values, 1) == 0))


def as_label_matrix(Y):
    """``Y`` as an array; object dtype for a DataFrame whose columns differ in
    dtype, so each column keeps its own labels (ints stay ints).

    Converted column by column: numpy's conversion of the whole frame would
    first bring an integer column next to a float one to float.
    """
    dtypes = getattr(Y, "dtypes", None) if hasattr(Y, "columns") else None
    mixed = dtypes is not None and len(set(map(str, dtypes))) > 1
    return np.asarray(Y.astype(object)) if mixed else np.asarray(Y)
