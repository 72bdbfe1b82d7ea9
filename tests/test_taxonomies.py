"""Labels that repeat under different parents: a node is a path, a label a column.

Real taxonomies reuse labels ('Accessories' under 'Clothing' and under
'Electronics', numbered sub-codes '01'/'02' under every parent). The tree is
one of nodes (distinct path prefixes); ``classes_`` and the columns of
``predict_proba`` are the distinct labels, a label's probability summed over
its nodes; ``predict`` returns the user's labels.
"""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from _helpers import (
    TINY_BUDGETS,
    assert_coherent,
    make_tree_data,
    sub_codes,
    tiny_classifier,
)
from sklearn.datasets import make_multilabel_classification
from sklearn.model_selection import KFold, cross_validate

from mgclassifier import LabelHierarchy
from mgclassifier._config import level_class_weight
from mgclassifier._hierarchy import is_missing_label
from mgclassifier._prediction._engine import PredictionEngine
from mgclassifier.metrics import (
    accuracy_per_level,
    hierarchical_average_precision,
    hierarchical_f1_score,
    log_loss_per_level,
    neg_brier_score_scorer,
    neg_expected_calibration_error_scorer,
    neg_log_loss_scorer,
)

PRODUCTS = np.array(
    [
        ["Clothing", "Shirts"],
        ["Clothing", "Accessories"],
        ["Electronics", "Accessories"],
        ["Electronics", "Phones"],
    ]
)

pytestmark = TINY_BUDGETS  # small models, few epochs, on purpose


def product_data(n_per_path=40, seed=0):
    """Four well separated clusters, one per path of PRODUCTS."""
    rng = np.random.RandomState(seed)
    centers = 4.0 * np.eye(4)
    path = np.repeat(np.arange(4), n_per_path)
    X = centers[path] + rng.normal(scale=0.5, size=(len(path), 4))
    return X, PRODUCTS[path], centers


def taxonomy_data(n_samples=360, seed=0):
    """Three levels (3 x 3 x 2) with repeated labels at levels 1 and 2.

    Level 1 is 'Accessories', 'Other' (both under all three departments) or
    a label of the department's own; level 2 is '01' or '02' under every
    level-1 node. About one row in six stops at level 1.
    """
    X, Y = make_tree_data(n_samples=n_samples, branching=(3, 3, 2), seed=seed)
    digits = sub_codes(Y).astype(int)
    departments = np.array(["Clothing", "Electronics", "Home"])
    own = np.array(["Shirts", "Phones", "Kitchen"])
    level1 = np.where(
        digits[:, 1] == 0,
        "Accessories",
        np.where(digits[:, 1] == 1, "Other", own[digits[:, 0]]),
    )
    level2 = np.array(["01", "02"])[digits[:, 2]]
    Y = np.column_stack([departments[digits[:, 0]], level1, level2]).astype(object)
    Y[np.random.RandomState(seed).rand(len(Y)) < 1 / 6, 2] = None
    return X, Y


def full_paths(Y):
    return {tuple(row) for row in np.asarray(Y, dtype=object) if None not in row}


# ----------------------------------------------------------------- hierarchy
def test_hierarchy_makes_a_node_per_parent_and_a_column_per_label():
    tree, codes = LabelHierarchy.from_labels(PRODUCTS)
    assert [c.tolist() for c in tree.classes] == [
        ["Clothing", "Electronics"],
        ["Accessories", "Phones", "Shirts"],
    ]
    assert tree.n_nodes == [2, 4] and tree.n_classes == [2, 4]
    assert tree.has_repeated_labels
    assert tree.node_paths(1).tolist() == [
        ["Clothing", "Accessories"],
        ["Electronics", "Accessories"],
        ["Electronics", "Phones"],
        ["Clothing", "Shirts"],
    ]
    assert tree.label_index[1].tolist() == [0, 0, 1, 2]
    np.testing.assert_array_equal(tree.decode_leaves(codes[:, -1]), PRODUCTS)
    np.testing.assert_array_equal(tree.encode(PRODUCTS), codes)
    leaf = torch.tensor([[0.1, 0.2, 0.3, 0.4]], dtype=torch.float64)
    engine = PredictionEngine(tree)
    nodes = engine.node_proba(leaf)
    np.testing.assert_allclose(nodes[0], [[0.5, 0.5]])
    np.testing.assert_allclose(engine.label_proba(nodes)[1], [[0.3, 0.3, 0.4]])
    # Node and label sums come back in the dtype they were given.
    single = engine.label_proba(engine.node_proba(leaf.float()))
    assert [p.dtype for p in single] == [torch.float32, torch.float32]
    np.testing.assert_allclose(single[1], [[0.3, 0.3, 0.4]], rtol=1e-6)


