"""A fitted classifier behind a scikit-learn ``Pipeline`` that ends in it:
the Displays' access to it, and the classifier's methods a ``Pipeline`` does
not forward (``predict_node_proba``, ``choose_threshold``)."""

from sklearn.pipeline import Pipeline


def final_classifier(estimator):
    """The last step of a Pipeline (of nested ones), else ``estimator``.

    The Displays read fitted attributes (``history_``, ``level_names_``,
    ``classes_``) from it and predict with ``estimator`` itself, so that the
    Pipeline's preprocessing runs.
    """
    while isinstance(estimator, Pipeline):
        estimator = estimator[-1]
    return estimator


def predict_node_proba(estimator, X):
    """Probability of every node of every level, through a Pipeline too.

    ``Pipeline`` forwards only the methods scikit-learn knows
    (``predict_proba``, ``predict``, ...), so
    ``pipe.predict_node_proba`` does not exist. This runs the steps before
    the last (``transform``) and the classifier's
    :meth:`~mgclassifier.MultiGranularityClassifier.predict_node_proba` on
    their output; a classifier is called directly.

    Parameters
    ----------
    estimator : MultiGranularityClassifier or Pipeline
        A fitted classifier, or a fitted Pipeline whose last step is one.
    X : array-like of shape (n_samples, ...)
        Input of ``estimator`` (raw input of the Pipeline's first step).

    Returns
    -------
    proba : list of ndarray of shape (n_samples, n_nodes_l)
        As ``predict_node_proba``: one array per level, column ``j`` the node
        ``hierarchy_.node_paths(l)[j]``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from mgclassifier import MultiGranularityClassifier, predict_node_proba
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 4))
    >>> Y = np.where(X[:, :2] > 0, "x", "y").astype(object)
    >>> pipe = make_pipeline(StandardScaler(), MultiGranularityClassifier(
    ...     hidden_layer_sizes=(8,), max_epochs=2, random_state=0)).fit(X, Y)
    >>> [proba.shape for proba in predict_node_proba(pipe, X[:3])]
    [(3, 2), (3, 4)]
    """
    classifier, X = _final_step_and_input(estimator, X)
    return classifier.predict_node_proba(X)


def choose_threshold(estimator, X, y):
    """Choose the threshold of ``target_accuracy``, through a Pipeline too.

    ``Pipeline`` forwards only the methods scikit-learn knows, so
    ``pipe.choose_threshold`` does not exist. This runs the steps before the
    last (``transform``, as fitted: nothing is refitted) and the
    classifier's :meth:`~mgclassifier.MultiGranularityClassifier.choose_threshold`
    on their output and ``y``; a classifier is called directly. Set
    ``target_accuracy`` through the Pipeline first if needed
    (``pipe.set_params(<step>__target_accuracy=0.95)``).

    Parameters
    ----------
    estimator : MultiGranularityClassifier or Pipeline
        A fitted classifier, or a fitted Pipeline whose last step is one.
    X : array-like of shape (n_samples, ...)
        Rows like the ones to predict, which trained nothing: input of
        ``estimator`` (raw input of the Pipeline's first step).
    y : array-like of shape (n_samples, n_levels) or (n_samples,)
        Their labels.

    Returns
    -------
    estimator : MultiGranularityClassifier or Pipeline
        ``estimator``, whose classifier has ``path_threshold_`` and
        ``held_out_coverage_`` chosen on ``X`` and ``y``.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from mgclassifier import MultiGranularityClassifier, choose_threshold
    >>> from mgclassifier.datasets import make_hierarchical_classification
    >>> X, Y = make_hierarchical_classification(3000, random_state=0)
    >>> pipe = make_pipeline(StandardScaler(), MultiGranularityClassifier(
    ...     target_accuracy=0.9, max_epochs=5, random_state=0)).fit(X[:2000], Y[:2000])
    >>> pipe = choose_threshold(pipe, X[2000:], Y[2000:])
    >>> pipe[-1].held_out_coverage_["rows"]
    1000
    """
    classifier, X = _final_step_and_input(estimator, X)
    classifier.choose_threshold(X, y)
    return estimator


def _final_step_and_input(estimator, X):
    """The classifier at the end of (nested) Pipelines, and ``X`` through the
    steps before it (``estimator`` itself and ``X`` for a classifier)."""
    while isinstance(estimator, Pipeline):
        if len(estimator) > 1:
            X = estimator[:-1].transform(X)
        estimator = estimator[-1]
    return estimator, X
