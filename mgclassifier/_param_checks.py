"""Checks of hyperparameters whose valid values depend on the data.

``MultiGranularityClassifier._parameter_constraints`` checks each parameter's
type and range when ``fit`` starts (scikit-learn's ``validate_params``). What
it cannot express (one weight per level, a layer index per level, labels a
``class_weight`` dict may name) is checked here, once the labels are known,
with messages that name the parameter; so is whether a resumed fit
(``warm_start``, ``partial_fit``) can continue the fitted network.
"""

from numbers import Integral

import numpy as np

from ._hierarchy import _py
from ._module import is_trunk

AUXILIARY_LEVEL_WEIGHT = 0.25
"""Loss weight of each coarse level under ``level_weights="auxiliary"``."""


def check_hidden_layer_sizes(sizes):
    """Layer widths as a tuple of positive ints; fail on anything else."""
    sizes = np.asarray(sizes, dtype=object).ravel()
    for size in sizes:
        if isinstance(size, (bool, np.bool_)) or not isinstance(size, Integral):
            raise ValueError(
                f"hidden_layer_sizes must hold integers, got {_py(size)!r} in "
                f"{[_py(s) for s in sizes]}."
            )
        if size < 1:
            raise ValueError(
                f"hidden_layer_sizes must be positive, got {int(size)} in "
                f"{[_py(s) for s in sizes]}."
            )
    return tuple(int(s) for s in sizes)


def head_layers_tuple(head_layers):
    """``head_layers`` as a tuple of ints (None stays None)."""
    if head_layers is None:
        return None
    depths = np.asarray(head_layers, dtype=object).ravel()
    for depth in depths:
        if isinstance(depth, (bool, np.bool_)) or not isinstance(depth, Integral):
            raise ValueError(
                f"head_layers must hold layer indices (int), got {_py(depth)!r}."
            )
    return tuple(int(d) for d in depths)


def named_level_weights(level_weights, n_levels):
    """Resolve None ("equal") and "auxiliary" to a weight per level."""
    if level_weights is None or (
        isinstance(level_weights, str) and level_weights == "equal"
    ):
        return np.ones(n_levels)
    if isinstance(level_weights, str) and level_weights == "auxiliary":
        return np.r_[np.full(n_levels - 1, AUXILIARY_LEVEL_WEIGHT), 1.0]
    return level_weights


def check_level_weight_vector(weights, n_levels, name):
    weights = np.asarray(weights, dtype=np.float32)
    if weights.shape != (n_levels,):
        raise ValueError(
            f"{name} must have one weight per level ({n_levels}), got shape "
            f"{weights.shape}."
        )
    if not np.all(np.isfinite(weights)) or weights.min() < 0 or weights.sum() == 0:
        raise ValueError(
            f"{name} must be finite, non-negative and not all zero; got "
            f"{weights.tolist()}."
        )
    return weights


def level_class_weight(entry, level_codes, classes, level):
    """Weights of one level's nodes from None, "balanced" or a dict.

    ``classes`` is the label of each node; a label under several parents
    appears once per node, and a dict entry weighs all of them.
    """
    weights = np.ones(len(classes), dtype=np.float32)
    if entry is None:
        return weights
    if isinstance(entry, str) and entry == "balanced":
        labelled = level_codes[level_codes >= 0]
        counts = np.bincount(labelled, minlength=len(classes)).astype(np.float64)
        present = counts > 0  # classes absent from this data (partial_fit) weigh 1
        weights[present] = len(labelled) / (present.sum() * counts[present])
        return weights
    if not isinstance(entry, dict):
        raise ValueError(
            f"class_weight entries must be None, 'balanced' or a dict; got "
            f"{entry!r} for level {level}."
        )
    index = {}
    for i, label in enumerate(classes):
        index.setdefault(_py(label), []).append(i)
    for label, weight in entry.items():
        if _py(label) not in index:
            raise ValueError(
                f"class_weight names label {label!r}, which is not a class of "
                f"level {level} ({list(index)[:10]})."
            )
        if not np.isfinite(weight) or weight < 0:
            raise ValueError(
                f"class_weight of {label!r} must be finite and non-negative, "
                f"got {weight!r}."
            )
        weights[index[_py(label)]] = weight
    return weights


def check_module_param_name(name):
    if not name.startswith("module__") or len(name) == len("module__"):
        raise TypeError(
            f"MultiGranularityClassifier got an unexpected keyword argument "
            f"{name!r}; only the trunk's parameters, module__<name>, are "
            f"accepted besides the documented ones."
        )