def test_unique_labels_keep_the_fast_path():
    X, Y = make_tree_data(n_samples=60)
    tree, _ = LabelHierarchy.from_labels(Y)
    assert not tree.has_repeated_labels
    leaf = torch.from_numpy(np.random.RandomState(0).dirichlet(np.ones(6), size=3))
    engine = PredictionEngine(tree)
    probas = engine.label_proba(engine.node_proba(leaf))
    assert probas[-1] is leaf  # no label sums, no copy
    assert engine.repeated_levels == ()


def test_encode_known_names_label_level_row_and_the_paths_it_has():
    _, Y = taxonomy_data()
    tree, _ = LabelHierarchy.from_labels(Y)
    bad = np.array(
        [["Home", "Kitchen", "01"], ["Clothing", "Kitchen", "01"]], dtype=object
    )
    with pytest.raises(
        ValueError,
        match=r"Label 'Kitchen' at level 1 appears under 'Clothing' \(row 1\), but "
        r"its parent in the fitted hierarchy is 'Home'",
    ):
        tree.encode_known(bad)
    # A label at a level whose parents repeat: the parents are named by path.
    two_level = np.array([["a", "x", "1"], ["b", "x", "2"]] * 2, dtype=object)
    tree, _ = LabelHierarchy.from_labels(two_level)
    with pytest.raises(
        ValueError,
        match=r"Label '2' at level 2 appears under 'a' > 'x' \(row 0\), but its "
        r"parent in the fitted hierarchy is 'b' > 'x'\.",
    ):
        tree.encode_known(np.array([["a", "x", "2"]], dtype=object))


def test_childless_repeated_node_is_named_with_its_path_and_row():
    Y = np.array(
        [["a", "x", "1"], ["b", "x", None], ["b", "y", "2"], ["a", "y", "3"]],
        dtype=object,
    )
    with pytest.raises(
        ValueError,
        match=r"Class 'x' \(path 'b' > 'x'\) at level 1 \(e.g. row 1\) has no "
        r"labelled child",
    ):
        LabelHierarchy.from_labels(Y)


# ----------------------------------------------------------------- estimator
def test_product_taxonomy_predicts_the_users_labels():
    X, Y, centers = product_data()
    clf = tiny_classifier(max_epochs=40).fit(X, Y)
    np.testing.assert_array_equal(
        clf.predict(centers[[2]]), [["Electronics", "Accessories"]]
    )
    np.testing.assert_array_equal(clf.predict(centers), PRODUCTS)
    assert [c.tolist() for c in clf.classes_] == [
        ["Clothing", "Electronics"],
        ["Accessories", "Phones", "Shirts"],
    ]
    probas = clf.predict_proba(X)
    nodes = clf.predict_node_proba(X)
    assert [p.shape[1] for p in probas] == [2, 3]
    assert [p.shape[1] for p in nodes] == [2, 4]
    # 'Accessories' is the sum of its two nodes; the other columns are nodes.
    np.testing.assert_allclose(probas[1][:, 0], nodes[1][:, 0] + nodes[1][:, 1])
    np.testing.assert_allclose(probas[1][:, 1:], nodes[1][:, 2:])
    np.testing.assert_allclose(probas[0], nodes[0])
    for proba in probas:
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert clf.score(X, Y) == 1.0


