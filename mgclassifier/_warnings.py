"""Warnings attributed to the user's line of code, not to the library's."""

import os
import sys
import warnings

import joblib
import sklearn

_INTERNAL_DIRS = tuple(
    os.path.dirname(os.path.abspath(path)) + os.sep
    # this package's folder, sklearn's, and joblib's (GridSearchCV runs its
    # fits through joblib.Parallel)
    for path in (__file__, sklearn.__file__, joblib.__file__)
)


def warn_at_caller(message, category):
    """``warnings.warn`` attributed to the first caller outside the library.

    ``fit`` reaches its warnings through several frames of this package and
    scikit-learn's ``_fit_context`` wrapper, and through ``Pipeline`` or
    ``GridSearchCV`` when those call it: a fixed ``stacklevel`` would point
    inside them. The frames of mgclassifier, scikit-learn and joblib are
    skipped (as ``skip_file_prefixes`` does from Python 3.12 on).
    """
    frame, stacklevel = sys._getframe(), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(
        _INTERNAL_DIRS
    ):
        frame, stacklevel = frame.f_back, stacklevel + 1
    warnings.warn(message, category, stacklevel=stacklevel)


class HierarchyWarning(UserWarning):
    """The label tree read from ``y`` looks like a mistake in ``y``.

    Raised by ``fit`` when a label sits under several parents and one of its
    paths is rare (a typo in a parent: three 'T-shirt' rows under 'Bottoms'),
    or when a coarser level has more distinct labels than the next finer one
    (the columns of ``y`` reversed). Repeated labels are allowed, so the tree
    is kept as given. To silence it, once the labels are known to be right::

        warnings.filterwarnings("ignore", category=mgclassifier.HierarchyWarning)
    """


class FitInterruptedWarning(UserWarning):
    """``fit`` was interrupted (Ctrl-C) and kept what it had.

    skorch ends training on a ``KeyboardInterrupt``; ``fit`` then returns a
    fitted model as if ``max_epochs`` had been the last completed epoch:
    the epoch cut short is left out of ``history_`` and ``n_epochs_``, the
    weights are those of the best epoch (early stopping) or of the last
    completed one, and the calibration and threshold steps run on them. The
    warning names the interrupted epoch and the epoch whose weights are
    kept. A fit interrupted before its first epoch ended raises the
    ``KeyboardInterrupt`` instead, leaving the estimator as it was.
    """


class FitResumedWarning(UserWarning):
    """``fit`` continued from the training state in ``checkpoint_dir``.

    A fit given a ``checkpoint_dir`` that holds a checkpoint of the same fit
    resumes after its last epoch, or gives back the finished fit's model
    without training. What it does then depends on a file, not only on the
    call, so it says so at any ``verbose``. To silence it::

        warnings.filterwarnings("ignore", category=mgclassifier.FitResumedWarning)
    """
