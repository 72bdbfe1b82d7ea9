"""Visualisations of a fitted :class:`~mgclassifier.MultiGranularityClassifier`.

Training history, per-level confusion matrices and per-level reliability
diagrams.

The displays follow scikit-learn's plotting API (see
:class:`sklearn.metrics.ConfusionMatrixDisplay`): a display object stores the
data to draw, its ``plot`` method draws it and stores the matplotlib artists as
attributes ending in ``_``, and the ``from_estimator`` / ``from_predictions``
class methods compute the data and plot in one call. matplotlib is imported
only when something is drawn, so :mod:`mgclassifier` works without it.
"""

import math
import numbers
import re

import numpy as np

# Private names: scikit-learn's display and functions are not this module's.
from sklearn.metrics import ConfusionMatrixDisplay as _ConfusionMatrixDisplay
from sklearn.metrics import confusion_matrix as _confusion_matrix
from sklearn.utils.multiclass import unique_labels as _unique_labels
from sklearn.utils.validation import check_is_fitted as _check_is_fitted

from ._data._validation import level_names_of
from ._hierarchy import is_missing_label
from ._metric_parts import _level_reliability
from ._pipeline import final_classifier

__all__ = [
    "LevelConfusionMatrixDisplay",
    "ReliabilityDiagramDisplay",
    "TrainingHistoryDisplay",
]


def _check_matplotlib_support(caller_name):
    """Raise an informative ImportError if matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{caller_name} requires matplotlib. You can install it with "
            f"`pip install matplotlib` (or `pip install mgclassifier[plot]`)."
        ) from exc


def _get_ax(ax):
    """``(ax, figure)``: a new axis when ``ax`` is None."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    return ax, ax.figure


_LEVEL_KEY = re.compile(r"^(train|valid)_loss_level_(\d+)$")


