"""ONNX export: onnxruntime gives predict's labels and predict_proba's
probabilities, for every kind of hierarchy, label type and trunk."""

import copy
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from _helpers import TINY_BUDGETS, rows_clear_of_ties, sub_codes, tiny_classifier
from _trunks import TokenBag, ValueBranch
from sklearn.exceptions import NotFittedError

from mgclassifier import MultiGranularityClassifier
from mgclassifier.datasets import load_imclef07a, make_hierarchical_classification
from mgclassifier.trunks import ResidualMLP, SmallCNN

onnxruntime = pytest.importorskip(
    "onnxruntime", reason="ONNX export is the optional extra mgclassifier[onnx]"
)
pytest.importorskip("onnxscript", reason="the torch ONNX exporter needs onnxscript")
torch_onnx_errors = pytest.importorskip("torch.onnx.errors")

from mgclassifier.onnx import to_onnx  # noqa: E402

pytestmark = TINY_BUDGETS  # small models, few epochs, on purpose

ATOL = 1e-5

# Small versions of the benchmarks' three synthetic shapes (benchmarks/accuracy.py).
SHAPES = {
    "deep/narrow": dict(branching=(2, 2, 2, 2), imbalance=1.0, label_noise=0.05),
    "wide/shallow": dict(branching=(4, 12), class_sep=0.8),
    "mid-depth, skewed, noisy": dict(
        branching=(3, 4, 5), imbalance=1.0, label_noise=0.1
    ),
}


