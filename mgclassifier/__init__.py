"""Multi-granularity classification: one network, every level of a label hierarchy."""

from ._estimator import MultiGranularityClassifier
from ._hierarchy import LabelHierarchy
from ._pipeline import choose_threshold, predict_node_proba
from ._warnings import FitInterruptedWarning, FitResumedWarning, HierarchyWarning

__all__ = [
    "FitInterruptedWarning",
    "FitResumedWarning",
    "HierarchyWarning",
    "LabelHierarchy",
    "MultiGranularityClassifier",
    "choose_threshold",
    "predict_node_proba",
]
__version__ = "0.1.0"