def _as_float(value):
    """A history entry as a float; NaN for missing or non-finite values."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.nan
    return value if math.isfinite(value) else math.nan


class TrainingHistoryDisplay:
    """Per-level training and validation loss against the epoch.

    One colour per level of the hierarchy; training curves are solid and
    validation curves dashed, and a vertical dotted line marks the epoch whose
    weights the model kept. These are the per-level losses the estimator
    records in ``history_``; other keys of the history are not drawn.

    It is recommended to create a display with :meth:`from_estimator`.

    Parameters
    ----------
    history : skorch.History or list of dict
        One dict per epoch, with an ``"epoch"`` key (1-based) and keys
        ``train_loss_level_<l>`` and, when there was a validation set,
        ``valid_loss_level_<l>``. A history without per-level keys is drawn
        from its ``train_loss`` / ``valid_loss`` as a single curve pair.
    best_epoch : int, default=None
        Epoch to mark with a vertical line (e.g. the estimator's
        ``best_epoch_``). None draws no marker.
    level_names : list of str, default=None
        Legend name of each level, coarse to fine. None uses "level 0",
        "level 1", ...

    Attributes
    ----------
    epochs_ : ndarray of shape (n_epochs,)
        The epoch numbers drawn on the x axis.
    train_lines_ : list of matplotlib Line2D
        The training curve of each level.
    valid_lines_ : list of (matplotlib Line2D or None)
        The validation curve of each level (None where there is none).
    best_epoch_line_ : matplotlib Line2D or None
        The best-epoch marker.
    ax_ : matplotlib Axes
        The axis of the losses.
    figure_ : matplotlib Figure
        The figure holding the axis.

    See Also
    --------
    LevelConfusionMatrixDisplay : confusion matrix of one level.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from mgclassifier import MultiGranularityClassifier
    >>> from mgclassifier.plotting import TrainingHistoryDisplay
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 4))
    >>> fine = (X[:, 0] > 0).astype(int) * 2 + (X[:, 1] > 0)
    >>> Y = np.column_stack([np.where(fine < 2, "a", "b"), fine.astype(str)])
    >>> clf = MultiGranularityClassifier(
    ...     hidden_layer_sizes=(16,), max_epochs=20, early_stopping=True, random_state=0
    ... ).fit(X, Y)
    >>> disp = TrainingHistoryDisplay.from_estimator(
    ...     clf, level_names=["coarse", "fine"]
    ... )
    >>> [line.get_label() for line in disp.train_lines_ + disp.valid_lines_]
    ['coarse (train)', 'fine (train)', 'coarse (valid)', 'fine (valid)']
    >>> disp.best_epoch_line_.get_xdata()[0] == clf.best_epoch_
    True
    """

    def __init__(self, history, best_epoch=None, level_names=None):
        self.history = history
        self.best_epoch = best_epoch
        self.level_names = level_names

    def _curves(self):
        """Epochs and ``{(subset, level): loss values}`` from the history."""
        rows = list(self.history)
        if not rows:
            raise ValueError("The history is empty: there is nothing to plot.")
        epochs = np.array(
            [row.get("epoch", i + 1) for i, row in enumerate(rows)], dtype=float
        )
        keys = {}
        for row in rows:
            for key in row:
                match = _LEVEL_KEY.match(str(key))
                if match:
                    subset, level = match.groups()
                    keys[(subset, int(level))] = key
        if not keys:
            # A history without per-level entries: draw the total loss.
            keys = {
                (subset, 0): f"{subset}_loss"
                for subset in ("train", "valid")
                if any(f"{subset}_loss" in row for row in rows)
            }
        curves = {
            spec: np.array([_as_float(row.get(key)) for row in rows])
            for spec, key in keys.items()
        }
        return epochs, curves

    def plot(self, ax=None, *, log_scale=False, legend=True):
        """Plot the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axis to draw on. None creates a new figure and axis.
        log_scale : bool, default=False
            Draw the losses on a logarithmic y axis.
        legend : bool, default=True
            Add a legend.

        Returns
        -------
        display : TrainingHistoryDisplay
            The display, with the artists stored as attributes.
        """
        _check_matplotlib_support(f"{type(self).__name__}.plot")
        epochs, curves = self._curves()
        levels = sorted({level for _, level in curves})
        n_levels = max(levels) + 1
        names = self.level_names
        if names is None:
            names = [f"level {level}" for level in range(n_levels)]
        elif len(names) < n_levels:
            raise ValueError(
                f"level_names has {len(names)} names but the history has "
                f"{n_levels} levels."
            )
        ax, fig = _get_ax(ax)
        colors = [f"C{level % 10}" for level in range(n_levels)]
        self.train_lines_, self.valid_lines_ = [], []
        for subset, style, lines in (
            ("train", "-", self.train_lines_),
            ("valid", "--", self.valid_lines_),
        ):
            for level in levels:
                values = curves.get((subset, level))
                if values is None:
                    lines.append(None)
                    continue
                (line,) = ax.plot(
                    epochs,
                    values,
                    linestyle=style,
                    color=colors[level],
                    label=f"{names[level]} ({subset})",
                )
                lines.append(line)
        self.best_epoch_line_ = None
        if self.best_epoch is not None:
            self.best_epoch_line_ = ax.axvline(
                self.best_epoch,
                color="0.3",
                linestyle=":",
                label=f"best epoch ({self.best_epoch})",
            )
        ax.set_xlabel("Epoch")
        ax.set_ylabel("Loss (cross-entropy)")
        ax.set_title("Training history")
        if log_scale:
            ax.set_yscale("log")
        if legend:
            ax.legend(fontsize="small")
        self.epochs_ = epochs
        self.ax_ = ax
        self.figure_ = fig
        return self

    @classmethod
    def from_estimator(
        cls, estimator, *, level_names=None, ax=None, log_scale=False, legend=True
    ):
        """Plot the training history of a fitted estimator.

        Parameters
        ----------
        estimator : MultiGranularityClassifier or Pipeline
            A fitted estimator (any estimator with ``history_`` and,
            optionally, ``best_epoch_``), or a fitted Pipeline whose last
            step is one.
        level_names : list of str, default=None
            Legend name of each level. None uses the estimator's
            ``level_names_`` (the column names of a DataFrame ``y``) when it
            has them, else "level 0", "level 1", ...
        ax : matplotlib Axes, default=None
            Axis to draw on. None creates a new figure and axis.
        log_scale : bool, default=False
            Draw the losses on a logarithmic y axis.
        legend : bool, default=True
            Add a legend.

        Returns
        -------
        display : TrainingHistoryDisplay
        """
        _check_matplotlib_support(f"{cls.__name__}.from_estimator")
        classifier = final_classifier(estimator)
        _check_is_fitted(classifier, "history_")
        if level_names is None:
            level_names = getattr(classifier, "level_names_", None)
        display = cls(
            classifier.history_,
            best_epoch=getattr(classifier, "best_epoch_", None),
            level_names=level_names,
        )
        return display.plot(ax=ax, log_scale=log_scale, legend=legend)


def _level_index(level, n_levels, level_names, of):
    """The index (0 = coarsest) of ``level``: an int, negative counting from
    the finest level, or the name of a level in ``level_names``."""
    if isinstance(level, str):
        if level_names is None:
            raise ValueError(
                f"level={level!r} is a level name, but no level names are "
                f"known for {of} (the columns of a DataFrame y name the "
                f"levels); pass the level's index instead, 0 (coarsest) to "
                f"{n_levels - 1} or -1 (finest)."
            )
        names = list(level_names)
        if level not in names:
            raise ValueError(
                f"level={level!r} is not a level of {of}; its levels are {names}."
            )
        return names.index(level)
    if not isinstance(level, numbers.Integral) or isinstance(level, bool):
        raise TypeError(
            f"level must be an int (the level's index) or a level name; got {level!r}."
        )
    if not -n_levels <= level < n_levels:
        raise ValueError(
            f"level {level} is out of range for {of} with {n_levels} level(s)."
        )
    return int(level) % n_levels


def _level_column(y, level, name, level_names=None):
    """Column ``level`` (an index or a name) of a label matrix, and its
    index; a 1-D ``y`` is one level. Names are ``level_names``, else the
    columns of a DataFrame ``y``."""
    if level_names is None:
        level_names = level_names_of(y)
    y = np.asarray(y)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D; got {y.ndim} dimensions.")
    index = _level_index(level, y.shape[1], level_names, name)
    return y[:, index], index


class LevelConfusionMatrixDisplay:
    """Confusion matrix of one level of the hierarchy.

    A thin wrapper around :class:`sklearn.metrics.ConfusionMatrixDisplay`
    that picks one column of a label matrix and titles the plot with the
    level. It is recommended to create a display with :meth:`from_estimator`
    or :meth:`from_predictions`.

    Parameters
    ----------
    confusion_matrix : ndarray of shape (n_classes, n_classes)
        Confusion matrix of the level (rows: true labels, columns: predicted).
    display_labels : ndarray of shape (n_classes,), default=None
        Tick labels. None uses ``0 .. n_classes - 1``.
    level : int, default=None
        Index of the level (coarse = 0), used in the title.
    level_name : str, default=None
        Name of the level for the title; None uses "Level <level>".

    Attributes
    ----------
    im_ : matplotlib AxesImage
        The image of the matrix.
    text_ : ndarray of shape (n_classes, n_classes) of matplotlib Text, or None
        The cell values; None when ``include_values=False``.
    ax_ : matplotlib Axes
        The axis of the matrix.
    figure_ : matplotlib Figure
        The figure holding the axis.

    See Also
    --------
    sklearn.metrics.ConfusionMatrixDisplay : the flat confusion matrix display.
    TrainingHistoryDisplay : training and validation loss per level.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from mgclassifier.plotting import LevelConfusionMatrixDisplay
    >>> y_true = [["a", "a/1"], ["a", "a/2"], ["b", "b/1"], ["b", "b/1"]]
    >>> y_pred = [["a", "a/1"], ["a", "a/1"], ["b", "b/1"], ["a", "a/2"]]
    >>> disp = LevelConfusionMatrixDisplay.from_predictions(y_true, y_pred, level=0)
    >>> disp.confusion_matrix
    array([[2, 0],
           [1, 1]])
    >>> disp.ax_.get_title()
    'Level 0'

    With a fitted estimator, the labels of the level default to the classes
    the estimator knows (``classes_[level]``):

    >>> import numpy as np
    >>> from mgclassifier import MultiGranularityClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 4))
    >>> fine = (X[:, 0] > 0).astype(int) * 2 + (X[:, 1] > 0)
    >>> Y = np.column_stack([np.where(fine < 2, "a", "b"), fine.astype(str)])
    >>> clf = MultiGranularityClassifier(
    ...     hidden_layer_sizes=(16,), max_epochs=20, early_stopping=True, random_state=0
    ... ).fit(X, Y)
    >>> disp = LevelConfusionMatrixDisplay.from_estimator(clf, X, Y, level=-1)
    >>> disp.confusion_matrix.shape, int(disp.confusion_matrix.sum())
    ((4, 4), 200)
    """

    def __init__(
        self, confusion_matrix, *, display_labels=None, level=None, level_name=None
    ):
        self.confusion_matrix = confusion_matrix
        self.display_labels = display_labels
        self.level = level
        self.level_name = level_name

    def plot(
        self,
        *,
        include_values=True,
        cmap="viridis",
        xticks_rotation="horizontal",
        values_format=None,
        ax=None,
        colorbar=True,
        im_kw=None,
        text_kw=None,
    ):
        """Plot the confusion matrix.

        Parameters are those of
        :meth:`sklearn.metrics.ConfusionMatrixDisplay.plot`.

        Parameters
        ----------
        include_values : bool, default=True
            Write the value of each cell.
        cmap : str or matplotlib Colormap, default="viridis"
            Colormap of the image.
        xticks_rotation : {"vertical", "horizontal"} or float, \
                default="horizontal"
            Rotation of the x tick labels (long path labels read better
            vertical).
        values_format : str, default=None
            Format of the cell values; None picks "d" or ".2g".
        ax : matplotlib Axes, default=None
            Axis to draw on. None creates a new figure and axis.
        colorbar : bool, default=True
            Add a colorbar.
        im_kw : dict, default=None
            Passed to ``imshow``.
        text_kw : dict, default=None
            Passed to ``text`` for the cell values.

        Returns
        -------
        display : LevelConfusionMatrixDisplay
            ``self``, with the figure's artists as attributes.
        """
        _check_matplotlib_support(f"{type(self).__name__}.plot")
        sk_display = _ConfusionMatrixDisplay(
            self.confusion_matrix, display_labels=self.display_labels
        ).plot(
            include_values=include_values,
            cmap=cmap,
            xticks_rotation=xticks_rotation,
            values_format=values_format,
            ax=ax,
            colorbar=colorbar,
            im_kw=im_kw,
            text_kw=text_kw,
        )
        title = self.level_name
        if title is None and self.level is not None:
            title = f"Level {self.level}"
        if title is not None:
            sk_display.ax_.set_title(title)
        self.im_ = sk_display.im_
        self.text_ = sk_display.text_
        self.ax_ = sk_display.ax_
        self.figure_ = sk_display.figure_
        return self

    @classmethod
    def from_predictions(
        cls,
        y_true,
        y_pred,
        *,
        level=-1,
        labels=None,
        sample_weight=None,
        normalize=None,
        display_labels=None,
        level_name=None,
        include_values=True,
        xticks_rotation="horizontal",
        values_format=None,
        cmap="viridis",
        ax=None,
        colorbar=True,
        im_kw=None,
        text_kw=None,
    ):
        """Plot the confusion matrix of one level from true and predicted labels.

        Samples whose true or predicted label is missing at that level (None,
        NaN or ``""``: a path that stops above it) are left out.

        Parameters
        ----------
        y_true : array-like of shape (n_samples, n_levels) or (n_samples,)
            True labels, columns coarse to fine.
        y_pred : array-like of the same shape
            Predicted labels, e.g. ``estimator.predict(X)``.
        level : int or str, default=-1
            Column to evaluate; negative values count from the finest level.
            A name picks the column of a DataFrame ``y_true`` of that name.
        labels : array-like of shape (n_classes,), default=None
            Labels (and their order) of the matrix; None uses the sorted
            labels present at that level in ``y_true`` or ``y_pred``.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        normalize : {"true", "pred", "all"}, default=None
            Normalise over the true labels (rows), the predicted labels
            (columns) or all samples; None shows counts.
        display_labels : array-like of shape (n_classes,), default=None
            Tick labels; None uses ``labels``.
        level_name : str, default=None
            Title of the plot; None uses the name ``level`` gives, else
            "Level <level>".
        include_values, xticks_rotation, values_format, cmap, ax, colorbar, \
