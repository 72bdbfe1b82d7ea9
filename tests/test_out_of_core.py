"""Training and prediction on out-of-core X: memory maps, h5py, zarr, dask.

A memory map is read row by row in the in-memory order, so its fit is the
in-memory fit bit for bit. The chunked sources (h5py, zarr, dask) shuffle
chunks and rows within blocks: stored as one chunk they give the in-memory
fit exactly; in several chunks they give one model between them (the same
batches, whatever the container) and one as accurate as in memory. Bad input
fails with a ValueError naming the problem (for NaN, the rows of the chunk),
leaving a fitted model as it was; nothing holds a copy of X.
"""

import pickle
import tracemalloc

import numpy as np
import pytest
import torch
from _helpers import TINY_BUDGETS, make_tree_data, tiny_classifier

from mgclassifier._data import _datasets, _out_of_core
from mgclassifier._data._datasets import ChunkedDataset, OutOfCoreDataset
from mgclassifier._data._out_of_core import OutOfCoreArray
from mgclassifier._data._standardisation import (
    chunk_standardisation,
    feature_standardisation,
)

pytestmark = TINY_BUDGETS  # small models, few epochs, on purpose

X, Y = make_tree_data(n_samples=400, n_features=6)
X = X.astype(np.float32)
CHUNKED = ["h5py", "zarr", "dask"]
EXTRA = {
    "h5py": ("h5py", "h5py is optional (mgclassifier[hdf5])"),
    "zarr": ("zarr", "zarr is optional (mgclassifier[zarr])"),
    "dask": ("dask.array", "dask is optional (mgclassifier[distributed])"),
}


def extra(kind):
    """The optional module behind ``kind``, or a skip saying why."""
    name, reason = EXTRA[kind]
    return pytest.importorskip(name, reason=reason)


@pytest.fixture(autouse=True)
def chunk_reads(monkeypatch):
    """Read these small arrays one storage chunk at a time (by default chunks
    under 1 MiB are read a few together)."""
    monkeypatch.setattr(_out_of_core, "MIN_READ_BYTES", 0)


@pytest.fixture
def store(tmp_path, request):
    """``store(kind, X, chunk_rows)``: X as an out-of-core array of that kind."""
    files = []
    request.addfinalizer(lambda: [f.close() for f in files])

    def make(kind, data, chunk_rows=None):
        chunks = (chunk_rows or len(data),) + data.shape[1:]
        path = tmp_path / f"X{len(list(tmp_path.iterdir()))}"
        if kind == "memmap":
            np.save(f"{path}.npy", data)
            return np.load(f"{path}.npy", mmap_mode="r")
        module = extra(kind)
        if kind == "h5py":
            files.append(module.File(f"{path}.h5", "w"))
            return files[-1].create_dataset("X", data=data, chunks=chunks)
        if kind == "zarr":
            array = module.open_array(
                f"{path}.zarr",
                mode="w",
                shape=data.shape,
                chunks=chunks,
                dtype=data.dtype,
            )
            array[:] = data
            return array
        return module.from_array(data, chunks=chunks)

    return make


def state(clf):
    return [t.clone() for t in clf.net_.module_.state_dict().values()]


def assert_same_model(a, b):
    for p, q in zip(state(a), state(b), strict=True):
        assert torch.equal(p, q)
    assert a.temperature_ == b.temperature_
    assert a.history_[:, "train_loss"] == b.history_[:, "train_loss"]
    np.testing.assert_array_equal(a.predict_proba(X)[1], b.predict_proba(X)[1])


# ------------------------------------------------------ same model as memory
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_memmap_fit_is_the_in_memory_fit(store, dtype):
    # Early stopping on (split, validation, calibration) and a float64 file,
    # converted a read at a time as validate_data converts the array.
    data = X.astype(dtype)
    in_memory = tiny_classifier().fit(data, Y)
    mapped = tiny_classifier().fit(store("memmap", data), Y)
    assert_same_model(in_memory, mapped)
    assert mapped.history_[:, "valid_loss"] == in_memory.history_[:, "valid_loss"]
    np.testing.assert_array_equal(
        mapped.predict(store("memmap", data)), in_memory.predict(data)
    )


