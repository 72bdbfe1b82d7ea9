"""The prediction engine: exact best paths, the formula written out, its CPU
kernels equal to torch's, and chunked prediction equal to the whole
computation."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from _helpers import assert_coherent, make_tree_data, sub_codes, tiny_classifier
from scipy.special import log_softmax, softmax
from torch import nn

from mgclassifier._data._datasets import sparse_rows_to_torch
from mgclassifier._hierarchy import LabelHierarchy
from mgclassifier._network._module import MultiHeadMLP, TrunkWithHeads, affine_parts
from mgclassifier._prediction import _predict
from mgclassifier._prediction._engine import PredictionEngine


def random_tree(seed, repeated):
    """A random 3-level hierarchy; with ``repeated``, labels under several parents."""
    rng = np.random.RandomState(seed)
    branching = tuple(rng.randint(2, 5, size=3))
    _, Y = make_tree_data(n_samples=400, branching=branching, seed=seed)
    return LabelHierarchy.from_labels(sub_codes(Y) if repeated else Y)[0]


def reference_path_proba(tree, logits, coarse_weight, temperature):
    """Each path's probability written out over the whole (n_rows, n_paths)
    matrix: the finest log-softmax of the leaf plus ``coarse_weight`` times the
    coarse log-softmaxes of its ancestors, divided by the temperature."""
    blocks = np.split(logits, np.cumsum(tree.n_nodes)[:-1], axis=1)
    scores = log_softmax(blocks[-1], axis=1)
    for level, block in enumerate(blocks[:-1]):
        scores = (
            scores + coarse_weight * log_softmax(block, axis=1)[:, tree.paths[:, level]]
        )
    return softmax(scores / temperature, axis=1)


CASES = [
    (seed, repeated, weight)
    for seed, repeated in [(0, False), (1, True), (2, True)]
    for weight in (0.0, 0.25, 1.0)
]


@pytest.mark.parametrize(("seed", "repeated", "coarse_weight"), CASES)
def test_engine_gives_the_reference_probabilities(seed, repeated, coarse_weight):
    tree = random_tree(seed, repeated)
    assert tree.has_repeated_labels == repeated
    logits = np.random.RandomState(seed).normal(scale=3, size=(50, sum(tree.n_nodes)))
    expected = reference_path_proba(tree, logits, coarse_weight, 0.7)
    engine = PredictionEngine(tree, coarse_weight, temperature=0.7).double()
    scores = engine.path_scores(torch.tensor(logits))
    # The best path is the best of the reference's probabilities.
    np.testing.assert_array_equal(scores.argmax(1).numpy(), expected.argmax(1))
    leaf, *labels = engine(torch.tensor(logits))
    np.testing.assert_array_equal(leaf.numpy(), expected.argmax(1))
    nodes = engine.node_proba(engine.path_proba(scores.clone()))
    np.testing.assert_allclose(nodes[-1].numpy(), expected, rtol=1e-9, atol=1e-12)
    # The CPU kernel of the child sums (numpy's) gives torch's index_add_.
    traced = engine.node_proba(engine.path_proba(scores.clone()), cpu_kernels=False)
    for got, want in zip(nodes, traced):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-15)
    assert_coherent([p.numpy() for p in nodes], tree.parents)
    by_kernel = engine.label_proba(nodes)
    for level, (got, want) in enumerate(zip(labels, by_kernel)):
        assert want.shape == (50, len(tree.classes[level]))
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-15)
        # A label's probability is the sum of the nodes that carry it.
        summed = (
            nodes[level].numpy()
            @ np.eye(len(tree.classes[level]))[tree.label_index[level]]
        )
        np.testing.assert_allclose(want.numpy(), summed, rtol=1e-12, atol=1e-15)
    best = scores.argmax(1)
    prefix = engine.prefix_proba(nodes, best).numpy()
    path = tree.paths[best.numpy()]
    rows = np.arange(len(path))
    np.testing.assert_array_equal(
        prefix,
        np.column_stack([p.numpy()[rows, path[:, i]] for i, p in enumerate(nodes)]),
    )


def test_a_member_axis_passes_through_the_scores():
    # Scores are read along the last axis: logits of k ensemble members,
    # (n, k, n_logits), give each member's path scores and softmax.
    tree = random_tree(1, True)
    engine = PredictionEngine(tree, 0.5).double()
    logits = torch.tensor(
        np.random.RandomState(0).normal(size=(6, 3, sum(tree.n_nodes)))
    )
    scores = engine.path_scores(logits)
    assert scores.shape == (6, 3, tree.n_nodes[-1])
    for member in range(3):
        torch.testing.assert_close(
            scores[:, member], engine.path_scores(logits[:, member])
        )
    # The members vote with probabilities: path_proba averages theirs.
    members = [engine.path_proba(engine.path_scores(logits[:, k])) for k in range(3)]
    torch.testing.assert_close(
        engine.path_proba(scores.clone()), torch.stack(members).mean(dim=0)
    )


def test_only_the_scored_logits_are_read():
    tree = random_tree(0, False)
    logits = torch.tensor(np.random.RandomState(0).normal(size=(5, sum(tree.n_nodes))))
    for weight in (0.0, 0.5):
        engine = PredictionEngine(tree, weight)
        whole = engine.path_scores(logits)
        torch.testing.assert_close(
            engine.path_scores(logits[:, engine.scored_columns]), whole
        )
    assert engine.scored_sizes == tuple(tree.n_nodes)
    assert PredictionEngine(tree, 0.0).scored_sizes == (tree.n_nodes[-1],)


def _module_and_rows(kind, tree, rng):
    """A randomly initialised network of ``kind`` for ``tree`` and rows for it."""
    torch.manual_seed(0)
    X = rng.normal(size=(30, 7)).astype(np.float32)
    if kind == "custom trunk":
        trunk = nn.Sequential(nn.Linear(7, 6), nn.Tanh())
        return TrunkWithHeads(trunk, tree.n_nodes, feature_width=6), X
    module = MultiHeadMLP(
        7, tree.n_nodes, hidden_layer_sizes=(12, 8), sparse_input=kind == "sparse"
    )
    if kind == "sparse":
        X[rng.uniform(size=X.shape) < 0.7] = 0
    return module, X


@pytest.mark.parametrize("kind", ["dense", "sparse", "custom trunk"])
@pytest.mark.parametrize(("seed", "repeated", "coarse_weight"), CASES[::2])
def test_folded_heads_give_the_path_scores_of_the_logits(
    kind, seed, repeated, coarse_weight
):
    # The coarse votes folded into the heads: path scores straight from the
    # features, equal to the scores summed from every level's logits.
    tree = random_tree(seed, repeated)
    module, X = _module_and_rows(kind, tree, np.random.RandomState(seed))
    module.eval()
    engine = PredictionEngine(tree, coarse_weight, temperature=0.7)
    weight, bias = engine.fold(*affine_parts(module.fused_heads))
    rows = sparse_rows_to_torch(sp.csr_matrix(X), "cpu") if kind == "sparse" else None
    with torch.inference_mode():
        inputs = torch.from_numpy(X) if rows is None else rows
        features = module.features(inputs)
        expected = engine.path_scores(module(inputs)[:, engine.scored_columns])
        folded = torch.addmm(bias, features, weight)
        # The CPU kernel of the products (numpy's BLAS), the network's too.
        blas = _predict.NumpyBlas((weight, bias))
        on_numpy = blas.folded_scores(features, torch.empty_like(expected))
        by_numpy = module(inputs, blas)
    assert folded.shape == (len(X), tree.n_nodes[-1])
    torch.testing.assert_close(folded, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(on_numpy, folded, rtol=1e-6, atol=1e-6)
    with torch.inference_mode():
        torch.testing.assert_close(by_numpy, module(inputs), rtol=1e-6, atol=1e-6)


def test_heads_on_several_inputs_are_not_folded():
    # Heads at several depths, or one per level of a trunk's outputs, read
    # different features: their scores still come from the logits.
    tree = random_tree(0, False)
    depths = MultiHeadMLP(
        5, tree.n_nodes, hidden_layer_sizes=(6, 4), head_layers=(0, 1, 1)
    )
    linear = MultiHeadMLP(5, tree.n_nodes, hidden_layer_sizes=())
    assert depths.fused_heads is None and linear.fused_heads is None
    per_level = TrunkWithHeads(nn.Identity(), tree.n_nodes, feature_width=(5, 5, 5))
    assert per_level.fused_heads is None
    assert (
        MultiHeadMLP(5, tree.n_nodes, hidden_layer_sizes=(6,)).fused_heads is not None
    )


@pytest.fixture(scope="module", params=[False, True], ids=["unique", "repeated"])
def fitted(request):
    X, Y = make_tree_data(n_samples=500, branching=(3, 4, 3), seed=3)
    if request.param:
        Y = sub_codes(Y)
    clf = tiny_classifier(max_epochs=5).fit(X, Y)
    return clf, X


@pytest.mark.parametrize("coarse_weight", [0.0, 0.25, 1.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predict_is_the_argmax_of_the_path_probabilities(fitted, coarse_weight, dtype):
    clf, X = fitted
    clf.set_params(coarse_decoding_weight=coarse_weight)
    X = X.astype(dtype)
    leaf_proba = clf.predict_node_proba(X)[-1]
    expected = clf.hierarchy_.decode_leaves(leaf_proba.argmax(axis=1))
    np.testing.assert_array_equal(clf.predict(X), expected)
    clf.set_params(coarse_decoding_weight=0.25)


# How far a row's probabilities may move with the other rows of the call: a
# matrix product's rounding depends on its shape (BLAS blocks and vectorises
# its sums by shape; on a 2-core AVX2 machine with OpenBLAS float32
# probabilities moved by up to 1.8e-7). float32 rows run a float32 network,
# whose unit roundoff is 6e-8: 2e-6 allows a few dozen roundings of the
# trunk's sums. float64 rows run a float64 network: the same count of
# roundings of 1.1e-16 stays far below 1e-12.
ROW_TOLERANCE = {np.float32: 2e-6, np.float64: 1e-12}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_row_gets_the_same_probabilities_alone(fitted, dtype):
    clf, X = fitted
    X = X[:30].astype(dtype)
    whole = clf.predict_node_proba(X)
    for i in (0, 7, 29):
        alone = clf.predict_node_proba(X[i : i + 1])
        for got, want in zip(alone, whole):
            np.testing.assert_allclose(
                got[0], want[i], rtol=0, atol=ROW_TOLERANCE[dtype]
            )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("min_probability", [None, 0.6])
def test_chunks_give_the_answers_of_one_chunk(
    fitted, monkeypatch, min_probability, dtype
):
    # float32 input: each chunk's leaf softmax is written straight into the
    # returned array (unless the finest labels repeat).
    clf, X = fitted
    X = X.astype(dtype)
    clf.set_params(min_path_probability=min_probability)
    whole = clf.predict(X), clf.predict_proba(X), clf.predict_node_proba(X)
    # Chunks of 128 rows: the last one is cut short, and the score buffer is
    # reused from chunk to chunk.
    monkeypatch.setattr(_predict, "CPU_CHUNK_ELEMENTS", 1)
    chunked = clf.predict(X), clf.predict_proba(X), clf.predict_node_proba(X)
    clf.set_params(min_path_probability=None)
    # BLAS promises no bit equality across calls of different row counts
    # (see ROW_TOLERANCE).
    for got, want in zip([*chunked[1], *chunked[2]], [*whole[1], *whole[2]]):
        np.testing.assert_allclose(got, want, rtol=0, atol=ROW_TOLERANCE[dtype])
    # The labels agree wherever the choice is not a near-tie at that scale:
    # the best leaf wins by more than 1e-5, and no node of its path is within
    # 1e-5 of the threshold.
    leaf_proba = np.sort(whole[2][-1], axis=1)
    clear = leaf_proba[:, -1] - leaf_proba[:, -2] > 1e-5
    if min_probability is not None:
        for level_proba in whole[2]:
            clear &= np.all(np.abs(level_proba - min_probability) > 1e-5, axis=1)
    assert clear.mean() > 0.9  # the check below covers most rows
    np.testing.assert_array_equal(chunked[0][clear], whole[0][clear])


def test_the_predictor_is_rebuilt_for_new_parameters_and_not_pickled(fitted):
    clf, X = fitted
    predictor = clf._predictor()
    assert clf._predictor() is predictor  # built once, at the end of fit
    clf.predict(X.astype(np.float64))
    network, folded, _ = predictor.scoring(torch.float64)
    assert network.heads.weight.dtype == torch.float64  # a float64 copy, kept
    assert folded is not None  # the coarse votes folded into the heads
    assert predictor.scoring(torch.float64)[0] is network
    assert predictor.scoring(torch.float32)[0] is clf.net_.module_
    state = pickle.dumps(clf)
    assert b"PredictionEngine" not in state and b"Predictor" not in state
    loaded = pickle.loads(state)
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    clf.set_params(coarse_decoding_weight=2.0)
    heavy = clf._predictor()
    assert heavy is not predictor and heavy.engine.coarse_weight == 2.0
    clf.set_params(coarse_decoding_weight=0.25)


@pytest.mark.parametrize("coarse_weight", [0.0, 0.25])
def test_no_array_as_large_as_the_path_scores_beyond_the_result(
    monkeypatch, coarse_weight
):
    # numpy's allocations are traced: predict makes no (rows, paths) array
    # at all, predict_proba none beyond the float32 arrays it returns (a
    # float64 copy of the leaf probabilities alone would double them).
    tracemalloc = pytest.importorskip("tracemalloc")
    X, Y = make_tree_data(n_samples=2000, branching=(4, 8, 8), seed=4)
    clf = tiny_classifier(max_epochs=1, coarse_decoding_weight=coarse_weight)
    clf.fit(X, Y)
    monkeypatch.setattr(_predict, "CPU_CHUNK_ELEMENTS", 2**14)
    X = np.tile(X, (2, 1)).astype(np.float32)
    clf.predict(X[:200])  # the engine is built before tracing
    leaf_bytes = 4 * len(X) * clf.hierarchy_.n_nodes[-1]
    result_bytes = 4 * len(X) * sum(len(c) for c in clf.hierarchy_.classes)
    peaks = {}
    for method in ("predict", "predict_proba"):
        tracemalloc.start()
        getattr(clf, method)(X)
        peaks[method] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peaks["predict"] < leaf_bytes / 2
    assert peaks["predict_proba"] < result_bytes + leaf_bytes / 2


def test_torch_steps_after_numpys_products_run_on_one_thread(fitted, monkeypatch):
    # numpy's BLAS threads spin after each product; torch's steps on those
    # chunks run on one thread, and torch's setting comes back afterwards. A
    # call too small for torch to use threads leaves the setting alone.
    clf, X = fitted
    X = np.tile(X, (4, 1))
    assert len(X) * clf.hierarchy_.n_nodes[-1] > _predict.GRAIN_SIZE
    # torch's setting as it is (n_threads="auto" would follow the load).
    monkeypatch.setattr(clf, "n_threads", None)
    engine, seen = clf._predictor().engine, []
    path_proba = engine.path_proba

    def recording(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return path_proba(*args, **kwargs)

    monkeypatch.setattr(engine, "path_proba", recording)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        clf.predict_proba(X.astype(np.float32))
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2
        seen.clear()
        clf.predict_proba(X[:1].astype(np.float32))
        assert seen == [2]
    finally:
        torch.set_num_threads(before)
