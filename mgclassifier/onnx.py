"""Export a fitted :class:`~mgclassifier.MultiGranularityClassifier` to ONNX.

:func:`to_onnx` writes one ONNX model that does all of ``predict`` and
``predict_proba``: the network (with its input standardisation), the coarse
votes of joint path decoding, the nearest training rows' votes of a model
fitted with ``n_neighbors > 0`` (their learned features a constant of the
graph), the calibration temperature, the softmax over root-to-leaf paths and
the child sums that make the probabilities coherent.
Any ONNX runtime (onnxruntime, for one) then serves the model without Python,
torch or this package. It needs the ``onnx`` extra
(``pip install mgclassifier[onnx]``: onnx, onnxscript, onnxruntime).
"""

import contextlib
import io
import logging
import numbers
import re
import sys
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.validation import check_is_fitted

from ._data._validation import validate_for_prediction
from ._estimator import MultiGranularityClassifier
from ._prediction._graph import PredictionGraph

__all__ = ["to_onnx"]

INPUT_NAME = "X"
LABELS_NAME = "labels"
_LEAF_NAME = "leaf_index"  # internal: the graph output the label table replaces
_EXPORTER_LOGGERS = ("torch.onnx", "onnxscript", "onnx_ir")


def to_onnx(estimator, path=None, *, X_sample=None, opset=None):
    """One ONNX model computing ``predict`` and ``predict_proba``.

    The model has one input, ``"X"``: float32 rows of shape ``(batch,
    n_features)`` for flat features, any batch size (int64 for token ids,
    the shape of ``X_sample`` for images), and these outputs:

    - ``"labels"``: the predicted root-to-leaf path of each row, shape
      ``(batch, n_levels)``, as ``predict`` returns it (``(batch,)`` for a
      model fitted on a 1-D ``y``). String labels are an ONNX string tensor,
      integer labels int64, float labels float, booleans bool (labels of
      mixed types would each be given as their ``str()``).
    - one float32 tensor of probabilities per level, ``(batch,
      len(classes_[l]))``, columns in ``classes_[l]`` order as in
      ``predict_proba``: ``"proba_<name>"`` with the level's name from a
      DataFrame ``y`` (``level_names_``), else ``"proba_<index>"`` (``0`` is
      the coarsest), or ``"proba"`` for a 1-D ``y``.

    The maths run in float32, within ~1e-6 of ``predict_proba`` (which
    runs the network in float64 for float64 rows); a model trained with
    ``precision="bfloat16"`` predicts in float32 as well, and so does its
    export.

    Parameters
    ----------
    estimator : MultiGranularityClassifier
        A fitted estimator, built-in network or custom trunk (``module=``).
        A model on a GPU is exported from a CPU copy of its network.
    path : str or path-like, default=None
        Where to write the model (a ``.onnx`` file); None writes nothing.
    X_sample : array-like, default=None
        A few rows of ``X`` to trace the network with; every axis but the
        first keeps the size it has here. None uses zeros of shape
        ``(2, n_features_in_)``, which suits flat float features; give real
        rows for a custom trunk that reads images ``(n, C, H, W)`` or token
        ids (integer ``X`` makes an int64 input).
    opset : int, default=None
        ONNX opset version; None takes the torch exporter's default.

    Returns
    -------
    onnx.ModelProto
        The model, also written to ``path`` when one is given.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    ValueError
        If ``min_path_probability`` or ``target_accuracy`` is set (prefix
        decoding with ``None`` below the confident depth is not exported:
        set it to None, or apply the threshold, ``path_threshold_`` for
        ``target_accuracy``, to the exported probabilities), if ``X_sample`` is
        sparse or the network fails on it, or if the network cannot be
        exported (the message names its module class; the exporter's error
        is chained).
    TypeError
        If ``estimator`` is not a MultiGranularityClassifier.
    ImportError
        If onnx or onnxscript is not installed.

    Notes
    -----
    A model fitted with ``n_neighbors > 0`` keeps its training rows' learned
    features in the graph (``neighbor_features_``: 512 bytes a row at 128
    dimensions), which compares each predicted row with all of them, as
    ``predict_proba`` does; each row's neighbours match ``predict_proba``'s
    except where two of them are within float32 rounding of each other.

    Sparse input is out of scope: the exported model takes dense rows, so
    a model fitted on sparse features (TF-IDF) needs them densified to
    predict through ONNX. Feature names are not part of the model: give the
    columns in ``feature_names_in_`` order.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime
    >>> from mgclassifier import MultiGranularityClassifier
    >>> from mgclassifier.datasets import make_hierarchical_classification
    >>> from mgclassifier.onnx import to_onnx
    >>> X, Y = make_hierarchical_classification(300, branching=(2, 3),
    ...                                         random_state=0)
    >>> clf = MultiGranularityClassifier(hidden_layer_sizes=(16,), max_epochs=5,
    ...                                  random_state=0).fit(X, Y)
    >>> model = to_onnx(clf)
    >>> session = onnxruntime.InferenceSession(model.SerializeToString())
    >>> [output.name for output in session.get_outputs()]
    ['labels', 'proba_0', 'proba_1']
    >>> labels, coarse, fine = session.run(None, {"X": X[:5].astype(np.float32)})
    >>> bool((labels == clf.predict(X[:5])).all())
    True
    >>> bool(np.allclose(fine, clf.predict_proba(X[:5])[1], atol=1e-5))
    True
    """
    onnx = _import_onnx()
    if not isinstance(estimator, MultiGranularityClassifier):
        raise TypeError(
            f"to_onnx exports a MultiGranularityClassifier, got "
            f"{type(estimator).__name__}."
        )
    check_is_fitted(estimator, "net_")
    if estimator.min_path_probability is not None:
        raise ValueError(
            f"min_path_probability={estimator.min_path_probability!r} is not "
            f"exported to ONNX (its predictions stop at a depth that varies per "
            f"row, with None below); export the full-path model with "
            f"estimator.set_params(min_path_probability=None) and apply the "
            f"threshold to the exported per-level probabilities."
        )
    if getattr(estimator, "target_accuracy", None) is not None:
        raise ValueError(
            f"target_accuracy={estimator.target_accuracy!r} is not exported to "
            f"ONNX (its predictions stop at a depth that varies per row, with "
            f"None below); export the full-path model with "
            f"estimator.set_params(target_accuracy=None) and keep a path's "
            f"prefix while its node probability reaches "
            f"estimator.path_threshold_ ({estimator.path_threshold_!r})."
        )
    tree = estimator.hierarchy_
    predictor = estimator._predictor()
    graph = PredictionGraph(
        estimator.net_.module_,
        tree,
        estimator.coarse_decoding_weight,
        estimator.temperature_,
        votes=predictor.neighbors,
    )
    sample = _sample_input(estimator, graph, X_sample)
    proba_names = _proba_names(estimator)
    model = _export(graph, sample, [_LEAF_NAME, *proba_names], opset)
    table = tree.decode_leaves(np.arange(len(tree.paths)))
    _add_label_output(
        model, _onnx_label_table(table[:, 0] if estimator._y_was_1d else table)
    )
    onnx.checker.check_model(model)
    if path is not None:
        onnx.save_model(model, path)
    return model


