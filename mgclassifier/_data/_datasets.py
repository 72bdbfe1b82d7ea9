"""Datasets: the training rows as tensors, in memory or read from an
out-of-core array one block of rows at a time.

An in-memory ``X`` is converted to tensors once (:class:`ArrayDataset`, on
the training device when it is a dense array); a sparse CSR ``X`` stays
sparse, and each batch becomes a torch sparse CSR tensor whose non-zeros
the network's first layer reads. For an out-of-core ``X`` the labels,
sample weights and row indices stay in memory (they are small); the
features are read from an :class:`~mgclassifier._data._out_of_core.OutOfCoreArray`
as each batch needs them, so no copy of ``X`` is ever made:

- a memory map (random access): :class:`OutOfCoreDataset` serves any rows,
  and :class:`~mgclassifier._data._batches.BatchIterator` draws batches from
  all rows in its usual order, so training sees the batches it would see in
  memory;
- an h5py dataset, a zarr array or a dask array, read a chunk at a time:
  :class:`ChunkedDataset` shuffles the order of the chunks, reads them in
  blocks of about ``BLOCK_BYTES``, shuffles the rows within each block and
  cuts batches from that stream (the next block is read in a background
  thread while the current one trains). A source stored as one chunk is
  therefore read in exactly the in-memory order.
"""

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
import torch

from ._out_of_core import BLOCK_BYTES, OutOfCoreArray
from ._standardisation import input_standardisation


class ArrayDataset(torch.utils.data.Dataset):
    """Features, per-level class codes and optional sample weights.

    Parameters
    ----------
    X : ndarray, tensor or scipy CSR matrix of shape (n_samples, n_features)
    codes : ndarray or tensor of shape (n_samples, n_levels)
        Class index per level (-1 where missing).
    sample_weight : ndarray or tensor of shape (n_samples,), default=None
    device : str or torch.device, default="cpu"
        Where dense features and targets are held.
    """

    def __init__(self, X, codes, sample_weight=None, device="cpu"):
        self.device = torch.device(device)
        self.X = X if sp.issparse(X) else torch.as_tensor(X, device=self.device)
        self._hold_targets(codes, sample_weight)

    def _hold_targets(self, codes, sample_weight):
        """Codes and weights as tensors on ``self.device``."""
        self.codes = torch.as_tensor(codes, dtype=torch.long, device=self.device)
        self.sample_weight = (
            None
            if sample_weight is None
            else torch.as_tensor(sample_weight, dtype=torch.float32, device=self.device)
        )

    def __len__(self):
        return self.codes.shape[0]

    def __getitem__(self, index):
        return self.__getitems__([index])

    def __getitems__(self, indices):
        """One batch ``(X, (codes, sample_weight))`` for the given rows."""
        index = torch.as_tensor(indices, device=self.device)
        return self.features(index), self.targets(index)

    def targets(self, index):
        """``(codes, sample_weight)`` of the rows at ``index`` (a tensor)."""
        # index_select: several times cheaper than advanced indexing here.
        weight = (
            None
            if self.sample_weight is None
            else self.sample_weight.index_select(0, index)
        )
        return self.codes.index_select(0, index), weight

    def features(self, index):
        """Feature rows on the device: dense, or a sparse CSR tensor."""
        if sp.issparse(self.X):
            return sparse_rows_to_torch(self.X[index.cpu().numpy()], self.device)
        return self.X.index_select(0, index)

    def subset(self, indices):
        """A new dataset holding only ``indices`` (one copy, made once)."""
        index = torch.as_tensor(indices, device=self.device)
        X = self.X[np.asarray(indices)] if sp.issparse(self.X) else self.X[index]
        weight = None if self.sample_weight is None else self.sample_weight[index]
        return ArrayDataset(X, self.codes[index], weight, self.device)


def sparse_rows_to_torch(rows, device):
    """A scipy sparse matrix as a torch sparse CSR tensor (never densified).

    The module's first layer sums the weight rows of each row's non-zero
    columns (``_module.sparse_rows_times``), so a TF-IDF matrix with 200,000
    columns costs memory per non-zero only.
    """
    rows = rows.tocsr()  # no copy for CSR
    tensor = sparse_csr_batch(
        torch.from_numpy(rows.indptr.astype(np.int64)),
        torch.from_numpy(rows.indices.astype(np.int64)),
        torch.from_numpy(rows.data.astype(np.float32, copy=False)),
        rows.shape,
    )
    return tensor.to(device)