def test_label_under_three_parents_at_two_levels_with_partial_labels_and_pandas():
    X, Y = taxonomy_data()
    X = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    Y = pd.DataFrame(Y, columns=["department", "category", "code"])
    clf = tiny_classifier(max_epochs=60, class_weight="balanced").fit(X, Y)
    tree = clf.hierarchy_
    assert clf.level_names_ == ["department", "category", "code"]
    assert [c.tolist() for c in clf.classes_] == [
        ["Clothing", "Electronics", "Home"],
        ["Accessories", "Kitchen", "Other", "Phones", "Shirts"],
        ["01", "02"],
    ]
    assert tree.n_nodes == [3, 9, 18]
    other = np.flatnonzero(tree.node_labels(1) == "Other")
    assert tree.node_paths(1)[other, 0].tolist() == ["Clothing", "Electronics", "Home"]

    Y_pred = clf.predict(X)
    assert Y_pred.shape == Y.shape
    assert {tuple(row) for row in Y_pred} <= full_paths(Y)
    # score skips the rows without a finest label (as the training loss does).
    labelled = [not is_missing_label(row[-1]) for row in Y.to_numpy()]
    assert clf.score(X, Y) == pytest.approx(
        np.mean(
            [
                tuple(a) == tuple(b)
                for a, b, keep in zip(Y_pred, Y.to_numpy(), labelled)
                if keep
            ]
        )
    )
    labelled = Y["code"].notna().to_numpy()
    assert accuracy_per_level(Y[labelled], Y_pred[labelled])[-1] > 0.6
    assert hierarchical_f1_score(Y, Y_pred) > 0.7

    nodes = clf.predict_node_proba(X)
    probas = clf.predict_proba(X)
    assert_coherent(nodes, tree.parents)  # node by node
    for level, (proba, node) in enumerate(zip(probas, nodes)):
        to_label = np.eye(len(clf.classes_[level]))[tree.label_index[level]]
        np.testing.assert_allclose(proba, node @ to_label, atol=1e-6)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    # predict is the most probable node path, mapped to the user's labels.
    leaf = nodes[-1].argmax(axis=1)
    np.testing.assert_array_equal(Y_pred, tree.decode_leaves(leaf))
    assert hierarchical_average_precision(Y, probas, clf.classes_) > 0.8


@pytest.mark.parametrize(
    "params", [{"coarse_decoding_weight": 1.0}, {"calibrate": False}]
)
def test_joint_decoding_returns_real_paths(params):
    X, Y = taxonomy_data()
    clf = tiny_classifier(max_epochs=20, **params).fit(X, Y)
    assert {tuple(row) for row in clf.predict(X)} <= full_paths(Y)


def test_integer_sub_codes_stay_integers():
    X, Y = make_tree_data(n_samples=120, branching=(3, 2))
    Y_int = sub_codes(Y).astype(int)  # 0/1 under each of 0, 1, 2
    clf = tiny_classifier().fit(X, Y_int)
    assert clf.hierarchy_.n_nodes == [3, 6]
    assert [c.tolist() for c in clf.classes_] == [[0, 1, 2], [0, 1]]
    Y_pred = clf.predict(X)
    assert Y_pred.dtype.kind == "i"
    assert {tuple(row) for row in Y_pred} <= {tuple(row) for row in Y_int}


def test_class_weight_dict_weighs_every_node_of_the_label():
    node_labels = np.array(["Accessories", "Accessories", "Phones", "Shirts"])
    codes = np.array([0, 0, 0, 1, 2, 3])
    weights = level_class_weight({"Accessories": 3.0}, codes, node_labels, 1)
    np.testing.assert_array_equal(weights, [3, 3, 1, 1])
    balanced = level_class_weight("balanced", codes, node_labels, 1)
    np.testing.assert_allclose(balanced, 6 / (4 * np.array([3, 1, 1, 1])))
    with pytest.raises(ValueError, match="'Bags', which is not a class of level 1"):
        level_class_weight({"Bags": 2.0}, codes, node_labels, 1)