@pytest.mark.parametrize("kind", CHUNKED)
def test_source_in_one_chunk_is_the_in_memory_fit(store, kind):
    # One chunk is one block: its rows are shuffled as in memory.
    assert_same_model(
        tiny_classifier().fit(X, Y), tiny_classifier().fit(store(kind, X), Y)
    )


def test_chunked_sources_give_one_model_as_good_as_in_memory(store):
    for kind in CHUNKED:
        extra(kind)
    models = [tiny_classifier().fit(store(kind, X, 48), Y) for kind in CHUNKED]
    for other in models[1:]:
        assert_same_model(models[0], other)  # the container does not matter
    # Another row order than in memory (chunks shuffled, then rows within
    # blocks), so another model, but as accurate, and on most rows the same.
    in_memory = tiny_classifier().fit(X, Y)
    X_test, Y_test = make_tree_data(n_samples=400, n_features=6, seed=0)
    assert abs(models[0].score(X_test, Y_test) - in_memory.score(X_test, Y_test)) < 0.05
    agree = models[0].predict(X_test)[:, -1] == in_memory.predict(X_test)[:, -1]
    assert agree.mean() > 0.9
    # Prediction reads the chunks too.
    for kind in CHUNKED:
        np.testing.assert_array_equal(
            models[0].predict(store(kind, X, 48)), models[0].predict(X)
        )


def test_sample_and_class_weights(store):
    weights = np.linspace(0.5, 2.0, len(X))
    params = dict(class_weight="balanced", max_epochs=3)
    in_memory = tiny_classifier(**params).fit(X, Y, sample_weight=weights)
    mapped = tiny_classifier(**params).fit(store("memmap", X), Y, weights)
    assert_same_model(in_memory, mapped)
    chunked = tiny_classifier(**params).fit(store("zarr", X), Y, weights)
    assert_same_model(in_memory, chunked)  # one chunk: the in-memory order


def test_background_reads_do_not_change_the_model(monkeypatch, store):
    # The shuffling draws stay in the main thread, between training steps.
    monkeypatch.setattr(_datasets, "BLOCK_BYTES", 100 * 4 * X.shape[1])
    source = store("dask", X, 48)  # blocks of two or three chunks
    threaded = tiny_classifier(max_epochs=3).fit(source, Y)
    monkeypatch.setattr(ChunkedDataset, "prefetch", False)
    assert_same_model(threaded, tiny_classifier(max_epochs=3).fit(source, Y))


def test_partial_fit_on_a_memmap_chunk(store):
    paths = np.unique(Y, axis=0)
    in_memory = tiny_classifier().partial_fit(X, Y, classes=paths)
    mapped = tiny_classifier().partial_fit(store("memmap", X), Y, classes=paths)
    assert_same_model(in_memory, mapped)
    mapped.partial_fit(store("memmap", X[:100]), Y[:100])
    assert mapped.n_epochs_ == 2


def test_fitted_model_keeps_no_reference_to_the_source(store):
    clf = tiny_classifier(max_epochs=2).fit(store("h5py", X, 64), Y)
    pickle.loads(pickle.dumps(clf))  # an h5py Dataset cannot be pickled


