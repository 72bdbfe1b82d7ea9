"""Prediction maths in numpy: from logits to path scores and probabilities.

A path from the root to a leaf is scored by the finest head's logit of its
leaf plus ``coarse_decoding_weight`` times its ancestors' logits; a softmax
over paths, divided by the calibration temperature (``_calibration``), gives
path probabilities, and ``LabelHierarchy`` sums them up to every level. These
functions serve prediction on the CPU, where numpy is fastest for small
calls; ``_device_prediction`` holds their torch twins for a model on a GPU.
"""

import numpy as np
import torch


def proba_dtype(X):
    """dtype of the probabilities returned for ``X``: float32 for float32 input.

    As scikit-learn's ``MLPClassifier`` does: the network computes in float32
    anyway, and float32 input is usually chosen for its memory. A data frame
    counts as float32 when all its columns are. Anything else (float64,
    integers, lists) gets float64.

    Examples
    --------
    >>> import numpy as np
    >>> proba_dtype(np.zeros((2, 3), dtype=np.float32)), proba_dtype([[0.0]])
    (<class 'numpy.float32'>, <class 'numpy.float64'>)
    """
    dtypes = getattr(X, "dtypes", None)  # a pandas data frame
    if dtypes is not None and not hasattr(X, "dtype"):
        is_float32 = len(dtypes) > 0 and all(dtype == np.float32 for dtype in dtypes)
    else:
        is_float32 = getattr(X, "dtype", None) == np.float32
    return np.float32 if is_float32 else np.float64


def softmax_(scores, temperature=1.0):
    """Row-wise softmax of ``scores / temperature``, written into ``scores``.

    In place because a prediction on many rows would otherwise allocate
    several arrays of the full size, each paid for in page faults.

    Examples
    --------
    >>> import numpy as np
    >>> softmax_(np.log([[1.0, 3.0]])).round(12).tolist()
    [[0.25, 0.75]]
    """
    if temperature != 1.0:
        scores *= 1.0 / temperature
    scores -= scores.max(axis=1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=1, keepdims=True)
    return scores


def path_logits(logits, level_sizes, paths, coarse_weight):
    """Unnormalised score of every root-to-leaf path, from concatenated logits.

    The finest logit of a path's leaf plus ``coarse_weight`` times the
    logits of its ancestors. ``softmax_(path_logits(...), temperature)`` is
    :meth:`LabelHierarchy.leaf_log_proba` of the per-level log-softmaxes,
    exponentiated: each level's log-normaliser is one number per row, so it
    cancels in the final normalisation, and the per-level softmaxes are never
    computed.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, sum(level_sizes))
        A fresh array: with ``coarse_weight`` 0 (or a single level) the
        finest block is returned as a view of it.
    level_sizes : sequence of int
        Width of each level's block (just the finest one's when only its
        logits are given).
    paths : ndarray of shape (n_leaves, n_levels)
        ``LabelHierarchy.paths``.
    coarse_weight : float

    Examples
    --------
    >>> import numpy as np
    >>> logits = np.array([[1.0, 0.0, 0.0, 0.0, 0.0]])  # 2 coarse, 3 fine
    >>> path_logits(logits, [2, 3], np.array([[0, 0], [0, 1], [1, 2]]), 0.5)
    array([[0.5, 0.5, 0. ]])
    """
    fine = logits[:, logits.shape[1] - level_sizes[-1] :]
    if coarse_weight == 0 or len(level_sizes) == 1:
        return fine
    scores = fine.copy()
    start = 0
    for level, size in enumerate(level_sizes[:-1]):
        block = logits[:, start : start + size]
        scores += coarse_weight * block[:, paths[:, level]]
        start += size
    return scores


def path_scoring(hierarchy, coarse_weight, device=None):
    """Which logits score a path: ``(level_sizes, columns, paths)``.

    Without coarse votes (``coarse_weight == 0``) paths are scored by the
    finest head alone, so only its block of logits is needed and ``paths``
    is None. ``columns`` selects the needed blocks from the concatenated
    logits. ``paths`` is a tensor on ``device`` when one is given, else
    numpy.

    Examples
    --------
    >>> from mgclassifier import LabelHierarchy
    >>> tree, _ = LabelHierarchy.from_labels([["a", "x"], ["a", "y"], ["b", "z"]])
    >>> path_scoring(tree, 0.0)[:2]
    ([3], slice(-3, None, None))
    >>> path_scoring(tree, 0.25)[:2]
    ([2, 3], slice(-5, None, None))
    """
    if coarse_weight == 0:
        level_sizes, paths = list(hierarchy.n_classes[-1:]), None
    else:
        level_sizes, paths = list(hierarchy.n_classes), hierarchy.paths
        if device is not None:
            paths = torch.as_tensor(paths, device=device)
    return level_sizes, slice(-sum(level_sizes), None), paths