im_kw, text_kw
            See :meth:`plot`.

        Returns
        -------
        display : LevelConfusionMatrixDisplay
        """
        _check_matplotlib_support(f"{cls.__name__}.from_predictions")
        true, level_index = _level_column(y_true, level, "y_true")
        pred, _ = _level_column(y_pred, level_index, "y_pred")
        if level_name is None and isinstance(level, str):
            level_name = level
        if len(true) != len(pred):
            raise ValueError(
                f"y_true and y_pred have different numbers of samples: "
                f"{len(true)} and {len(pred)}."
            )
        keep = ~np.array(
            [is_missing_label(t) or is_missing_label(p) for t, p in zip(true, pred)]
        )
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight)[keep]
        true, pred = true[keep], pred[keep]
        if labels is None:
            labels = _unique_labels(true, pred)
        cm = _confusion_matrix(
            true, pred, labels=labels, sample_weight=sample_weight, normalize=normalize
        )
        display = cls(
            cm,
            display_labels=labels if display_labels is None else display_labels,
            level=level_index,
            level_name=level_name,
        )
        return display.plot(
            include_values=include_values,
            cmap=cmap,
            xticks_rotation=xticks_rotation,
            values_format=values_format,
            ax=ax,
            colorbar=colorbar,
            im_kw=im_kw,
            text_kw=text_kw,
        )

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        level=-1,
        labels=None,
        level_name=None,
        sample_weight=None,
        normalize=None,
        display_labels=None,
        include_values=True,
        xticks_rotation="horizontal",
        values_format=None,
        cmap="viridis",
        ax=None,
        colorbar=True,
        im_kw=None,
        text_kw=None,
    ):
        """Plot the confusion matrix of one level of a fitted estimator.

        Parameters
        ----------
        estimator : MultiGranularityClassifier or Pipeline
            A fitted estimator, or a fitted Pipeline whose last step is one;
            ``estimator.predict(X)`` gives the predictions.
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.
        y : array-like of shape (n_samples, n_levels) or (n_samples,)
            True labels.
        level : int or str, default=-1
            Level to evaluate (0 is the coarsest, -1 the finest), or its
            name: one of the estimator's ``level_names_`` (the columns of
            the DataFrame ``y`` it was fitted on), else of the columns of a
            DataFrame ``y``.
        labels : array-like of shape (n_classes,), default=None
            Labels (and their order) of the matrix; None uses the estimator's
            classes of that level plus any other label found in ``y`` there.
        level_name : str, default=None
            Title of the plot; None uses the estimator's name of the level
            (``level_names_``, from a DataFrame ``y``) if any, else
            "Level <level>".
        sample_weight, normalize, display_labels, include_values, \
