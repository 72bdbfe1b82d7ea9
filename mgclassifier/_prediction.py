"""Prediction over the rows of ``X``: the network, then the engine, a chunk
of rows at a time.

Each chunk's path scores come from the prediction engine
(``_prediction_engine``): for a network whose heads are one layer, one
matrix product of the chunk's features with the heads into which the engine
folded the coarse votes at the end of ``fit``; otherwise the logits summed
along each path. Only what the caller asks for is kept: the best path of
each row (``predict``), or each level's probabilities, written into the
arrays that are returned (``predict_proba``). Chunks are sized so that a
chunk's path scores (the widest array of the maths) stay in the CPU's
cache, and are written where they are kept: into the returned array of the
finest level (``predict_proba``) or into one buffer reused from chunk to
chunk (``predict``). A large ``X`` needs no more working memory than a small
one, and no call pays for fresh pages beyond its results. A small call on
the CPU goes through the numpy twins of the network and the engine instead.
"""

import numpy as np
import torch

from ._cpu_threads import torch_threads
from ._net import NUMPY_FORWARD_MAX_ROWS
from ._prediction_engine import PredictionEngine

CPU_CHUNK_ELEMENTS = 2**22
"""Logits per chunk on the CPU (16 MB in float32): the chunk's arrays stay in
the cache between the steps of the maths, and the network's matrix products
are large enough to run at full speed (on 5,000 and 20,000 leaves, 2**22
predicted 10% faster than 2**21 and as fast as 2**23)."""

DEVICE_CHUNK_ELEMENTS = 2**26
"""Logits per chunk on an accelerator, where fewer, larger kernels are faster."""

MIN_CHUNK_ROWS = 128


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


def on_accelerator(net):
    """Whether prediction runs in torch on an accelerator (not the CPU)."""
    return torch.device(net.device).type != "cpu"


def prediction_engine(hierarchy, coarse_decoding_weight, temperature, net):
    """The :class:`PredictionEngine` of a fitted net's tree, on its device.

    Where the net's heads are one layer on one set of features, the coarse
    votes are folded into them (``PredictionEngine.fold_heads``): this is the
    set-up of prediction, done once per fit (and once after unpickling).
    """
    engine = PredictionEngine(hierarchy, coarse_decoding_weight, temperature)
    engine = engine.to(net.device)
    heads = getattr(net.module_, "fused_heads", None)
    if heads is not None:
        engine.fold_heads(heads)
    return engine


def predict_leaves(net, engine, X, dtype, on_device, min_probability=None):
    """The most probable path of each row, and where it becomes unsure.

    Parameters
    ----------
    net : MultiGranularityNet
    engine : PredictionEngine
        On the net's device.
    X : ndarray or sparse matrix
        Validated rows.
    dtype : numpy dtype
        The precision of the maths on the CPU (see :func:`proba_dtype`).
    on_device : bool
        Whether the maths run in torch on the net's device, never in numpy.
    min_probability : float, default=None
        If given, also the depth of each row's path whose nodes all reach
        this probability.

    Returns
    -------
    leaf : ndarray of int of shape (n_samples,)
        Index of the best path (a row of ``engine.twin.paths``).
    depth : ndarray of int of shape (n_samples,) or None
        None without ``min_probability``.
    """
    leaf = np.empty(X.shape[0], dtype=np.int64)
    depth = None if min_probability is None else np.empty_like(leaf)
    chunks = _best_paths(net, engine, X, dtype, on_device, prefixes=depth is not None)
    for rows, best, prefix in chunks:
        leaf[rows] = best
        if depth is not None:
            depth[rows] = returned_depth(prefix, min_probability)
    return leaf, depth


