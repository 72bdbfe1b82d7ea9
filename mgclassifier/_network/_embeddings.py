"""Numeric feature embeddings in front of the built-in trunk.

``numeric_embeddings="piecewise_linear"`` passes each standardised feature
through a learned piecewise-linear function into :data:`EMBEDDING_SIZE`
numbers, with :data:`EMBEDDING_BINS` bins at the training rows' quantiles
(Gorishniy, Rubachev and Babenko, "On Embeddings for Numerical Features in
Tabular Deep Learning", NeurIPS 2022), and the first layer reads the
concatenated embeddings. The layer is the ``rtdl-num-embeddings`` package's
``PiecewiseLinearEmbeddings`` (version "B": a linear term plus the piecewise
part, which starts at zero, so training starts from a linear embedding).

A first layer on ``n_features * EMBEDDING_SIZE`` columns costs more than one
on ``n_features``: with 16 bins into 4 numbers a fit took about 2.5x a
default one on ImCLEF07A, ImCLEF07D and Diatoms, for fine accuracy / AU(PRC)
0.678 / 0.784 -> 0.705 / 0.798 on Diatoms, 0.804 / 0.918 -> 0.808 / 0.921 on
ImCLEF07D and level on ImCLEF07A (5 seeds, ``benchmarks/README.md``). 32 bins
into 8 numbers gained a little more on Diatoms (0.706 / 0.801, 3 seeds) at
4x.
"""

import warnings

import numpy as np
import torch
from rtdl_num_embeddings import PiecewiseLinearEmbeddings, compute_bins

EMBEDDING_BINS = 16
"""Quantile bins of each feature's piecewise-linear function (fewer where a
feature has fewer distinct values)."""

EMBEDDING_SIZE = 4
"""Numbers each feature is embedded into."""

BIN_ROWS = 100_000
"""At most this many training rows (drawn at random) place the bins."""


def piecewise_linear_bins(X, standardisation, seed):
    """Each feature's bin edges, at quantiles of the standardised rows.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The training rows, as validated.
    standardisation : tuple of two tensors or None
        The ``(mean, scale)`` the network applies first; None for none.
    seed : int
        Draws the rows that place the bins when there are more than
        :data:`BIN_ROWS`.

    Returns
    -------
    list of ndarray of float32
        One array of increasing edges per feature (at least two; a feature
        with one value in the rows gets that value +-1).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(500, 3)).astype(np.float32)
    >>> bins = piecewise_linear_bins(X, None, seed=0)
    >>> len(bins), len(bins[0]) - 1, bool(np.all(np.diff(bins[0]) > 0))
    (3, 16, True)
    >>> X[:, 2] = 5.0
    >>> piecewise_linear_bins(X, None, seed=0)[2].tolist()
    [4.0, 6.0]
    """
    rows = np.asarray(X, dtype=np.float32)
    if len(rows) > BIN_ROWS:
        keep = np.random.default_rng(seed).choice(len(rows), BIN_ROWS, replace=False)
        rows = rows[np.sort(keep)]
    if standardisation is not None:
        mean, scale = (t.detach().cpu().numpy() for t in standardisation)
        rows = (rows - mean) / scale
    n_bins = max(1, min(EMBEDDING_BINS, len(rows) - 1))
    # rtdl's compute_bins refuses a column with one value; such a column
    # gets one bin around it (its embedding is then the linear term's).
    varying = rows.max(axis=0) > rows.min(axis=0)
    bins = [np.array([c - 1.0, c + 1.0], dtype=np.float32) for c in rows[0]]
    if varying.any():
        columns = torch.as_tensor(rows[:, varying], dtype=torch.float32)
        edges = compute_bins(columns, n_bins=n_bins)
        for feature, feature_edges in zip(np.flatnonzero(varying), edges):
            bins[feature] = feature_edges.numpy()
    return bins


def numeric_embeddings_layer(bins):
    """The embedding layer for ``bins``: ``(batch, n_features)`` rows to
    ``(batch, n_features, EMBEDDING_SIZE)``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> layer = numeric_embeddings_layer([np.array([-1.0, 0.0, 1.0])] * 2)
    >>> layer(torch.zeros(5, 2)).shape
    torch.Size([5, 2, 4])
    """
    edges = [torch.as_tensor(np.asarray(b), dtype=torch.float32) for b in bins]
    with warnings.catch_warnings():
        # rtdl warns of a feature with one bin (a constant column: see
        # piecewise_linear_bins), every time a model is built or loaded.
        warnings.filterwarnings("ignore", message=".*has just two bin edges")
        return PiecewiseLinearEmbeddings(
            edges, EMBEDDING_SIZE, activation=False, version="B"
        )
