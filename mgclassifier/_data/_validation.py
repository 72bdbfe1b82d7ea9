"""Checks of the data a fit or a prediction gets: X, y and their agreement.

scikit-learn's ``validate_data`` and ``check_array`` do the work; here they
get the options this estimator needs (float32, CSR kept sparse, an
out-of-core array checked chunk by chunk, a custom trunk's n-dimensional or
integer input) and messages that say what to do about text columns, ragged
label rows and a missing ``y``.
"""

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import DataConversionWarning
from sklearn.utils import assert_all_finite
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    validate_data,
)

from .._hierarchy import as_label_matrix
from .._upstream import _check_sample_weight
from .._warnings import warn_at_caller
from . import _out_of_core


class FitData(NamedTuple):
    """A fit's data, validated: ``X`` (float32, CSR kept sparse, or an
    ``OutOfCoreArray``; a custom trunk's images or int64 token ids), the
    labels as a 2-D matrix ``Y``, whether ``y`` was 1-D, and the float32
    ``sample_weight`` or None."""

    X: object
    Y: np.ndarray
    y_was_1d: bool
    sample_weight: np.ndarray | None


def validate_fit_data(estimator, X, y, sample_weight=None, reset=True):
    """Validate ``X``, ``y`` and ``sample_weight`` for a fit: a :class:`FitData`.

    With a custom trunk, X may also be n-dimensional (images) and integer
    (token ids, returned as int64).
    """
    if estimator.module is None and _out_of_core.is_out_of_core(X):
        X = _out_of_core.check_out_of_core(estimator, X, reset=reset, fit=True)
    elif estimator.module is None:
        X = _validate_features(
            estimator,
            X,
            accept_sparse="csr",
            dtype=np.float32,
            ensure_min_samples=2,
            reset=reset,
        )
    else:
        X = custom_trunk_input(
            validate_data(
                estimator,
                X,
                dtype=None,
                allow_nd=True,
                ensure_min_samples=2,
                reset=reset,
            )
        )
    if y is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target y "
            f"is None."
        )
    try:
        y = check_array(
            as_label_matrix(y) if hasattr(y, "columns") else y,
            ensure_2d=False,
            dtype=None,
            ensure_all_finite="allow-nan",  # NaN marks a missing fine label
            ensure_min_samples=0,
            ensure_min_features=0,  # a y without columns gets its own message
            input_name="y",
        )
    except ValueError as exc:
        if "inhomogeneous" not in str(exc):
            raise
        raise ValueError(_ragged_y_message(y)) from exc
    if y.ndim == 1:
        assert_all_finite(y, input_name="y")
    check_consistent_length(X, y)
    if y.ndim == 2 and y.shape[1] == 1:
        warn_at_caller(
            "A column-vector y was passed when a 1d array was expected. Please "
            "change the shape of y to (n_samples,), for example using ravel().",
            DataConversionWarning,
        )
        y = y.ravel()
    if y.ndim == 2 and y.shape[1] == 0:
        raise ValueError("y has no columns; it needs at least one level of labels.")
    if sample_weight is not None:
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float32, ensure_non_negative=True
        )
    if isinstance(X, np.ndarray) and not X.flags.writeable:
        X = X.copy()  # torch refuses to wrap read-only memory
    return FitData(X, y[:, None] if y.ndim == 1 else y, y.ndim == 1, sample_weight)


def validate_labelled_rows(estimator, X, y, dtype):
    """``X`` validated for prediction (``dtype`` as there) and ``y`` as a 2-D
    label matrix, for rows a fitted model is judged on."""
    X = validate_for_prediction(estimator, X, dtype)
    Y = as_label_matrix(y)
    Y = Y[:, None] if Y.ndim == 1 else Y
    check_consistent_length(X, Y)
    return X, Y