def predict_path_proba(net, engine, X, dtype, on_device):
    """The most probable path of each row and the probability of each prefix.

    What :func:`predict_leaves` cuts paths with, kept whole: the threshold
    of ``target_accuracy`` is chosen on these numbers (``_selective``).

    Parameters
    ----------
    net, engine, X, dtype, on_device
        As in :func:`predict_leaves`.

    Returns
    -------
    leaf : ndarray of int of shape (n_samples,)
        Index of the best path (a row of ``engine.twin.paths``).
    prefix : ndarray of shape (n_samples, n_levels) in ``dtype``
        Probability of the path's node at each level, coarse to fine.
    """
    leaf = np.empty(X.shape[0], dtype=np.int64)
    prefix = np.empty((X.shape[0], len(engine.twin.node_counts)), dtype=dtype)
    for rows, best, chunk_prefix in _best_paths(
        net, engine, X, dtype, on_device, prefixes=True
    ):
        leaf[rows], prefix[rows] = best, chunk_prefix
    return leaf, prefix


def returned_depth(prefix, threshold):
    """Levels ``predict`` returns: the longest prefix of each path whose
    nodes all reach ``threshold`` (the rule of ``min_path_probability``).

    Examples
    --------
    >>> returned_depth(np.array([[0.9, 0.6], [0.5, 0.4], [0.3, 0.8]]), 0.5).tolist()
    [2, 1, 0]
    """
    return np.cumprod(np.asarray(prefix) >= threshold, axis=1).sum(axis=1)


def _best_paths(net, engine, X, dtype, on_device, prefixes):
    """Yield ``(rows, leaf, prefix)`` for each chunk of ``X``, on the host.

    ``leaf`` is each row's best path; ``prefix`` the probability of its node
    at each level (in the chunk's maths dtype), or None unless ``prefixes``.
    """
    for rows, maths, scores in _path_scores(net, engine, X, dtype, on_device):
        best = _argmax(scores)
        prefix = None
        if prefixes:
            nodes = maths.node_proba(maths.path_proba(scores))
            prefix = _host(maths.prefix_proba(nodes, best))
        yield rows, _host(best), prefix


def predict_proba(net, engine, X, dtype, on_device, labels=True):
    """Each level's probabilities, label columns (or node columns).

    Parameters
    ----------
    net, engine, X, dtype, on_device
        As in :func:`predict_leaves`.
    labels : bool, default=True
        One column per label (a label under several parents sums its
        nodes); False: one column per node.

    Returns
    -------
    list of ndarray of shape (n_samples, n_columns_l) in ``dtype``
    """
    n_rows, twin = X.shape[0], engine.twin
    widths = twin.label_counts if labels else twin.node_counts
    # Where the finest level's columns are the paths (its labels do not
    # repeat), a CPU chunk writes its scores straight into the returned
    # array and the softmax runs there in place: no copy as large as the
    # result, and no chunk buffer between them.
    # (A call small enough for the numpy twins alone returns their arrays.)
    finest_in_place = not (labels and len(widths) - 1 in twin.label_index)
    finest = (
        _touched_empty((n_rows, widths[-1]), dtype)
        if finest_in_place and n_rows > NUMPY_FORWARD_MAX_ROWS
        else None
    )
    outputs = None
    for rows, maths, scores in _path_scores(net, engine, X, dtype, on_device, finest):
        if isinstance(scores, np.ndarray) and scores.shape[0] == n_rows:
            probas = maths.node_proba(maths.path_proba(scores))
            return maths.label_proba(probas) if labels else probas
        if outputs is None:
            outputs = [_touched_empty((n_rows, width), dtype) for width in widths[:-1]]
            outputs.append(
                finest
                if finest is not None
                else _touched_empty((n_rows, widths[-1]), dtype)
            )
        in_place = _in(finest, scores)
        path_proba = (
            maths.path_proba(scores, in_place=True)
            if in_place
            else maths.path_proba(scores)
        )
        probas = maths.node_proba(path_proba)
        if labels:
            probas = maths.label_proba(probas)
        for output, proba in zip(outputs[:-1] if in_place else outputs, probas):
            output[rows] = _host(proba)
    return outputs


