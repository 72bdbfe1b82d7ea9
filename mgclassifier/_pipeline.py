"""A fitted classifier behind a scikit-learn ``Pipeline`` that ends in it."""

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
    while isinstance(estimator, Pipeline):
        if len(estimator) > 1:
            X = estimator[:-1].transform(X)
        estimator = estimator[-1]
    return estimator.predict_node_proba(X)