def _import_onnx():
    try:
        import onnx
        import onnxscript  # noqa: F401  (the torch exporter needs it)
    except ImportError as exc:
        raise ImportError(
            f"to_onnx needs onnx and onnxscript ({exc}); install them with "
            f"`pip install mgclassifier[onnx]` (onnxruntime, in the same extra, "
            f"runs the exported model)."
        ) from exc
    return onnx


def _sample_input(estimator, graph, X_sample):
    """Two validated rows to trace with, checked by an eager forward pass.

    Two rows, not one: the exporter specialises a batch of size 1 to a
    constant.
    """
    if X_sample is None:
        # Not validated: a model fitted with feature names would warn about
        # these nameless rows.
        rows = np.zeros((2, estimator.n_features_in_), dtype=np.float32)
    elif sp.issparse(X_sample):
        raise ValueError(
            "X_sample is a sparse matrix; the exported model takes dense rows "
            "(sparse input is out of scope for ONNX export): pass dense rows, "
            "e.g. X_sample.toarray()."
        )
    else:
        # The graph computes in float32 (token ids of a custom trunk as int64).
        dtype = estimator._predictor().rows_dtype(np.float32)
        rows = validate_for_prediction(estimator, X_sample, dtype)[:2]
    if rows.shape[0] == 1:
        rows = np.concatenate([rows, rows])
    sample = torch.tensor(rows)  # a copy: validated rows may be read-only
    try:
        with torch.no_grad():
            graph(sample)
    except Exception as exc:
        name = _module_name(graph.network)
        raise ValueError(
            f"module {name} failed on the example rows of shape "
            f"{tuple(sample.shape)} ({sample.dtype}): {type(exc).__name__}: "
            f"{exc}; pass rows of X as to_onnx(..., X_sample=X[:2])."
        ) from exc
    return sample


def _module_name(network):
    """The class the user chose: the custom trunk's, else the built-in MLP's."""
    return type(getattr(network, "trunk", network)).__name__


def _proba_names(estimator):
    """Output name of each level's probabilities."""
    if estimator._y_was_1d:
        return ["proba"]
    names = estimator.level_names_
    if names is None or len(set(names)) != len(names):
        names = range(estimator.n_levels_)
    return [f"proba_{name}" for name in names]