xticks_rotation, values_format, cmap, ax, colorbar, im_kw, text_kw
            See :meth:`from_predictions`.

        Returns
        -------
        display : LevelConfusionMatrixDisplay
        """
        _check_matplotlib_support(f"{cls.__name__}.from_estimator")
        classifier = final_classifier(estimator)
        _check_is_fitted(classifier)
        y_pred = estimator.predict(X)
        names, of = getattr(classifier, "level_names_", None), "the estimator"
        if names is None:
            names, of = level_names_of(y), "the estimator or y"
        n_levels = 1 if np.ndim(y_pred) == 1 else np.shape(y_pred)[1]
        level = _level_index(level, n_levels, names, of)
        if level_name is None and names:
            level_name = names[level]
        if labels is None:
            classes = classifier.classes_
            if np.ndim(y_pred) == 1:  # single-level estimator: one array
                classes = [np.asarray(classes)]
            true, _ = _level_column(y, level, "y")
            known = np.asarray(classes[level])
            present = [t for t in true if not is_missing_label(t)]
            present = np.array(present, dtype=object)
            labels = (
                known
                if np.isin(present, known.astype(object)).all()
                else _unique_labels(known, present)
            )
        return cls.from_predictions(
            y,
            y_pred,
            level=level,
            labels=labels,
            sample_weight=sample_weight,
            normalize=normalize,
            display_labels=display_labels,
            level_name=level_name,
            include_values=include_values,
            xticks_rotation=xticks_rotation,
            values_format=values_format,
            cmap=cmap,
            ax=ax,
            colorbar=colorbar,
            im_kw=im_kw,
            text_kw=text_kw,
        )


class ReliabilityDiagramDisplay:
    """Reliability diagram: accuracy against confidence, one curve per level.

    At each level the samples are binned by the probability of their most
    probable label (the confidence); each bin is drawn at its mean confidence
    and the fraction of those samples whose most probable label is right. A
    calibrated model lies on the diagonal. The legend gives each level's
    expected calibration error
    (:func:`~mgclassifier.metrics.expected_calibration_error_per_level`,
    the bins' mean distance to the diagonal weighted by their sample counts).

    It is recommended to create a display with :meth:`from_estimator` or
    :meth:`from_predictions`.

    Parameters
    ----------
    confidence : list of ndarray
        Mean confidence of each non-empty bin, one array per drawn level.
    accuracy : list of ndarray
        Fraction of right top labels in each non-empty bin, per level.
    counts : list of ndarray
        Number of samples in each non-empty bin, per level.
    ece : list of float, default=None
        Expected calibration error of each level, for the legend.
    levels : list of int, default=None
        Index of each drawn level (coarse = 0). None: 0, 1, ...
    level_names : list of str, default=None
        Legend name of each drawn level. None uses "level <index>".

    Attributes
    ----------
    lines_ : list of matplotlib Line2D
        The curve of each level.
    reference_line_ : matplotlib Line2D or None
        The diagonal of perfect calibration.
    ax_ : matplotlib Axes
        The axis of the diagram.
    figure_ : matplotlib Figure
        The figure holding the axis.

    See Also
    --------
    sklearn.calibration.CalibrationDisplay : the binary reliability diagram.
    mgclassifier.metrics.expected_calibration_error_per_level : its summary.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from mgclassifier.plotting import ReliabilityDiagramDisplay
    >>> y_true = [["a", "a1"], ["a", "a2"], ["b", "b1"], ["b", "b1"]]
    >>> proba = [np.array([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8], [0.4, 0.6]]),
    ...          np.array([[0.6, 0.3, 0.1], [0.4, 0.35, 0.25], [0.1, 0.1, 0.8],
    ...                    [0.2, 0.1, 0.7]])]
    >>> classes = [["a", "b"], ["a1", "a2", "b1"]]
    >>> disp = ReliabilityDiagramDisplay.from_predictions(
    ...     y_true, proba, classes, n_bins=4, level_names=["coarse", "fine"])
    >>> [line.get_label() for line in disp.lines_]
    ['coarse (ECE 0.250)', 'fine (ECE 0.325)']
    >>> disp.accuracy[1].tolist(), disp.counts[1].tolist()
    ([0.0, 1.0, 1.0], [1, 2, 1])
    """

    def __init__(
        self, confidence, accuracy, counts, *, ece=None, levels=None, level_names=None
    ):
        self.confidence = confidence
        self.accuracy = accuracy
        self.counts = counts
        self.ece = ece
        self.levels = levels
        self.level_names = level_names

    def plot(self, ax=None, *, ref_line=True, legend=True):
        """Plot the diagram.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axis to draw on. None creates a new figure and axis.
        ref_line : bool, default=True
            Draw the diagonal of perfect calibration.
        legend : bool, default=True
            Add a legend.

        Returns
        -------
        display : ReliabilityDiagramDisplay
            The display, with the artists stored as attributes.
        """
        _check_matplotlib_support(f"{type(self).__name__}.plot")
        n_drawn = len(self.confidence)
        levels = list(range(n_drawn)) if self.levels is None else list(self.levels)
        names = self.level_names
        if names is None:
            names = [f"level {level}" for level in levels]
        elif len(names) < n_drawn:
            raise ValueError(
                f"level_names has {len(names)} names but {n_drawn} levels are drawn."
            )
        ax, fig = _get_ax(ax)
        self.reference_line_ = None
        if ref_line:
            (self.reference_line_,) = ax.plot(
                [0, 1], [0, 1], linestyle=":", color="0.4", label="perfectly calibrated"
            )
        self.lines_ = []
        for i, level in enumerate(levels):
            label = names[i]
            if self.ece is not None:
                label += f" (ECE {self.ece[i]:.3f})"
            (line,) = ax.plot(
                self.confidence[i],
                self.accuracy[i],
                marker="o",
                color=f"C{level % 10}",
                label=label,
            )
            self.lines_.append(line)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("Confidence (probability of the predicted label)")
        ax.set_ylabel("Accuracy")
        ax.set_title("Reliability diagram")
        if legend:
            ax.legend(fontsize="small", loc="upper left")
        self.ax_ = ax
        self.figure_ = fig
        return self

    @classmethod
    def from_predictions(
        cls,
        y_true,
        y_proba,
        classes,
        *,
        levels=None,
        n_bins=15,
        level_names=None,
        ax=None,
        ref_line=True,
        legend=True,
    ):
        """Plot the reliability diagram of per-level probabilities.

        Samples whose true path stops above a level are left out of it.

        Parameters
        ----------
        y_true : array-like of shape (n_samples, n_levels) or (n_samples,)
            True paths, columns coarse to fine.
        y_proba : list of array-like of shape (n_samples, n_classes_l), or \