def session(model):
    """An onnxruntime session on one thread (a ModelProto or a file path)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    source = model if isinstance(model, str) else model.SerializeToString()
    return onnxruntime.InferenceSession(
        source, options, providers=["CPUExecutionProvider"]
    )


def run(model, X):
    """``{output name: array}`` of the exported model on ``X``."""
    sess = session(model)
    names = [output.name for output in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {"X": X})))


def assert_matches(clf, model, X, X_onnx=None):
    """Labels equal ``predict``; probabilities within ATOL of ``predict_proba``."""
    outputs = run(model, np.asarray(X, dtype=np.float32) if X_onnx is None else X_onnx)
    expected = clf.predict(X)
    assert outputs["labels"].shape == expected.shape
    np.testing.assert_array_equal(outputs["labels"], expected)
    probas = [p for name, p in outputs.items() if name.startswith("proba")]
    expected = clf.predict_proba(X)
    expected = [expected] if isinstance(expected, np.ndarray) else expected
    assert len(probas) == len(expected)
    for level, (got, want) in enumerate(zip(probas, expected)):
        assert got.dtype == np.float32
        assert got.shape == want.shape, level
        np.testing.assert_allclose(
            got, want, rtol=0, atol=ATOL, err_msg=f"level {level}"
        )
    return outputs


@pytest.mark.parametrize("shape", SHAPES)
def test_matches_predict_on_synthetic_shapes(shape):
    X, Y = make_hierarchical_classification(
        600, n_features=12, n_informative=8, random_state=0, **SHAPES[shape]
    )
    clf = tiny_classifier(max_epochs=4, precision="float32").fit(X[:400], Y[:400])
    model = to_onnx(clf)
    outputs = assert_matches(clf, model, X[400:])
    assert list(outputs) == ["labels"] + [f"proba_{i}" for i in range(Y.shape[1])]
    assert outputs["labels"].dtype == object  # an ONNX string tensor


def test_matches_predict_on_imclef07a():
    data = load_imclef07a()
    clf = MultiGranularityClassifier(
        hidden_layer_sizes=(64,), max_epochs=3, precision="float32", random_state=0
    ).fit(data.X_train[:3000], data.y_train[:3000])
    assert clf.coarse_decoding_weight > 0  # the coarse votes are part of the graph
    assert_matches(clf, to_onnx(clf), data.X_test)


def test_saved_file_round_trips(tmp_path, tree_data):
    X, Y = tree_data
    clf = tiny_classifier(max_epochs=3, precision="float32").fit(X, Y)
    path = tmp_path / "model.onnx"
    model = to_onnx(clf, path)
    assert path.stat().st_size > 0
    from_file = assert_matches(clf, str(path), X)
    in_memory = run(model, X.astype(np.float32))
    for name, value in in_memory.items():
        np.testing.assert_array_equal(from_file[name], value)


def test_one_dimensional_integer_y(tree_data):
    X, Y = tree_data
    y = np.searchsorted(np.unique(Y[:, -1]), Y[:, -1]) * 10  # integer labels
    clf = tiny_classifier(max_epochs=3, precision="float32").fit(X, y)
    outputs = assert_matches(clf, to_onnx(clf), X)
    assert list(outputs) == ["labels", "proba"]
    assert outputs["labels"].ndim == 1 and outputs["labels"].dtype == np.int64


def test_repeated_labels_and_dataframes(tree_data):
    """Sub-codes repeat under every parent: one column per label, summed over
    its nodes; a DataFrame's column names name the outputs, and feature names
    raise no warning."""
    X, Y = tree_data
    X = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    Y = pd.DataFrame(sub_codes(Y), columns=["group", "code"])
    clf = tiny_classifier(
        max_epochs=3, precision="float32", coarse_decoding_weight=0.0
    ).fit(X, Y)
    assert clf.hierarchy_.has_repeated_labels
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = to_onnx(clf)
    outputs = assert_matches(clf, model, X)
    assert list(outputs) == ["labels", "proba_group", "proba_code"]
    # predict_node_proba has more columns than predict_proba at level 1.
    assert outputs["proba_code"].shape[1] < clf.predict_node_proba(X)[1].shape[1]


@pytest.mark.parametrize(
    "table, dtype, expected",
    [
        (np.array([["a", "a1"]]), object, [["a", "a1"]]),
        (np.array([[b"a", b"a1"]]), object, [["a", "a1"]]),
        (np.array([[1, 10]], dtype=np.int32), np.int64, [[1, 10]]),
        (np.array([[1, 10]], dtype=object), np.int64, [[1, 10]]),
        (np.array([[0.5, 1.5]]), np.float64, [[0.5, 1.5]]),
        (np.array([[True, False]]), bool, [[True, False]]),
        (np.array([["a", 1]], dtype=object), object, [["a", "1"]]),  # mixed: str
    ],
)
def test_label_table_dtypes(table, dtype, expected):
    from mgclassifier.onnx import _onnx_label_table

    converted = _onnx_label_table(table)
    assert converted.dtype == dtype
    assert converted.tolist() == expected


def test_bfloat16_trained_model_exports_its_float32_prediction(tree_data):
    X, Y = tree_data
    clf = tiny_classifier(max_epochs=2, precision="bfloat16").fit(X, Y)
    assert clf.precision_ == "bfloat16"
    assert_matches(clf, to_onnx(clf), X)


def test_residual_mlp_trunk(tree_data):
    X, Y = tree_data
    clf = tiny_classifier(
        module=ResidualMLP,
        module__width=16,
        module__level_blocks=[0, 1],
        max_epochs=3,
        precision="float32",
    ).fit(X, Y)
    assert_matches(clf, to_onnx(clf), X)


def test_image_trunk_needs_and_takes_example_rows():
    rng = np.random.RandomState(0)
    images = rng.normal(size=(80, 1, 6, 6)).astype(np.float32)
    fine = rng.randint(4, size=80)
    images[np.arange(80), 0, fine, fine] += 3.0
    Y = np.column_stack([np.where(fine < 2, "a", "b"), fine.astype(str)])
    clf = tiny_classifier(
        module=SmallCNN, module__n_filters=4, max_epochs=2, precision="float32"
    ).fit(images, Y)
    with pytest.raises(ValueError, match=r"module SmallCNN failed .*X_sample"):
        to_onnx(clf)  # the default example rows are a flat table
    model = to_onnx(clf, X_sample=images[:3])
    assert_matches(clf, model, images, X_onnx=images)


def test_token_id_trunk_takes_int64_rows():
    rng = np.random.RandomState(0)
    fine = rng.randint(4, size=120)
    tokens = (10 * fine[:, None] + rng.randint(10, size=(120, 7))).astype(np.int32)
    Y = np.column_stack([np.where(fine < 2, "a", "b"), fine.astype(str)])
    clf = tiny_classifier(module=TokenBag, max_epochs=2, precision="float32")
    model = to_onnx(clf.fit(tokens, Y), X_sample=tokens[:2])
    assert session(model).get_inputs()[0].type == "tensor(int64)"
    assert_matches(clf, model, tokens, X_onnx=tokens.astype(np.int64))


def test_trunk_that_cannot_be_exported_is_named(tree_data):
    X, Y = tree_data
    clf = tiny_classifier(module=ValueBranch, max_epochs=1, precision="float32")
    clf.fit(X, Y)
    with pytest.raises(
        ValueError, match="module ValueBranch cannot be exported"
    ) as info:
        to_onnx(clf)
    assert isinstance(info.value.__cause__, torch_onnx_errors.OnnxExporterError)


def test_unfitted_estimator_raises_not_fitted():
    with pytest.raises(NotFittedError):
        to_onnx(MultiGranularityClassifier())


def test_refuses_what_it_does_not_export(tree_data):
    X, Y = tree_data
    clf = tiny_classifier(max_epochs=1, precision="float32").fit(X, Y)
    thresholded = copy.deepcopy(clf).set_params(min_path_probability=0.5)
    with pytest.raises(ValueError, match="min_path_probability=0.5 is not exported"):
        to_onnx(thresholded)
    with pytest.raises(ValueError, match="sparse"):
        to_onnx(clf, X_sample=sp.csr_matrix(X[:2]))


def test_model_fitted_on_sparse_input_exports_for_dense_rows(tree_data):
    # Its first layer is a SparseInputLinear; the exported graph takes the
    # same features as dense rows (one matrix product).
    X, Y = tree_data
    X_sparse = sp.csr_matrix(np.where(np.abs(X) > 1, X, 0.0))
    clf = tiny_classifier(max_epochs=2, precision="float32").fit(X_sparse, Y)
    assert_matches(clf, to_onnx(clf), X_sparse, X_sparse.toarray().astype(np.float32))


@pytest.mark.parametrize(
    "params",
    [
        dict(n_neighbors=5),
        dict(n_neighbors=3, neighbors_weight=1.0, coarse_decoding_weight=0.0),
        dict(n_neighbors=5, n_members=2),
        dict(hidden_layer_sizes=(32, 32), head_layers=[0, 1], n_neighbors=5),
        # Wider than 128 features: the graph projects the rows as the fit did.
        dict(module=ResidualMLP, module__width=160, n_neighbors=5),
    ],
    ids=["votes", "votes alone", "ensemble", "heads at two depths", "projected"],
)
def test_neighbor_votes_are_part_of_the_graph(tree_data, params):
    X, Y = tree_data
    clf = tiny_classifier(max_epochs=3, precision="float32", **params).fit(X, Y)
    clear = rows_clear_of_ties(clf, X)
    assert clear.mean() > 0.9
    outputs = assert_matches(clf, to_onnx(clf), X[clear])
    # The votes moved the probabilities the graph gives.
    network = copy.deepcopy(clf).set_params(n_neighbors=0)
    own = network.predict_proba(X[clear])[-1]
    assert np.abs(outputs["proba_1"] - own).max() > 1e-2
