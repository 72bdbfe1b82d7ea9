"""Batches for skorch, and the rows held out of training.

skorch's default ``DataLoader`` builds every batch by calling
``dataset[i]`` once per sample, which dominates the cost of an epoch on small
models (skorch issue #1100). :class:`BatchIterator` asks the dataset
(``_datasets``) for whole batches instead: one ``index_select`` each.
:class:`HoldoutSplit` holds rows out for early stopping and for
``target_accuracy``'s threshold, stratified, drawn in linear time.
"""

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from .._upstream import _approximate_mode


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


def held_out_rows(split, dataset):
    """The rows a fit's split kept out of training: ``(valid, set_aside)``,
    each None where the split (a :class:`HoldoutSplit` or None) has no such
    rows.

    Drawn again (the same rows) when training did not call the split: a
    fit that a finished checkpoint gave back.
    """
    if not isinstance(split, HoldoutSplit):
        return None, None
    if split.valid_indices_ is None and split.set_aside_indices_ is None:
        return split.parts(dataset)[1:]
    return split.valid_indices_, split.set_aside_indices_


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