def test_class_weight_per_level_with_repeated_labels():
    X, Y = taxonomy_data()
    clf = tiny_classifier(
        max_epochs=2, class_weight=[None, {"Other": 4.0}, "balanced"]
    ).fit(X, Y)
    loss = clf.net_.criterion_
    other = clf.hierarchy_.node_labels(1) == "Other"
    weights = loss.class_weight_1.numpy()
    assert other.sum() == 3
    np.testing.assert_array_equal(weights[other], 4.0)
    np.testing.assert_array_equal(weights[~other], 1.0)
    assert len(loss.class_weight_2) == 18  # one per node of the finest level


def test_partial_fit_classes_and_warm_start_with_repeated_labels():
    X, Y = taxonomy_data()
    classes = np.array(sorted(full_paths(Y)), dtype=object)
    first = Y[:, 0] != "Home"
    clf = tiny_classifier().partial_fit(X[first], Y[first], classes=classes)
    assert clf.hierarchy_.n_nodes == [3, 9, 18]
    clf.partial_fit(X[~first], Y[~first])  # paths not seen so far, but declared
    bad = Y[:3].copy()
    bad[2] = ["Clothing", "Kitchen", "01"]
    with pytest.raises(
        ValueError, match=r"'Kitchen' at level 1 appears under 'Clothing' \(row 2\)"
    ):
        clf.partial_fit(X[:3], bad)
    warm = tiny_classifier(warm_start=True, max_epochs=2).fit(X, Y)
    warm.fit(X, Y)
    assert warm.n_epochs_ == 4


def test_pickle_keeps_the_label_view():
    X, Y = taxonomy_data()
    clf = tiny_classifier(max_epochs=3).fit(X, Y)
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    for a, b in zip(loaded.predict_proba(X), clf.predict_proba(X)):
        np.testing.assert_array_equal(a, b)


# Independent columns give rare paths that are no typo.
@pytest.mark.filterwarnings("ignore::mgclassifier.HierarchyWarning")
def test_sklearn_multioutput_check_data_fits():
    # sklearn's check_classifier_multioutput: 3 independent 0/1 columns, so
    # 0 and 1 repeat under both parents at every level below the first.
    X, y = make_multilabel_classification(
        random_state=42, n_samples=42, n_labels=5, n_classes=3
    )
    clf = tiny_classifier(hidden_layer_sizes=(32,), max_epochs=30).fit(X, y)
    y_pred = clf.predict(X)
    assert y_pred.shape == (42, 3) and y_pred.dtype.kind == "i"
    assert {tuple(row) for row in y_pred} <= {tuple(row) for row in y}
    probas = clf.predict_proba(X)
    assert [p.shape for p in probas] == [(42, 2)] * 3
    # What holds instead of the check's per-column argmax: predict is the most
    # probable path, whose labels need not each be their level's argmax.
    leaf = clf.predict_node_proba(X)[-1].argmax(axis=1)
    np.testing.assert_array_equal(y_pred, clf.hierarchy_.decode_leaves(leaf))
    assert (y_pred == y).mean() > 0.6


def test_calibration_scorers_in_cross_validate_with_repeated_labels():
    X, Y = taxonomy_data()
    scoring = {
        "nll": neg_log_loss_scorer,
        "brier": neg_brier_score_scorer,
        "ece": neg_expected_calibration_error_scorer,
    }
    cv = KFold(2, shuffle=True, random_state=0)  # None labels: no stratified split
    result = cross_validate(tiny_classifier(max_epochs=5), X, Y, cv=cv, scoring=scoring)
    train, test = next(cv.split(X))
    clf = tiny_classifier(max_epochs=5).fit(X[train], Y[train])
    # The scorers skip the rows without a finest label.
    test = test[[not is_missing_label(row[-1]) for row in Y[test]]]
    proba = clf.predict_proba(X[test])
    expected = -log_loss_per_level(Y[test], proba, clf.classes_, average="macro")
    assert result["test_nll"][0] == pytest.approx(expected)
    for name in scoring:
        assert np.all(np.isfinite(result[f"test_{name}"]))
        assert np.all(result[f"test_{name}"] < 0)