def same_param(a, b):
    """Whether a structural parameter kept its value (identity or equality)."""
    if a is b:
        return True
    try:
        return bool(type(a) is type(b) and np.all(a == b))
    except Exception:
        return False


def same_hierarchy(a, b):
    """Whether two LabelHierarchy objects have the same classes and parents."""
    return (
        a.n_levels == b.n_levels
        and all(np.array_equal(x, y) for x, y in zip(a.classes, b.classes))
        and all(np.array_equal(x, y) for x, y in zip(a.parents, b.parents))
    )


def check_module_params(
    module, head_layers, module_params, n_levels, hidden_layer_sizes
):
    """Fail clearly on a ``module`` or ``head_layers`` that cannot work."""
    if module is None:
        stray = sorted(module_params)
        if stray:
            raise ValueError(
                f"{stray} set parameters of a custom trunk, but module=None "
                f"(the built-in MLP); set module to a torch.nn.Module class."
            )
        depths = head_layers_tuple(head_layers)
        n_layers = len(hidden_layer_sizes)
        if depths is not None and (
            len(depths) != n_levels
            or any(not -n_layers <= d < n_layers for d in depths)
        ):
            raise ValueError(
                f"head_layers={list(depths)} must give one layer index per "
                f"level ({n_levels}), each in [-{n_layers}, {n_layers - 1}] "
                f"for hidden_layer_sizes with {n_layers} layers."
            )
        return
    if head_layers is not None:
        raise ValueError(
            "head_layers applies to the built-in trunk (module=None); a "
            "custom module returns one tensor per level instead."
        )
    if not is_trunk(module):
        raise TypeError(
            f"module must be a torch.nn.Module class or instance (or None for "
            f"the built-in MLP), got {module!r} "
            f"({type(module).__name__})."
        )


def check_resumable(
    y_was_1d, fitted_y_was_1d, structure, fitted_structure, declared, fitted_hierarchy
):
    """Fail clearly when a resumed fit cannot continue the fitted network.

    ``warm_start`` and ``partial_fit`` go on training the network of the
    first fit, so what fixes its shape cannot change: the trunk (the
    ``structure`` parameters, now and as fitted), the inputs (checked by
    ``validate_data``) and the label hierarchy. ``declared`` is the
    hierarchy of partial_fit's ``classes``, if given.
    """
    if y_was_1d != fitted_y_was_1d:
        raise ValueError(
            f"y is {'1-D' if y_was_1d else '2-D'} but the estimator was "
            f"fitted on a {'1-D' if fitted_y_was_1d else '2-D'} y."
        )
    for name in {**fitted_structure, **structure}:
        value, was = structure.get(name), fitted_structure.get(name)
        if not same_param(value, was):
            raise ValueError(
                f"{name}={value!r} differs from {was!r}, which the "
                f"fitted network was built with; warm_start and partial_fit "
                f"continue training that network. Set {name} back to "
                f"{was!r}, or fit afresh (warm_start=False)."
            )
    if declared is not None and not same_hierarchy(declared, fitted_hierarchy):
        raise ValueError(
            "classes describes another hierarchy than the one the estimator "
            "was fitted on (by the first partial_fit call); pass the same "
            "paths on every call, or None after the first."
        )


def check_level_weight_schedule(level_weight_schedule, n_levels):
    """The B-CNN style schedule as ``{epoch: weights}``, validated, or None."""
    if level_weight_schedule is None:
        return None
    schedule = {}
    for epoch, weights in level_weight_schedule.items():
        if isinstance(epoch, bool) or not isinstance(epoch, Integral) or epoch < 1:
            raise ValueError(
                f"level_weight_schedule keys must be epochs (int >= 1), got {epoch!r}."
            )
        schedule[int(epoch)] = check_level_weight_vector(
            weights, n_levels, f"level_weight_schedule[{epoch}]"
        )
    return schedule


def class_weight_arrays(class_weight, codes, hierarchy):
    """Per-level class weight arrays from ``class_weight``, or None when no
    level is weighted."""
    if class_weight is None:
        return None
    if isinstance(class_weight, list):
        if len(class_weight) != hierarchy.n_levels:
            raise ValueError(
                f"class_weight as a list needs one entry per level "
                f"({hierarchy.n_levels}), got {len(class_weight)}."
            )
        per_level = class_weight
    elif isinstance(class_weight, dict):
        per_level = [None] * (hierarchy.n_levels - 1) + [class_weight]
    else:
        per_level = [class_weight] * hierarchy.n_levels
    return [
        level_class_weight(entry, codes[:, level], hierarchy.node_labels(level), level)
        for level, entry in enumerate(per_level)
    ]