# --------------------------------------------------------- chunked iteration
def test_chunked_epoch_visits_every_row_once_in_full_batches(monkeypatch, store):
    # Blocks of 100 rows out of chunks of 48: a batch may span two blocks.
    monkeypatch.setattr(_datasets, "BLOCK_BYTES", 100 * 4 * X.shape[1])
    source = OutOfCoreArray(store("dask", X, 48))
    codes = np.arange(len(X))[:, None]
    data = ChunkedDataset(source, codes).subset(np.arange(0, len(X), 3))
    rows = np.arange(0, len(X), 3)
    torch.manual_seed(0)
    batches = list(data.iter_batches(32, shuffle=True))
    assert [len(b[0]) for b in batches] == [32] * 4 + [6]
    # The codes here are the rows of X, to see which rows each batch holds.
    seen = np.concatenate([b[1][0].numpy().ravel() for b in batches])
    np.testing.assert_array_equal(np.sort(seen), rows)
    assert not np.array_equal(seen, rows)  # shuffled
    for features, (source_rows, _) in batches:  # each row its own features
        np.testing.assert_array_equal(features.numpy(), X[source_rows.ravel()])
    # Unshuffled: in order, in the in-memory batches.
    ordered = list(data.iter_batches(32, shuffle=False))
    np.testing.assert_array_equal(
        np.concatenate([b[0].numpy() for b in ordered]), X[rows]
    )
    assert [len(b[0]) for b in ordered] == [32] * 4 + [6]


def test_reads_merge_small_chunks_and_split_large_ones(monkeypatch):
    da = extra("dask")
    row = 4 * 4  # bytes of a float32 row of 4 features
    monkeypatch.setattr(_out_of_core, "MIN_READ_BYTES", 100 * row)
    monkeypatch.setattr(_out_of_core, "BLOCK_BYTES", 1000 * row)
    source = da.zeros((5000, 4), chunks=((30,) * 10 + (2500, 2200), 4))
    # 30-row chunks: a read starts at the first boundary from 0, 100, 200, ...
    # The 2500- and 2200-row chunks: three equal pieces each.
    np.testing.assert_array_equal(
        OutOfCoreArray(source).bounds,
        [0, 120, 210, 300, 1133, 1966, 2800, 3533, 4266, 5000],
    )


def test_memmap_dataset_reads_the_rows_asked_for(store):
    data = OutOfCoreDataset(OutOfCoreArray(store("memmap", X)), np.zeros((len(X), 1)))
    subset = data.subset([5, 1, 9])  # kept sorted, as HoldoutSplit gives them
    features, (codes, weight) = subset.__getitems__(torch.tensor([2, 0]))
    np.testing.assert_array_equal(features.numpy(), X[[9, 1]])
    assert weight is None and codes.shape == (2, 1)