def test_plots_show_the_label_view():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mgclassifier.plotting import (
        LevelConfusionMatrixDisplay,
        ReliabilityDiagramDisplay,
    )

    X, Y = taxonomy_data()
    clf = tiny_classifier(max_epochs=5).fit(X, Y)
    try:
        confusion = LevelConfusionMatrixDisplay.from_estimator(clf, X, Y, level=1)
        np.testing.assert_array_equal(confusion.display_labels, clf.classes_[1])
        assert confusion.confusion_matrix.shape == (5, 5)
        assert confusion.confusion_matrix.sum() == len(X)
        # Level 2 leaves out the rows whose path stops at level 1.
        fine = LevelConfusionMatrixDisplay.from_estimator(clf, X, Y, level=2)
        assert fine.confusion_matrix.sum() == sum(v is not None for v in Y[:, 2])
        reliability = ReliabilityDiagramDisplay.from_estimator(clf, X, Y)
        assert [c.sum() for c in reliability.counts] == [
            len(X),
            len(X),
            sum(v is not None for v in Y[:, 2]),
        ]
    finally:
        plt.close("all")


def test_a_dataframe_mixing_text_and_integer_levels_fits():
    # Such a DataFrame's values are an object array: its integer column must
    # still read as class labels (and stay integers), not as "unknown".
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 3))
    Y = pd.DataFrame(
        {
            "department": np.where(X[:, 0] > 0, "food", "toys"),
            "item": (X[:, 0] > 0) * 10 + (X[:, 1] > 0),
        }
    )
    clf = tiny_classifier(max_epochs=3).fit(X, Y)
    assert clf.classes_[0].tolist() == ["food", "toys"]
    assert clf.classes_[1].tolist() == [0, 1, 10, 11]
    predicted = clf.predict(X)
    assert {type(label) for label in predicted[:, 1]} == {int}
    assert set(map(tuple, predicted.tolist())) <= set(map(tuple, Y.to_numpy().tolist()))
    # Fractional numbers held as objects are still refused.
    Y["item"] = Y["item"] + 0.5
    with pytest.raises(ValueError, match="continuous"):
        tiny_classifier().fit(X, Y)


@pytest.mark.parametrize(
    "make_y",
    [
        # pandas stores an integer column with None as float64 with NaN, and
        # a frame mixing int and float columns converted whole turns float.
        lambda coarse, fine: pd.DataFrame({"group": coarse, "item": fine}),
        lambda coarse, fine: pd.DataFrame(
            {"group": coarse, "item": pd.array(fine, dtype="Int64")}
        ),
        lambda coarse, fine: np.array([coarse, fine], dtype=object).T,
    ],
    ids=["pandas-None", "pandas-Int64-NA", "object-None"],
)
def test_integer_labels_with_missing_values_stay_integers(make_y):
    X, Y = make_tree_data(n_samples=120, branching=(2, 2))
    coarse = sub_codes(Y)[:, 0].astype(int) + 1
    fine = np.array(10 * coarse + sub_codes(Y)[:, 1].astype(int), dtype=object)
    fine[::7] = None  # missing fine labels: the coarse head learns them
    clf = tiny_classifier(max_epochs=3).fit(X, make_y(coarse, fine))
    assert [c.tolist() for c in clf.classes_] == [[1, 2], [10, 11, 20, 21]]
    assert all(c.dtype.kind == "i" for c in clf.classes_)
    Y_pred = clf.predict(X)
    assert Y_pred.dtype.kind == "i"
    assert {tuple(row) for row in Y_pred} <= {
        (c, 10 * c + d) for c in (1, 2) for d in (0, 1)
    }