def sparse_csr_batch(crow_indices, col_indices, values, shape):
    """A torch CSR tensor from its parts, without torch's beta-feature warning.

    torch warns once per process that sparse CSR support is in beta; the
    operations used here (``col_indices``, ``crow_indices``, ``values``,
    ``to``) are its stable core, so the warning would only alarm users.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            crow_indices, col_indices, values, shape, check_invariants=False
        )


class OutOfCoreDataset(ArrayDataset):
    """Per-level class codes and sample weights, and the rows of an out-of-core X.

    An :class:`ArrayDataset` (the same batches
    ``(X, (codes, sample_weight))``) whose features are read from ``X`` when
    a batch is drawn. :meth:`subset` keeps row indices, not rows.

    Parameters
    ----------
    X : OutOfCoreArray
    codes : ndarray or tensor of shape (n_samples, n_levels)
        Class index per level (-1 where missing), one row per row of this
        dataset.
    sample_weight : ndarray or tensor of shape (n_samples,), default=None
    device : str or torch.device, default="cpu"
        Where batches, codes and weights are held.
    rows : ndarray of int, default=None
        The rows of ``X`` this dataset holds, increasing; None: all of them.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from mgclassifier._data._out_of_core import OutOfCoreArray
    >>> path = os.path.join(tempfile.mkdtemp(), "X.npy")
    >>> np.save(path, np.arange(8.0).reshape(4, 2))
    >>> data = OutOfCoreDataset(OutOfCoreArray(np.load(path, mmap_mode="r")),
    ...                         np.array([[0], [1], [0], [1]]))
    >>> X, (codes, weight) = data.subset([1, 3]).__getitems__([1, 0])
    >>> X.tolist(), codes.ravel().tolist(), weight
    ([[6.0, 7.0], [2.0, 3.0]], [1, 1], None)
    """

    def __init__(self, X, codes, sample_weight=None, device="cpu", rows=None):
        self.X = X  # not ArrayDataset's: nothing is read here
        self.rows = rows
        self.device = torch.device(device)
        self._hold_targets(codes, sample_weight)

    def features(self, index):
        """The feature rows at the given positions, read from ``X``."""
        positions = index.cpu().numpy()
        rows = positions if self.rows is None else self.rows[positions]
        return torch.from_numpy(self.X.take(rows)).to(self.device)

    def subset(self, indices):
        """A dataset of the rows at ``indices`` (sorted), sharing ``X``."""
        indices = np.sort(np.asarray(indices, dtype=np.int64))
        index = torch.as_tensor(indices, device=self.device)
        weight = None if self.sample_weight is None else self.sample_weight[index]
        rows = indices if self.rows is None else self.rows[indices]
        return type(self)(self.X, self.codes[index], weight, self.device, rows)


class ChunkedDataset(OutOfCoreDataset):
    """An :class:`OutOfCoreDataset` whose epochs read ``X`` block by block.

    :class:`~mgclassifier._data._batches.BatchIterator` hands its iteration to
    :meth:`iter_batches`. Shuffling draws from torch's global CPU RNG in the
    main thread (the estimator seeds it), so the order of an epoch is fixed
    by ``random_state``; the background read only moves data.
    """

    prefetch = True
    """Read the next block in a background thread while this one trains (a
    class attribute, so a test or benchmark can switch it off)."""

    def iter_batches(self, batch_size, shuffle):
        """Batches of ``batch_size`` rows (the last may be shorter), one epoch.

        A batch may span two blocks, so an epoch has as many batches as in
        memory. Without ``shuffle`` the rows come in order, in the same
        batches as in memory.
        """
        rest = None  # the rows a block leaves over, for the next batch
        for block in self._blocks(shuffle):
            n, start = len(block[1]), 0
            if rest is not None:
                start = min(batch_size - len(rest[1]), n)
                head = _rows(*block, 0, start)
                rest = tuple(np.concatenate(pair) for pair in zip(rest, head))
                if len(rest[1]) < batch_size:
                    continue
                yield self._batch(*rest)
                rest = None
            full = start + (n - start) // batch_size * batch_size
            for begin in range(start, full, batch_size):
                yield self._batch(*_rows(*block, begin, begin + batch_size))
            if full < n:  # copied, so that the block itself can be freed
                rest = tuple(part.copy() for part in _rows(*block, full, n))
        if rest is not None:
            yield self._batch(*rest)

    def _batch(self, X, positions):
        index = torch.from_numpy(positions).to(self.device)
        return torch.from_numpy(X).to(self.device), self.targets(index)

    def _units(self):
        """``(start, stop)`` positions of this dataset within each read of X."""
        bounds = self.X.bounds
        ends = bounds if self.rows is None else np.searchsorted(self.rows, bounds)
        return [(int(a), int(b)) for a, b in zip(ends[:-1], ends[1:]) if b > a]

    def _groups(self, shuffle):
        """The reads of each block, in the epoch's order."""
        units = self._units()
        if shuffle and len(units) > 1:
            units = [units[i] for i in torch.randperm(len(units)).tolist()]
        target = max(1, BLOCK_BYTES // (4 * max(1, self.X.shape[1])))
        groups, group, size = [], [], 0
        for unit in units:
            group.append(unit)
            size += unit[1] - unit[0]
            if size >= target:
                groups.append(group)
                group, size = [], 0
        return groups + [group] if group else groups

    def _blocks(self, shuffle):
        """``(rows, positions, order)`` of each block; ``order`` is the
        shuffled order of its rows, or None."""
        groups = self._groups(shuffle)
        if not groups:
            return
        with ThreadPoolExecutor(max_workers=1) as pool:
            read = pool.submit if self.prefetch else _run_now
            pending = read(self._read, groups[0])
            for following in [*groups[1:], None]:
                X, positions = pending.result()
                if following is not None:
                    pending = read(self._read, following)
                # Drawn here, in the main thread, between training steps.
                order = torch.randperm(len(positions)).numpy() if shuffle else None
                yield X, positions, order

    def _read(self, group):
        """The rows of this dataset in the given reads of X, in row order."""
        positions = np.concatenate([np.arange(a, b) for a, b in group])
        X = np.empty((len(positions), self.X.shape[1]), dtype=np.float32)
        filled = 0
        for start, stop in group:
            if self.rows is None:
                part = self.X.read(start, stop)
            else:
                rows = self.rows[start:stop]
                part = self.X.read(int(rows[0]), int(rows[-1]) + 1)
                if len(part) != len(rows):
                    part = part[rows - rows[0]]
            X[filled : filled + len(part)] = part
            filled += len(part)
        return X, positions


def _rows(X, positions, order, begin, end):
    """Rows ``begin:end`` of a block in its epoch order, and their positions."""
    if order is None:
        return X[begin:end], positions[begin:end]
    index = order[begin:end]
    return X[index], positions[index]


class _Done:
    """A finished future: the result of running ``fn`` now."""

    def __init__(self, fn, *args):
        self._value = fn(*args)

    def result(self):
        return self._value


def _run_now(fn, *args):
    return _Done(fn, *args)


def out_of_core_dataset(X, codes, sample_weight=None, device="cpu"):
    """The dataset that trains on the out-of-core ``X``: random access for a
    memory map, block by block for a chunked source."""
    dataset = OutOfCoreDataset if X.random_access else ChunkedDataset
    return dataset(X, codes, sample_weight, device)


def training_data(X, codes, sample_weight, device, feature_scaling, standardisation):
    """The dataset a fit trains on, and the ``(mean, scale)`` of its inputs.

    An in-memory ``X`` is moved to ``device`` once (a sparse one stays a
    scipy matrix); an out-of-core one gets a dataset that reads it (random
    access for a memory map, block by block for a chunked source). The
    standardisation is ``standardisation`` when given (a resumed fit's, or
    every process's in a data-parallel fit), else the one computed while
    validating an out-of-core ``X``, else the one of the rows on the device
    (:func:`input_standardisation`, as ``feature_scaling`` says).

    Returns
    -------
    dataset : ArrayDataset
    standardisation : tuple of two float32 tensors or None
        None for inputs that are not flat floats (images, token ids).
    """
    if isinstance(X, OutOfCoreArray):
        dataset = out_of_core_dataset(X, codes, sample_weight, device)
        if standardisation is None and feature_scaling == "standard":
            standardisation = X.standardisation
    else:
        dataset = ArrayDataset(X, codes, sample_weight, device)
    if standardisation is None:
        # On the device: its statistics are computed there.
        standardisation = input_standardisation(dataset.X, feature_scaling)
    return dataset, standardisation