array-like of shape (n_samples, n_classes)
            Probabilities per level, columns following ``classes[l]``.
        classes : list of array-like, or array-like
            Class labels of each level.
        levels : list of int or str, default=None
            Levels to draw (negative values count from the finest), or
            their names (in ``level_names``, else the columns of a DataFrame
            ``y_true``). None draws every level.
        n_bins : int, default=15
            Number of equal-width confidence bins.
        level_names : list of str, default=None
            Legend name of each level of ``y_true`` (all of them, coarse to
            fine). None uses "level <index>".
        ax, ref_line, legend
            See :meth:`plot`.

        Returns
        -------
        display : ReliabilityDiagramDisplay
        """
        _check_matplotlib_support(f"{cls.__name__}.from_predictions")
        names = level_names if level_names is not None else level_names_of(y_true)
        bins = _level_reliability(y_true, y_proba, classes, n_bins)
        n_levels = len(bins)
        if levels is None:
            levels = list(range(n_levels))
        levels = [_level_index(level, n_levels, names, "y_true") for level in levels]
        if level_names is not None:
            if len(level_names) < n_levels:
                raise ValueError(
                    f"level_names has {len(level_names)} names but y_true has "
                    f"{n_levels} levels."
                )
            level_names = [level_names[level] for level in levels]
        confidence, accuracy, counts, ece = [], [], [], []
        for level in levels:
            confidence_sum, correct, count = bins[level]
            filled = count > 0
            confidence.append(confidence_sum[filled] / count[filled])
            accuracy.append(correct[filled] / count[filled])
            counts.append(count[filled])
            ece.append(float(np.abs(correct - confidence_sum).sum() / count.sum()))
        display = cls(
            confidence,
            accuracy,
            counts,
            ece=ece,
            levels=levels,
            level_names=level_names,
        )
        return display.plot(ax=ax, ref_line=ref_line, legend=legend)

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        levels=None,
        n_bins=15,
        ax=None,
        ref_line=True,
        legend=True,
        level_names=None,
    ):
        """Plot the reliability diagram of a fitted estimator's probabilities.

        Parameters
        ----------
        estimator : MultiGranularityClassifier or Pipeline
            A fitted estimator, or a fitted Pipeline whose last step is one;
            ``predict_proba(X)`` and ``classes_`` give the probabilities and
            their columns.
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.
        y : array-like of shape (n_samples, n_levels) or (n_samples,)
            True labels.
        levels : list of int or str, default=None
            Levels to draw (negative values count from the finest), or
            their names (``level_names``, else the estimator's
            ``level_names_``). None draws every level.
        n_bins, ax, ref_line, legend
            See :meth:`from_predictions`.
        level_names : list of str, default=None
            Legend name of each level. None uses the estimator's
            ``level_names_`` (the column names of a DataFrame ``y``) when it
            has them, else "level <index>".

        Returns
        -------
        display : ReliabilityDiagramDisplay
        """
        _check_matplotlib_support(f"{cls.__name__}.from_estimator")
        classifier = final_classifier(estimator)
        _check_is_fitted(classifier)
        if level_names is None:
            level_names = getattr(classifier, "level_names_", None)
        return cls.from_predictions(
            y,
            estimator.predict_proba(X),
            classifier.classes_,
            levels=levels,
            n_bins=n_bins,
            level_names=level_names,
            ax=ax,
            ref_line=ref_line,
            legend=legend,
        )