def _path_scores(net, engine, X, dtype, on_device, destination=None):
    """Yield ``(rows, maths, scores)`` for each chunk of ``X``.

    ``maths`` is the engine, or its numpy twin for a chunk whose logits came
    from the network's numpy twin; ``scores`` are the chunk's path scores,
    which the caller may overwrite (a torch chunk's live in a buffer that
    the next chunk reuses). ``destination``: an array of shape
    ``(n_samples, n_leaves)`` in ``dtype`` into whose rows a CPU chunk of
    that dtype writes its scores instead (a view of it is yielded).
    """
    # Accelerators compute in float32 (the copy to the host casts).
    compute = torch.float32 if on_device or dtype == np.float32 else torch.float64
    # Scores from the features through the folded heads: float32 maths, as
    # the network's; float64 input keeps float64 scores from the logits.
    folded = engine.folded and compute == torch.float32
    width = engine.twin.node_counts[-1] if folded else sum(engine.twin.node_counts)
    budget = DEVICE_CHUNK_ELEMENTS if on_device else CPU_CHUNK_ELEMENTS
    chunk = max(MIN_CHUNK_ROWS, budget // width)
    buffer, twin = None, engine.twin
    if on_device:  # scores stay on the device; the host array gets copies
        destination = None
    numpy_twin = not on_device and net.numpy_twin_runs(X)
    # numpy's BLAS for the folded heads where it does not share the cores
    # with torch's threads: after the network's numpy twin, or with torch on
    # one thread (see PredictionEngine.folded_scores).
    numpy_blas = numpy_twin or (not on_device and torch.get_num_threads() == 1)
    # And after the numpy twin, torch's steps on a chunk (softmax, scaling)
    # run on one thread: numpy's BLAS threads spin a while after each
    # product, and torch's threads fought them for the cores (20,000 leaves
    # on two cores: predict_proba 1.7x MLPClassifier's time, 1.2x so).
    with torch.inference_mode(), torch_threads(1 if numpy_twin else None):
        for start, outputs in net.logit_chunks(
            X,
            chunk,
            engine.scored_columns,
            numpy_forward=not on_device,
            features=folded,
        ):
            rows = slice(start, start + outputs.shape[0])
            if isinstance(outputs, np.ndarray):
                scores = (
                    twin.folded_scores(outputs)
                    if folded
                    else twin.path_scores(outputs.astype(dtype, copy=False))
                )
                yield rows, twin, scores
                continue
            if destination is not None:
                scores = torch.from_numpy(destination[rows])
            else:
                if buffer is None:
                    shape = (min(chunk, X.shape[0]), twin.node_counts[-1])
                    buffer = outputs.new_empty(shape, dtype=compute)
                scores = buffer[: outputs.shape[0]]
            if folded:
                scores = engine.folded_scores(outputs, scores, numpy_blas)
                yield rows, engine, scores
            else:
                yield rows, engine, engine.path_scores(outputs.to(compute), out=scores)


def _argmax(scores):
    """Row-wise argmax; numpy's for a CPU tensor (several times torch's speed
    on one thread), of the same type as ``scores``."""
    if torch.is_tensor(scores) and scores.device.type == "cpu":
        return torch.from_numpy(scores.numpy().argmax(axis=1))
    return scores.argmax(1)


def _touched_empty(shape, dtype):
    """``np.empty`` with one value written per memory page, all at once.

    The chunks write a large result over the whole call. A virtual machine
    that reports freed memory back to its host a moment after it is freed
    (free page reporting) makes every page first touched after that a trip
    to the host: 20,000 leaves on one thread spent 0.3-1.0 s of a 2-3 s
    ``predict_proba`` in the kernel, 0.1-0.2 s once the pages were taken
    up front. Elsewhere this only moves the page faults forward.
    """
    array = np.empty(shape, dtype=dtype)
    array.reshape(-1)[:: max(1, 4096 // array.itemsize)] = 0
    return array


def _in(array, scores):
    """Whether ``scores`` (a CPU tensor) are a view of ``array``."""
    return (
        array is not None
        and torch.is_tensor(scores)
        and scores.device.type == "cpu"
        and np.may_share_memory(array, scores.numpy())
    )


def _host(array):
    """A tensor as a numpy array on the host; numpy arrays as they are."""
    return array.cpu().numpy() if torch.is_tensor(array) else array
