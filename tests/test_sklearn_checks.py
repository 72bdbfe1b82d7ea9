"""scikit-learn's estimator checks, run on the estimator."""

import pytest
from _helpers import TINY_BUDGETS
from _trunks import TableMLP
from sklearn.utils.estimator_checks import parametrize_with_checks

from mgclassifier import MultiGranularityClassifier

# Each check takes under a second, but there are over a hundred of them. The
# checks' tiny data sets run out of max_epochs while learning, and the
# multi-output check's independent 0/1 columns give rare paths: no mistakes.
pytestmark = [
    pytest.mark.slow,
    TINY_BUDGETS,
    pytest.mark.filterwarnings("ignore::mgclassifier.HierarchyWarning"),
]


def _expected_failed_checks(estimator):
    return {
        "check_classifier_multioutput": (
            "Its independent 0/1 columns fit (0 and 1 repeat under both parents, "
            "one node per path) and predict has the expected shape and dtype, "
            "but the check also wants each column of predict to be the argmax "
            "of that level's predict_proba. predict decodes the most probable "
            "whole path, whose labels need not each be the most probable label "
            "of their level (a label's probability sums several paths). What "
            "holds instead is tested in test_taxonomies.py "
            "(test_sklearn_multioutput_check_data_fits)."
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


def _expected_failed_checks_custom_trunk(estimator):
    return {
        **_expected_failed_checks(estimator),
        "check_no_attributes_set_in_init": (
            "The trunk's own parameters (module__width here) are set as "
            "attributes by __init__'s **module__params, as in skorch's "
            "NeuralNet: get_params lists them, so clone, set_params and "
            "GridSearchCV handle them (test_trunks.py), but the check only "
            "allows the attributes named in __init__'s signature."
        ),
    }


@parametrize_with_checks(
    [
        MultiGranularityClassifier(hidden_layer_sizes=(32,), random_state=0),
        # An ensemble: one block of logits per member, averaged probabilities.
        MultiGranularityClassifier(
            hidden_layer_sizes=(32, 32), n_members=3, random_state=0
        ),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@parametrize_with_checks(
    [MultiGranularityClassifier(random_state=0)],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_default_estimator(estimator, check):
    # The defaults as a user gets them (a 1024-unit trunk, 30 epochs): among
    # others, check_methods_subset_invariance holds a row's float64
    # probabilities to 1e-7 whatever the rows predicted with it.
    check(estimator)


@parametrize_with_checks(
    [MultiGranularityClassifier(module=TableMLP, module__width=32, random_state=0)],
    expected_failed_checks=_expected_failed_checks_custom_trunk,
)
def test_sklearn_compatible_estimator_custom_trunk(estimator, check):
    # A custom trunk (module=) with a module__ parameter: clone, get_params,
    # set_params and the input checks hold as for the built-in MLP.
    check(estimator)
