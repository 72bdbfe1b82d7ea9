"""scikit-learn's estimator checks, run on the estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from mgclassifier import MultiGranularityClassifier


def _expected_failed_checks(estimator):
    return {
        "check_classifier_multioutput": (
            "It fits independent random multilabel columns; the columns of a "
            "multi-granularity y must form a hierarchy (each label one parent), "
            "so fit rightly raises ValueError. Hierarchical multi-output is "
            "tested in test_estimator.py."
        ),
        "check_sample_weight_equivalence_on_dense_data": (
            "Minibatch SGD: weighting a sample by 2 and duplicating it put "
            "different samples in each batch, so the models differ (as for "
            "sklearn's MLPClassifier)."
        ),
        "check_sample_weight_equivalence_on_sparse_data": (
            "Same reason as check_sample_weight_equivalence_on_dense_data."
        ),
    }


@parametrize_with_checks(
    [MultiGranularityClassifier(hidden_layer_sizes=(32,), random_state=0)],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