def clothing_with_typos():
    """A shop whose labels hold three T-shirts under 'Bottoms' and one
    misspelt root ('Clothng'), next to a balanced repeated label ('Kids')."""
    paths = [
        ("Clothing", "Tops", "T-shirt", 200),
        ("Clothing", "Bottoms", "T-shirt", 3),
        ("Clothing", "Bottoms", "Jeans", 100),
        ("Clothing", "Tops", "Kids", 50),
        ("Clothing", "Bottoms", "Kids", 50),
        ("Clothng", "Tops", "T-shirt", 1),
    ]
    Y = np.array([path[:3] for path in paths for _ in range(path[3])])
    X = np.random.RandomState(0).normal(size=(len(Y), 3))
    return X, pd.DataFrame(Y, columns=["root", "group", "item"])


def test_rare_paths_of_a_repeated_label_warn_once_naming_them():
    from mgclassifier import HierarchyWarning

    X, Y = clothing_with_typos()
    with pytest.warns(HierarchyWarning) as record:
        clf = tiny_classifier(max_epochs=1, batch_size=128).fit(X, Y)
    ours = [w for w in record if w.category is HierarchyWarning]
    assert len(ours) == 1 and ours[0].filename == __file__
    message = str(ours[0].message)
    assert "'Clothing' > 'Bottoms' > 'T-shirt' has 3 of the 204 rows" in message
    assert "'Clothng' > 'Tops' has 1 of the 251 rows of 'Tops'" in message
    assert "Kids" not in message  # 50 rows under each parent: a real repeat
    assert "category=mgclassifier.HierarchyWarning" in message
    assert clf.classes_[0].tolist() == ["Clothing", "Clothng"]  # kept as given
    # Continuing the fitted tree does not warn again; the silencing the
    # message gives works.
    with warnings.catch_warnings():
        warnings.simplefilter("error", HierarchyWarning)
        clf.set_params(warm_start=True).fit(X, Y)
        clf.partial_fit(X, Y)
        warnings.filterwarnings("ignore", category=HierarchyWarning)
        tiny_classifier(max_epochs=1, batch_size=128).fit(X, Y)


def test_reversed_columns_warn_naming_the_levels():
    from mgclassifier import HierarchyWarning

    X, Y = make_tree_data(n_samples=120, branching=(2, 3))
    Y = pd.DataFrame(Y[:, ::-1], columns=["species", "family"])
    with pytest.warns(
        HierarchyWarning,
        match=r"level 0 \('species'\) has 6 "
        r"distinct labels but level 1 \('family'\), finer, has 2.*"
        r"reversed",
    ):
        tiny_classifier(max_epochs=1).fit(X, Y)


SHOP = np.array(
    [
        ["Clothing", "Shirts", "01"],
        ["Clothing", "Accessories", "01"],
        ["Electronics", "Accessories", "01"],
        ["Electronics", "Accessories", "02"],
        ["Electronics", "Phones", "01"],
    ]
)
"""The README's taxonomy: fewer labels at the last level, and all but one
node of the level above with a single child."""


@pytest.mark.parametrize(
    "labels",
    [
        lambda Y: sub_codes(Y),  # '0', '1' under every parent: fewer below
        lambda Y: PRODUCTS[np.arange(len(Y)) % len(PRODUCTS)],
        lambda Y: SHOP[np.arange(len(Y)) % len(SHOP)],  # '01' under 4 parents
        lambda Y: Y,
    ],
    ids=["sub-codes", "products", "readme-shop", "plain-tree"],
)
def test_balanced_repeated_labels_do_not_warn(labels):
    from mgclassifier import HierarchyWarning

    X, Y = make_tree_data(n_samples=120, branching=(3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error", HierarchyWarning)
        tiny_classifier(max_epochs=1).fit(X, labels(Y))
