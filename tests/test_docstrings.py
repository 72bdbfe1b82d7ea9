"""numpydoc validation of the public API's docstrings, as scikit-learn does.

Every public class, function, method and property must have a docstring
whose summary, parameters and returns numpydoc can check. The checks left
out below are style choices of this project (short docstrings that point to
a sibling for shared parameters, no mandatory See Also or Examples on every
method), not gaps.
"""

import importlib
import inspect

import pytest

validate = pytest.importorskip(
    "numpydoc.validate", reason="numpydoc is a test dependency (the test extra)"
).validate

PUBLIC_MODULES = [
    "mgclassifier",
    "mgclassifier.datasets",
    "mgclassifier.metrics",
    "mgclassifier.onnx",
    "mgclassifier.plotting",
    "mgclassifier.trunks",
]

IGNORED = {
    "GL01",  # summary may start on the first line of the docstring
    "GL02",  # closing quotes may follow text
    "SA01",  # See Also is not mandatory
    "SA03",  # See Also entries may be unpunctuated
    "EX01",  # Examples: on classes and functions, not on every method
    "ES01",  # an extended summary is not mandatory
    "PR04",  # parameters sharing one entry ("a, b : See ...") have no type
    "RT02",  # Returns entries are "name : type", as in scikit-learn
}


def public_objects():
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if not callable(obj):
                continue  # a constant, such as metrics.SCORERS
            qualified = f"{module_name}.{name}"
            yield qualified
            if not inspect.isclass(obj):
                continue
            for attribute, value in vars(obj).items():
                callable_or_property = inspect.isfunction(value) or isinstance(
                    value, (classmethod, staticmethod, property)
                )
                if not attribute.startswith("_") and callable_or_property:
                    yield f"{qualified}.{attribute}"


OBJECTS = sorted(set(public_objects()))


def test_the_public_api_is_all_checked():
    # A guard on the enumeration: the estimator's methods are among them.
    assert "mgclassifier.MultiGranularityClassifier.predict_proba" in OBJECTS
    assert "mgclassifier.metrics.hierarchical_f1_score" in OBJECTS
    assert len(OBJECTS) > 50


@pytest.mark.parametrize("name", OBJECTS)
def test_docstring_is_valid_numpydoc(name):
    errors = [
        f"{code}: {message}"
        for code, message in validate(name)["errors"]
        if code not in IGNORED
    ]
    assert not errors, "\n".join(errors)
