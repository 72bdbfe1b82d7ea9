"""Out-of-core feature arrays: recognised, validated and read a chunk at a time.

``fit`` and ``predict`` accept a 2-D array that lives outside the process's
memory: a numpy memory map (``np.load(path, mmap_mode="r")``), an ``h5py``
dataset, a ``zarr`` array or a ``dask.array`` (computed chunk by chunk, so
its source may be a cluster's storage). :class:`OutOfCoreArray` wraps one and
reads rows as float32 numpy arrays; nothing reads the whole array at once.
:func:`check_out_of_core` validates it in one pass over its chunks that also
computes the standardisation statistics (:func:`chunk_standardisation`).
h5py, zarr and dask are optional: an object is recognised by the module it
comes from, which is then already imported.
"""

import sys

import numpy as np
from sklearn.utils.validation import validate_data

from ._standardisation import chunk_standardisation

READ_BYTES = 32 * 2**20
"""Size of one read of a source without storage chunks (a memory map, a
contiguous HDF5 dataset): 65,536 rows of 128 float32 features."""

READ_MAX_ROWS = 65_536
"""At most this many rows per read of such a source (the in-memory
statistics sum blocks of this many rows too)."""

MIN_READ_BYTES = 2**20
"""Storage chunks smaller than this are read (and shuffled) a few together."""

BLOCK_BYTES = 64 * 2**20
"""Size of the blocks of rows shuffled together (``_datasets``); a
storage chunk larger than this is read in several pieces."""


def is_out_of_core(X):
    """Whether ``X`` is an array this module reads chunk by chunk.

    A numpy memory map, an ``h5py.Dataset``, a ``zarr.Array`` or a
    ``dask.array.Array``; h5py, zarr and dask are looked up among the
    imported modules, never imported here.

    Examples
    --------
    >>> import numpy as np
    >>> is_out_of_core(np.zeros((2, 3)))
    False
    """
    return _kind(X) is not None


def _kind(X):
    """Name of the out-of-core container ``X`` is, or None."""
    if isinstance(X, np.memmap):
        return "numpy memmap"
    for module, attribute, name in (
        ("h5py", "Dataset", "h5py Dataset"),
        ("zarr", "Array", "zarr Array"),
        ("dask.array", "Array", "dask array"),
    ):
        cls = getattr(sys.modules.get(module), attribute, None)
        if cls is not None and isinstance(X, cls):
            return name
    return None


