"""In-memory batching for skorch: whole batches sliced from tensors.

skorch's default ``DataLoader`` builds every batch by calling
``dataset[i]`` once per sample, which dominates the cost of an epoch on small
models (skorch issue #1100). Here the data is converted to tensors once (on
the training device when it is a dense array) and each batch is one
``index_select``. Sparse CSR inputs stay sparse: each batch becomes a torch
sparse CSR tensor whose non-zeros the module's first layer reads.
"""

import warnings

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from ._upstream import _approximate_mode


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


class BatchIterator:
    """Iterate over an :class:`ArrayDataset` in whole batches.

    Used as skorch's ``iterator_train`` / ``iterator_valid``: skorch calls
    ``BatchIterator(dataset, batch_size=..., shuffle=...)`` once per fit and
    iterates it once per epoch. Shuffling draws from torch's global CPU RNG
    (directly, or to seed a device generator), which the estimator seeds
    inside ``torch.random.fork_rng``.
    """

    def __init__(self, dataset, batch_size=256, shuffle=False):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        if hasattr(self.dataset, "iter_batches"):  # an out-of-core X, read in blocks
            yield from self.dataset.iter_batches(self.batch_size, self.shuffle)
            return
        n, device = len(self.dataset), self.dataset.device
        if not self.shuffle:
            order = torch.arange(n, device=device)
        elif device.type == "cpu":
            order = torch.randperm(n)
        else:
            # Drawn on the device (no host-to-device copy each epoch), from a
            # generator seeded by the global CPU RNG, so the estimator's seed
            # still fixes the order.
            seed = int(torch.randint(2**62, ()))
            generator = torch.Generator(device=device).manual_seed(seed)
            order = torch.randperm(n, device=device, generator=generator)
        for start in range(0, n, self.batch_size):
            yield self.dataset.__getitems__(order[start : start + self.batch_size])


class HoldoutSplit:
    """skorch ``train_split``: hold rows out of training, stratified when possible.

    Stratifies on the finest labelled level when every class there has at
    least two samples and both parts can hold every class; otherwise falls
    back to a plain random split instead of failing.

    Parameters
    ----------
    fraction : float or None
        Fraction of the samples held out for validation (early stopping and
        the calibration temperature); None: no validation rows.
    random_state : int
    set_aside : float or None, default=None
        Fraction of the samples set aside first, for ``target_accuracy``'s
        threshold: neither trained on nor validated on, so that they pick no
        epoch and fit no temperature.

    Attributes
    ----------
    valid_indices_, set_aside_indices_ : ndarray of int or None
        The rows of the last call, kept for what follows training (a
        stratified split of a million rows takes about a second to redo);
        None before any call and in a pickle.
    """

    def __init__(self, fraction, random_state, set_aside=None):
        self.fraction = fraction
        self.random_state = random_state
        self.set_aside = set_aside
        self.valid_indices_ = self.set_aside_indices_ = None

    def n_held_out(self, n_samples):
        """Rows of ``n_samples`` kept out of training."""
        return sum(
            _n_rows(share, n_samples)
            for share in (self.fraction, self.set_aside)
            if share is not None
        )

    def __call__(self, dataset, y=None, **fit_params):
        train, valid, aside = self.parts(dataset)
        self.valid_indices_, self.set_aside_indices_ = valid, aside
        return dataset.subset(train), None if valid is None else dataset.subset(valid)

    def __getstate__(self):
        # The rows of one fit: not part of a saved model.
        return {**self.__dict__, "valid_indices_": None, "set_aside_indices_": None}

    def __setstate__(self, state):
        self.__dict__.update({"set_aside": None, "set_aside_indices_": None, **state})

    def parts(self, dataset):
        """Sorted row indices ``(train, valid, set_aside)``, the same on every
        call; ``valid`` or ``set_aside`` is None without its fraction."""
        strata = dataset.codes[:, -1].cpu().numpy()
        n_samples = len(strata)
        rows, aside = np.arange(n_samples), None
        if self.set_aside is not None:
            n_aside = _n_rows(self.set_aside, n_samples)
            rows, aside = _holdout(strata, n_aside, self.random_state)
        if self.fraction is None:
            return rows, None, aside
        n_valid = _n_rows(self.fraction, n_samples)
        train, valid = _holdout(strata[rows], n_valid, self.random_state)
        return rows[train], rows[valid], aside


def held_out_count(n_samples, fraction=None, set_aside=None):
    """Rows of ``n_samples`` a :class:`HoldoutSplit` keeps out of training.

    Examples
    --------
    >>> held_out_count(100, 0.1), held_out_count(100, 0.1, 0.1), held_out_count(7)
    (10, 20, 0)
    """
    return HoldoutSplit(fraction, 0, set_aside).n_held_out(n_samples)


def _n_rows(share, n_samples):
    """Rows a ``share`` of ``n_samples`` holds out, as ``train_test_split``
    counts a fractional ``test_size``."""
    return int(np.ceil(share * n_samples))


def _holdout(strata, n_out, random_state):
    """Sorted ``(kept, held_out)`` positions in ``strata``: ``n_out`` rows,
    stratified when they can be."""
    split = stratified_holdout(strata, n_out, random_state)
    if split is not None:
        return split
    kept, held_out = train_test_split(
        np.arange(len(strata)), test_size=n_out, random_state=random_state
    )
    return np.sort(kept), np.sort(held_out)


def stratified_holdout(strata, n_valid, random_state):
    """Sorted ``(train, valid)`` row indices of a stratified split.

    The split of scikit-learn's ``train_test_split(np.arange(n),
    test_size=n_valid, stratify=strata, random_state=random_state)``, drawn
    with the same random numbers in the same order, in linear time: its
    per-row Python loop and sorts took ~0.3 s for a million rows, a third of
    the host work of a GPU fit.

    Parameters
    ----------
    strata : ndarray of int of shape (n_samples,)
        Stratum of each row, >= -1.
    n_valid : int
        Number of held-out rows.
    random_state : int

    Returns
    -------
    (train, valid) : tuple of ndarray of int, or None
        Sorted row indices; None when the rows cannot be stratified: a
        stratum has fewer than two rows, or a part has no room for one row
        of every stratum.

    Examples
    --------
    >>> strata = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> train, valid = stratified_holdout(strata, 2, random_state=0)
    >>> strata[valid].tolist()
    [0, 1]
    """
    # Rows grouped by stratum, in row order within each (a stable sort; on
    # small integer codes numpy's radix sort, linear).
    codes = strata + 1  # -1 (no finest label): a stratum too
    counts = np.bincount(codes)
    counts = counts[counts > 0]
    n_train = len(strata) - n_valid
    if counts.min() < 2 or min(n_train, n_valid) < len(counts):
        return None
    dtype = np.uint16 if codes.max() < 2**16 else np.intp
    by_stratum = np.argsort(codes.astype(dtype), kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    # As StratifiedShuffleSplit: how many rows of each stratum go to each
    # part, then one permutation per stratum, with the same generator.
    rng = check_random_state(random_state)
    train_counts = _approximate_mode(counts, n_train, rng)
    valid_counts = _approximate_mode(counts - train_counts, n_valid, rng)
    train, valid = [], []
    for start, count, n_tr, n_va in zip(starts, counts, train_counts, valid_counts):
        rows = by_stratum[start + rng.permutation(count)]
        train.append(rows[:n_tr])
        valid.append(rows[n_tr : n_tr + n_va])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(valid))