def validate_for_prediction(estimator, X, dtype):
    """``validate_data(..., reset=False)``, with a shortcut for plain arrays.

    ``dtype``: the float dtype the network reads dense rows in (float32 or
    float64; a sparse matrix is always float32, as the first layer reads
    it), or None for a custom trunk, whose rows keep their kind
    (``custom_trunk_input``). Values that overflow that dtype are refused.
    For a 2-D float numpy array with the fitted number of columns (and a
    model fitted without feature names) validate_data's checks come down
    to finiteness, which a quick check decides; any other input, and any
    array that fails it, goes through validate_data for its checks and
    messages.
    """
    if dtype is None:
        return custom_trunk_input(
            validate_data(estimator, X, dtype=None, allow_nd=True, reset=False)
        )
    if (
        type(X) is np.ndarray  # not a memory map (np.memmap is a subclass)
        and X.ndim == 2
        and X.dtype in (np.float32, np.float64)
        and X.shape[0] > 0
        and X.shape[1] == estimator.n_features_in_
        and not hasattr(estimator, "feature_names_in_")
    ):
        # A non-finite sum means NaN, inf or overflow: validate_data decides
        # (and warns or raises; the quick check stays silent).
        with np.errstate(over="ignore", invalid="ignore"):
            rows = X.astype(dtype, copy=False)
            if np.isfinite(rows.sum()):
                return rows
    if _out_of_core.is_out_of_core(X):  # read and checked chunk by chunk
        return _out_of_core.check_out_of_core(estimator, X, reset=False, fit=False)
    return validate_data(
        estimator,
        X,
        accept_sparse="csr",
        dtype=np.float32 if sp.issparse(X) else dtype,
        reset=False,
    )


def custom_trunk_input(X):
    """A validated array for a custom trunk: integers as int64 (token ids for
    an embedding layer), everything else float32."""
    X = X.astype(np.int64 if X.dtype.kind in "iu" else np.float32, copy=False)
    # A trunk may work in place on its input: never on the caller's read-only
    # memory (a joblib memory map, say).
    return X if X.flags.writeable else X.copy()


def _validate_features(estimator, X, **kwargs):
    """``validate_data`` for float features; a text column is named, with the
    encoders that turn it into numbers (numpy's message names neither)."""
    try:
        return validate_data(estimator, X, **kwargs)
    except ValueError as exc:
        if "could not convert string to float" not in str(exc):
            raise
        found = _first_text_value(X)
        if found is None:
            raise
        column, value = found
        raise ValueError(
            f"X column {column!r} holds text (e.g. {value!r}), but the network "
            f"needs numbers. Encode it first: OneHotEncoder for categories "
            f"(in a ColumnTransformer to pick the column), TfidfVectorizer for "
            f"free text, e.g. make_pipeline(make_column_transformer("
            f"(OneHotEncoder(), [{column!r}]), remainder='passthrough'), clf)."
        ) from exc


def _first_text_value(X):
    """``(column, value)`` of the first string that is not a number, or None.

    The column is its DataFrame name, else its index.
    """
    names = list(getattr(X, "columns", []))
    try:
        table = np.asarray(X, dtype=object)
    except (TypeError, ValueError):
        return None
    if table.ndim != 2:
        return None
    for j in range(table.shape[1]):
        for value in table[:, j]:
            if isinstance(value, str):
                try:
                    float(value)
                except ValueError:
                    return (names[j] if len(names) == table.shape[1] else j), value
    return None


def _ragged_y_message(y):
    """What to do about ``y`` rows of different lengths."""
    try:
        lengths = [len(row) for row in y]
    except TypeError:
        lengths = []
    shown = ""
    if lengths and min(lengths) != max(lengths):
        long, short = int(np.argmax(lengths)), int(np.argmin(lengths))
        shown = (
            f" (row {long} has {lengths[long]} labels, row {short} {lengths[short]})"
        )
    return (
        f"y's rows have different lengths{shown}: give every row one label per "
        f"level, coarse to fine, and pad a shorter path with None, e.g. "
        f"[['A', 'A1'], ['A', None]]. A None below a label trains the coarser "
        f"levels only."
    )


def level_names_of(y):
    """Column names of a DataFrame y (name of a Series), else None."""
    if hasattr(y, "columns"):
        return [str(name) for name in y.columns]
    name = getattr(y, "name", None)
    return None if name is None else [str(name)]