# ---------------------------------------------------------------- statistics
def test_chunk_statistics_equal_numpy():
    rng = np.random.RandomState(0)
    # A large mean against the spread, a constant column, ragged chunks.
    data = (1e4 + rng.normal(size=(1000, 3))).astype(np.float32)
    data[:, 2] = 7.0
    bounds = [0, 1, 250, 251, 700, 1000]
    chunks = [(a, b, data[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    mean, scale = chunk_standardisation(chunks, 3, not_finite=None)
    np.testing.assert_allclose(mean, data.mean(0, dtype=np.float64), rtol=1e-7)
    expected = data.std(0, dtype=np.float64)
    expected[2] = 1.0  # constant: not scaled
    np.testing.assert_allclose(scale, expected, rtol=1e-6)
    # One chunk: the in-memory statistics bit for bit.
    one = chunk_standardisation([(0, 1000, data)], 3, not_finite=None)
    in_memory = feature_standardisation(torch.from_numpy(data))
    assert all(torch.equal(a, b) for a, b in zip(one, in_memory))


def test_fit_holds_no_copy_of_X(monkeypatch, store):
    # Small reads and blocks, so that a copy of X would stand out in the peak
    # of the numpy memory traced during fit (the reads are numpy arrays);
    # the labels' stratified split and the validation batches take 1-2 MB.
    data, labels = make_tree_data(n_samples=6000, n_features=256)
    data = data.astype(np.float32)  # 6 MB
    monkeypatch.setattr(_out_of_core, "READ_BYTES", 64 * 1024)
    monkeypatch.setattr(_out_of_core, "BLOCK_BYTES", 128 * 1024)
    monkeypatch.setattr(_datasets, "BLOCK_BYTES", 128 * 1024)
    for kind in ["memmap", "dask"]:
        if kind == "dask":
            extra(kind)
        # One-off costs first: torch's optimizer imports allocate ~64 MB once,
        # dask imports distributed on its first compute.
        tiny_classifier(max_epochs=1).fit(store(kind, data[:100], 50), labels[:100])
        source = store(kind, data, 256)
        tracemalloc.start()
        tiny_classifier(max_epochs=1, batch_size=256).fit(source, labels)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < data.nbytes / 2, (kind, peak, data.nbytes)


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize("kind", ["memmap", *CHUNKED])
def test_nan_in_a_chunk_names_its_rows_and_leaves_the_model(store, kind):
    clf = tiny_classifier(max_epochs=3).fit(X, Y)
    before, history = state(clf), len(clf.history_)
    bad = X.copy()
    bad[300, 2] = np.nan
    source = store(kind, bad, 64)
    # A memory map is read 65,536 rows at a time (here all 400).
    rows = "0:400" if kind == "memmap" else "256:320"
    message = f"NaN or infinity in row 300 \\(in the chunk of rows {rows} of the"
    with pytest.raises(ValueError, match=message):
        clf.fit(source, Y)
    assert all(torch.equal(p, q) for p, q in zip(before, state(clf)))
    assert len(clf.history_) == history
    with pytest.raises(ValueError, match=message):
        clf.predict(source)  # prediction checks each chunk it reads


def test_infinity_after_conversion_to_float32(store):
    bad = X.astype(np.float64)
    bad[5, 0] = 1e300  # finite as float64, infinite as float32
    with pytest.raises(ValueError, match="NaN or infinity in row 5 "):
        tiny_classifier().fit(store("memmap", bad), Y)


@pytest.mark.parametrize(
    "data, message",
    [
        (np.zeros(400, dtype=np.float32), r"must be 2-D .* shape \(400,\)"),
        (np.zeros((400, 2, 3), dtype=np.float32), r"must be 2-D .* \(400, 2, 3\)"),
        (np.full((400, 6), "a", dtype="U3"), "must hold numbers .* dtype <U3"),
        (np.zeros((400, 6), dtype=np.complex64), "must hold numbers"),
    ],
)
def test_wrong_shape_or_dtype(store, data, message):
    clf = tiny_classifier(max_epochs=2).fit(X, Y)
    before = state(clf)
    with pytest.raises(ValueError, match=message):
        clf.fit(store("memmap", data), Y)
    assert all(torch.equal(p, q) for p, q in zip(before, state(clf)))


def test_object_dask_array_is_refused_unread(store):
    da = extra("dask")
    source = da.from_array(X.astype(object), chunks=(64, 6))
    with pytest.raises(ValueError, match="must hold numbers .* dtype object"):
        tiny_classifier().fit(source, Y)


def test_dask_array_of_unknown_chunk_sizes_is_refused():
    da = extra("dask")
    source = da.from_array(X, chunks=(64, 6))
    masked = source[da.from_array(X[:, 0] > 0, chunks=64)]  # rows unknown
    with pytest.raises(ValueError, match="unknown chunk sizes.*compute_chunk_sizes"):
        tiny_classifier().fit(masked, Y[X[:, 0] > 0])


def test_nan_in_the_first_rows_is_named_too(store):
    bad = X.copy()
    bad[1, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity in row 1 "):
        tiny_classifier().fit(store("memmap", bad), Y)


def test_feature_count_and_sample_count_use_sklearn_messages(store):
    clf = tiny_classifier(max_epochs=2).fit(X, Y)
    with pytest.raises(ValueError, match="has 5 features, but"):
        clf.predict(store("memmap", X[:, :5]))
    with pytest.raises(ValueError, match="minimum of 2 is required"):
        tiny_classifier().fit(store("memmap", X[:1]), Y[:1])


def test_custom_trunk_reads_the_array_into_memory(store):
    # As before out-of-core support: a custom trunk gets a copy in memory
    # (joblib's read-only memory maps in a parallel search, say).
    from mgclassifier.trunks import ResidualMLP

    params = dict(module=ResidualMLP, max_epochs=2)
    assert_same_model(
        tiny_classifier(**params).fit(X, Y),
        tiny_classifier(**params).fit(store("memmap", X), Y),
    )