@contextlib.contextmanager
def _quiet_exporter():
    """Keep the exporter's notes that say nothing about this model off stderr.

    Its loggers list optional torchvision ops it skips and the graph
    optimizer's passes it skips, torch internals raise deprecation warnings,
    and a failed ``torch.export`` prints the partial graph to stderr (the
    chained exception carries the cause). What else reached stderr is
    written there after a successful export.
    """
    loggers = [logging.getLogger(name) for name in _EXPORTER_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    captured = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(captured):
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
    sys.stderr.write(captured.getvalue())


def _export(graph, sample, output_names, opset):
    """``torch.onnx.export`` with a dynamic batch axis; its ModelProto."""
    batch = torch.export.Dim("batch")
    try:
        with _quiet_exporter():
            program = torch.onnx.export(
                graph,
                (sample,),
                dynamo=True,
                input_names=[INPUT_NAME],
                output_names=output_names,
                dynamic_shapes=({0: batch},),
                opset_version=opset,
                verbose=False,
            )
    except torch.onnx.errors.OnnxExporterError as exc:
        raise ValueError(
            f"module {_module_name(graph.network)} cannot be exported to ONNX: "
            f"{_root_cause(exc)}. Its forward must be traceable by torch.export: "
            f"torch operations only, with no Python branch on tensor values and "
            f"no .item()/.tolist() (see the chained exception)."
        ) from exc
    return program.model_proto


def _root_cause(exc):
    """``"Type: first line"`` of the innermost exception of a chain."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    lines = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0].rstrip('.') if lines else ''}"


def _onnx_label_table(table):
    """The labels of every path as an array ONNX can hold.

    Strings become an object array of ``str`` (an ONNX string tensor),
    integers int64 (uint64 stays), floats and booleans keep their dtype;
    an object array whose labels share one kind gets that kind's dtype, and
    one that mixes kinds becomes strings.
    """
    kind = table.dtype.kind
    if kind in "US":
        return _as_strings(table)
    if kind == "u" and table.dtype.itemsize == 8:
        return table
    if kind in "iu":
        return table.astype(np.int64)
    if kind in "fb":
        return table
    if kind == "O":
        values = table.ravel().tolist()
        if all(isinstance(v, str) for v in values):
            return _as_strings(table)
        if all(isinstance(v, (bool, np.bool_)) for v in values):
            return table.astype(bool)
        if all(
            isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))
            for v in values
        ):
            return table.astype(np.int64)
        if all(
            isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))
            for v in values
        ):
            return table.astype(np.float64)
    return _as_strings(table)


def _as_strings(table):
    def text(value):
        return value.decode() if isinstance(value, bytes) else str(value)

    strings = np.empty(table.shape, dtype=object)
    strings.ravel()[:] = [text(v) for v in table.ravel().tolist()]
    return strings


def _add_label_output(model, table):
    """Replace the path-index output by the labels of that path.

    Each label is gathered on its own from the flattened table of every
    path's labels, at ``path * n_levels + level``: onnxruntime (1.32) keeps
    only the first string of each row when a ``Gather`` takes whole rows of
    a string table.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    leaf = next(output for output in graph.output if output.name == _LEAF_NAME)
    batch = leaf.type.tensor_type.shape.dim[0]
    n_levels = table.shape[1] if table.ndim == 2 else 1
    constants = {
        "path_labels": table.reshape(-1),
        "label_axes": np.array([1], dtype=np.int64),
        "label_n_levels": np.array(n_levels, dtype=np.int64),
        "label_levels": np.arange(n_levels, dtype=np.int64),
    }
    graph.initializer.extend(
        numpy_helper.from_array(value, name=name) for name, value in constants.items()
    )
    position = _LEAF_NAME
    if table.ndim == 2:
        position = "label_positions"
        graph.node.extend(
            [
                helper.make_node("Unsqueeze", [_LEAF_NAME, "label_axes"], ["leaf_2d"]),
                helper.make_node("Mul", ["leaf_2d", "label_n_levels"], ["path_start"]),
                helper.make_node("Add", ["path_start", "label_levels"], [position]),
            ]
        )
    graph.node.append(
        helper.make_node("Gather", ["path_labels", position], [LABELS_NAME], axis=0)
    )
    elem_type = helper.np_dtype_to_tensor_dtype(
        np.dtype(np.str_) if table.dtype == object else table.dtype
    )
    shape = [batch.dim_param or batch.dim_value, *table.shape[1:]]
    labels = helper.make_tensor_value_info(LABELS_NAME, elem_type, shape)
    index = list(graph.output).index(leaf)
    graph.output.remove(leaf)
    graph.output.insert(index, labels)