class OutOfCoreArray:
    """Rows of an out-of-core 2-D array, read on demand as float32 numpy.

    Indexing with a slice or an integer array reads just those rows. Reads
    follow the source's storage chunks (:attr:`bounds`): chunks under
    ``MIN_READ_BYTES`` are read a few together, chunks over ``BLOCK_BYTES``
    in pieces; a source without chunks is read in pieces of ``READ_BYTES``.

    Parameters
    ----------
    data : numpy.memmap, h5py.Dataset, zarr.Array or dask.array.Array
        A 2-D array of numbers (checked by :func:`check_out_of_core`).
    check_finite : bool, default=False
        Raise a ValueError naming the rows when a read finds NaN or
        infinity (prediction checks this way; ``fit`` checks every row once,
        in :func:`check_out_of_core`).

    Attributes
    ----------
    kind : str
        What ``data`` is ("numpy memmap", "h5py Dataset", "zarr Array",
        "dask array").
    random_access : bool
        Whether any set of rows reads as cheaply as a contiguous range (a
        memory map, through the page cache); training then draws batches
        from all rows, as in memory.
    bounds : ndarray of int
        Row boundaries of the reads, from 0 to ``n_samples``.
    standardisation : tuple of two float32 tensors or None
        Per-feature ``(mean, scale)``, once ``check_out_of_core`` computed it.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "X.npy")
    >>> np.save(path, np.arange(12.0).reshape(6, 2))
    >>> X = OutOfCoreArray(np.load(path, mmap_mode="r"))
    >>> X.shape, X[1:3].dtype
    ((6, 2), dtype('float32'))
    >>> X[np.array([4, 0])].tolist()
    [[8.0, 9.0], [0.0, 1.0]]
    """

    ndim = 2
    dtype = np.dtype(np.float32)

    def __init__(self, data, check_finite=False):
        self.data = data
        self.kind = _kind(data)
        self.shape = tuple(int(size) for size in data.shape)
        self.check_finite = check_finite
        self.random_access = isinstance(data, np.memmap)
        self.bounds = self._read_bounds()
        self.standardisation = None

    def __len__(self):
        return self.shape[0]

    def is_floating_point(self):
        """True, as for a float tensor: ``build_net`` asks its X this."""
        return True

    def _storage_bounds(self):
        """Row boundaries of the source's storage chunks, or None."""
        n = self.shape[0]
        if self.kind == "dask array":
            return np.concatenate([[0], np.cumsum(self.data.chunks[0])])
        chunks = None
        if self.kind == "zarr Array":
            chunks = getattr(self.data, "shards", None) or self.data.chunks
        elif self.kind == "h5py Dataset":
            chunks = self.data.chunks  # None when stored contiguously
        if chunks is None:
            return None
        return np.r_[np.arange(0, n, max(1, int(chunks[0]))), n]

    def _read_bounds(self):
        n, row_bytes = self.shape[0], 4 * max(1, self.shape[1])
        storage = self._storage_bounds()
        if storage is None:
            step = max(1, min(READ_MAX_ROWS, READ_BYTES // row_bytes))
            return np.r_[np.arange(0, n, step), n].astype(np.int64)
        # Small storage chunks are read several at a time (one call each, not
        # one per chunk); a read starts at the first chunk boundary past each
        # multiple of MIN_READ_BYTES.
        step = max(1, MIN_READ_BYTES // row_bytes)
        starts = storage[np.searchsorted(storage, np.arange(0, n, step))]
        storage = np.r_[np.unique(starts[starts < n]), n].astype(np.int64)
        # Storage chunks larger than a block are read in equal pieces.
        largest = max(1, BLOCK_BYTES // row_bytes)
        bounds = [0]
        for start, stop in zip(storage[:-1], storage[1:]):
            pieces = -(-(stop - start) // largest)
            bounds += [
                start + (stop - start) * (i + 1) // pieces for i in range(pieces)
            ]
        return np.asarray(bounds, dtype=np.int64)

    def read(self, start, stop):
        """Rows ``start:stop`` as a float32 array of their own."""
        rows = self.data[start:stop]
        if self.kind == "dask array":
            rows = rows.compute()
        # np.array copies a memory map's pages into the process (as every
        # other source's read does); torch never wraps the read-only map. Too
        # large a float64 becomes inf, which the check below reports.
        with np.errstate(over="ignore"):
            # (np.array(..., copy=None) would say it, but numpy 1.x refuses it.)
            convert = np.array if self.random_access else np.asarray
            rows = convert(rows, dtype=np.float32)
        if self.check_finite:
            self._check_finite(rows, start)
        return rows

    def take(self, rows):
        """The given rows (any order, repeats allowed) as a float32 array."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.random_access:
            with np.errstate(over="ignore"):
                out = np.asarray(self.data)[rows].astype(np.float32, copy=False)
            if self.check_finite:
                self._check_finite(out, rows)
            return out
        # Each read covers one chunk's share of the rows, in sorted order.
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        out = np.empty((len(rows), self.shape[1]), dtype=np.float32)
        ends = np.searchsorted(ordered, self.bounds[1:])
        begin = 0
        for end in ends:
            if end > begin:
                first, last = int(ordered[begin]), int(ordered[end - 1])
                out[order[begin:end]] = self.read(first, last + 1)[
                    ordered[begin:end] - first
                ]
            begin = end
        return out

    def __getitem__(self, key):
        if isinstance(key, slice) and key.step in (None, 1):
            start, stop, _ = key.indices(self.shape[0])
            return self.read(start, max(start, stop))
        key = np.asarray(key)
        if key.ndim == 1 and key.dtype.kind in "iu":
            return self.take(key)
        raise TypeError(
            f"An out-of-core X is indexed by a row slice or an integer array, "
            f"not {type(key).__name__}."
        )

    def _check_finite(self, values, rows):
        """Fail on NaN or infinity in ``values``: the rows ``rows`` of X (an
        integer array, or the first row of a range)."""
        if not np.isfinite(values.sum(dtype=np.float64)):
            bad = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
            row = int(rows[bad]) if np.ndim(rows) else rows + bad
            unit = np.searchsorted(self.bounds, row, side="right") - 1
            _not_finite(row, self.bounds[unit], self.bounds[unit + 1], self.kind)

    def chunks(self):
        """``(start, stop, rows)`` for every read, in row order."""
        for start, stop in zip(self.bounds[:-1], self.bounds[1:]):
            yield int(start), int(stop), self.read(int(start), int(stop))


def _not_finite(row, start, stop, kind):
    raise ValueError(
        f"Input X contains NaN or infinity in row {row} (in the chunk of rows "
        f"{start}:{stop} of the {kind}); out-of-core X must be finite (as "
        f"float32)."
    )


def check_out_of_core(estimator, X, *, reset, fit):
    """Validate an out-of-core ``X`` for ``estimator``; an :class:`OutOfCoreArray`.

    Checks the shape and dtype without reading the data, then the feature
    count (``validate_data`` on the first two rows, which also sets
    ``n_features_in_`` when ``reset``). With ``fit`` it reads every chunk
    once, checking that it is finite and computing the standardisation
    statistics; for prediction each chunk is checked as it is read.

    Raises
    ------
    ValueError
        For an array that is not 2-D, holds no numbers, has too few samples
        or the wrong number of features, or has NaN or infinity in a chunk
        (the message names the row and the chunk's rows).
    """
    kind = _kind(X)
    shape = tuple(X.shape)
    if len(shape) != 2:
        raise ValueError(
            f"Out-of-core X must be 2-D (n_samples, n_features); got a {kind} of "
            f"shape {shape}."
        )
    if any(not np.isfinite(size) for size in shape):
        raise ValueError(
            f"The dask array X has unknown chunk sizes (shape {shape}); call "
            f"X.compute_chunk_sizes() first."
        )
    dtype = np.dtype(X.dtype)
    if dtype.kind not in "biuf":
        raise ValueError(
            f"Out-of-core X must hold numbers (float, integer or bool); got a "
            f"{kind} of dtype {dtype}."
        )
    array = OutOfCoreArray(X, check_finite=not fit)
    # sklearn's checks and messages for the sample and feature counts (the
    # values are checked below, with the rows named).
    validate_data(
        estimator,
        array[:2],
        dtype=np.float32,
        ensure_all_finite=False,
        ensure_min_samples=2 if fit else 1,
        reset=reset,
    )
    if fit:
        array.standardisation = chunk_standardisation(
            array.chunks(),
            shape[1],
            not_finite=lambda row, start, stop: _not_finite(row, start, stop, kind),
        )
    return array
