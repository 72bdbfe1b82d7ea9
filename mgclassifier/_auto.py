"""The rules behind the ``"auto"`` values of the estimator's parameters.

Each function turns one parameter and what the data says (rows, sparsity)
into the value a fit uses; explicit values pass through unchanged.
``_config.resolve_config`` applies them. The measurements the rules were
chosen on (every real benchmark hierarchy and the synthetic ones) are in
``benchmarks/README.md``, "Why the defaults are what they are".
"""

import math

import numpy as np
import scipy.sparse as sp

LARGEST_AUTO_BATCH = 512
SMALLEST_AUTO_BATCH = 32
BATCHES_PER_EPOCH = 16
SPARSE_BATCHES_PER_EPOCH = 8
"""``batch_size="auto"`` aims at about this many optimizer steps an epoch
(fewer for sparse input, whose steps cost the first layer's whole weight
matrix in Adam whatever the batch size)."""

REFERENCE_BATCH, REFERENCE_LR = 512, 6e-3
"""``lr="auto"`` is this rate at this batch size, scaled by sqrt(batch)."""

EARLY_STOPPING_MIN_ROWS = 10_000
"""``early_stopping="auto"`` holds rows out above this many (as
scikit-learn's ``HistGradientBoostingClassifier``)."""

MAX_EPOCHS, MIN_SPARSE_EPOCHS, SPARSE_EPOCH_ROWS = 30, 10, 160
"""``max_epochs="auto"``: 30, or for sparse input 160 over the mean number of
rows a column is non-zero in, within [10, 30]."""

DENSE_WIDTH, SPARSE_WIDTH = 1024, 512
"""``hidden_layer_sizes="auto"``: one layer of this many units."""

ENSEMBLE_DENSE_LAYERS = (512, 512)
"""``hidden_layer_sizes="auto"`` for an ensemble of dense input: each member
is a two-layer network (sparse input keeps one layer of 512)."""

DROPOUT, ENSEMBLE_DENSE_DROPOUT = 0.6, 0.3
"""``dropout="auto"``: one network's, and an ensemble's on dense input (the
members' averaging regularises too; on sparse input they keep 0.6)."""


def resolve_batch_size(batch_size, n_rows, sparse=False):
    """The power of two nearest ``n_rows / 16`` (sparse: ``/ 8``), in [32, 512].

    Small data still gets about 16 optimizer steps an epoch; a step on
    sparse input costs about the same whatever its batch size (Adam updates
    the whole first layer), so sparse input takes fewer, larger batches.

    Examples
    --------
    >>> [resolve_batch_size("auto", n) for n in (500, 2_000, 10_000, 100_000)]
    [32, 128, 512, 512]
    >>> [resolve_batch_size("auto", n, sparse=True) for n in (1_000, 5_452)]
    [128, 512]
    >>> resolve_batch_size(100, 2_000)
    100
    """
    if batch_size != "auto":
        return batch_size
    per_epoch = SPARSE_BATCHES_PER_EPOCH if sparse else BATCHES_PER_EPOCH
    nearest = 2 ** round(math.log2(max(n_rows, 1) / per_epoch))
    return int(min(LARGEST_AUTO_BATCH, max(SMALLEST_AUTO_BATCH, nearest)))


def resolve_lr(lr, batch_size):
    """6e-3 at batch 512, scaled with the square root of the batch size.

    A smaller batch gives noisier gradients, so it takes smaller steps
    (square-root scaling, usual for Adam).

    Examples
    --------
    >>> [round(resolve_lr("auto", b), 5) for b in (512, 128, 32)]
    [0.006, 0.003, 0.0015]
    """
    if lr != "auto":
        return lr
    return REFERENCE_LR * math.sqrt(batch_size / REFERENCE_BATCH)


def resolve_early_stopping(early_stopping, n_rows, sparse=False):
    """Hold rows out for early stopping only on more than 10,000 dense rows.

    On fewer, the one-cycle schedule's last epochs, at a low learning rate,
    are as good as the best one, and every row trains. Sparse input gets an
    epoch budget sized to how often each term is seen
    (:func:`resolve_max_epochs`), at whose end the schedule has annealed:
    every row trains there too.

    Examples
    --------
    >>> resolve_early_stopping("auto", 10_001, sparse=True)
    False
    >>> resolve_early_stopping("auto", 10_000), resolve_early_stopping("auto", 10_001)
    (False, True)
    """
    if early_stopping != "auto":
        return early_stopping
    return not sparse and n_rows > EARLY_STOPPING_MIN_ROWS


def resolve_max_epochs(max_epochs, X=None):
    """30 epochs; for sparse input, 160 over the mean number of training rows
    a column is non-zero in, within [10, 30].

    A sparse input's first layer has one weight row per column (a term of a
    TF-IDF matrix): a column non-zero in few rows (short texts: about 5 rows
    a term on the TREC questions) needs the whole budget, while a column seen
    in many (long documents: about 14 on 20 Newsgroups) is fitted in fewer
    passes, after which more passes memorise the training rows.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> resolve_max_epochs("auto", np.ones((4, 3)))
    30
    >>> short = sp.random(1000, 5000, density=0.001, random_state=0)  # ~1 row
    >>> long = sp.random(1000, 500, density=0.02, random_state=0)  # ~20 rows
    >>> resolve_max_epochs("auto", short), resolve_max_epochs("auto", long)
    (30, 10)
    >>> resolve_max_epochs(7, long)
    7
    """
    if max_epochs != "auto":
        return max_epochs
    if not sp.issparse(X) or X.nnz == 0:
        return MAX_EPOCHS
    columns = X.tocsr().indices  # no copy when X is CSR already
    rows_per_column = X.nnz / np.count_nonzero(np.bincount(columns))
    epochs = round(SPARSE_EPOCH_ROWS / rows_per_column)
    return int(min(MAX_EPOCHS, max(MIN_SPARSE_EPOCHS, epochs)))


def resolve_hidden_layer_sizes(hidden_layer_sizes, sparse, n_members=1):
    """One layer of 1024 units, or of 512 for a sparse matrix; an ensemble
    on dense input: two layers of 512.

    A sparse input's first layer has one weight row per input column (often
    10^4 or more): half the width halves the model and its fit time. An
    ensemble's members are narrower and deeper than one network (TabM's
    shape), and regularise each other.

    Examples
    --------
    >>> resolve_hidden_layer_sizes("auto", sparse=False)
    (1024,)
    >>> resolve_hidden_layer_sizes("auto", sparse=True)
    (512,)
    >>> resolve_hidden_layer_sizes("auto", sparse=False, n_members=4)
    (512, 512)
    >>> resolve_hidden_layer_sizes((64, 32), True)
    (64, 32)
    """
    if not (isinstance(hidden_layer_sizes, str) and hidden_layer_sizes == "auto"):
        return hidden_layer_sizes
    if sparse:
        return (SPARSE_WIDTH,)
    return ENSEMBLE_DENSE_LAYERS if n_members > 1 else (DENSE_WIDTH,)


def resolve_dropout(dropout, sparse, n_members=1):
    """0.6; 0.3 for an ensemble on dense input.

    Examples
    --------
    >>> resolve_dropout("auto", sparse=False), resolve_dropout("auto", False, 4)
    (0.6, 0.3)
    >>> resolve_dropout("auto", sparse=True, n_members=4), resolve_dropout(0.1, False)
    (0.6, 0.1)
    """
    if dropout != "auto":
        return dropout
    return ENSEMBLE_DENSE_DROPOUT if n_members > 1 and not sparse else DROPOUT


def resolve_feature_scaling(feature_scaling, sparse):
    """``"standard"`` or ``"none"``: what ``feature_scaling`` means for ``X``.

    "auto" standardises dense features and leaves a sparse matrix as it is:
    a TF-IDF or count column divided by its standard deviation blows rare
    terms up, and centring would make every row dense.

    Examples
    --------
    >>> resolve_feature_scaling("auto", False), resolve_feature_scaling("auto", True)
    ('standard', 'none')
    """
    if feature_scaling != "auto":
        return feature_scaling
    return "none" if sparse else "standard"
