"""Every parameter of a fit, checked and resolved once: :class:`FitConfig`.

``MultiGranularityClassifier.fit`` checks each parameter's type and range
(scikit-learn's ``_parameter_constraints``), then :func:`check_fit_params`
the combinations those cannot express, then the data; with the labels
read, :func:`resolve_config` checks what depends on the data (one weight
per level, a layer index per level, the labels a ``class_weight`` dict
names, whether a resumed fit can continue the fitted network, whether the
held-out rows leave rows to train on), applies the ``"auto"`` rules
(``_auto``) and resolves the device and the precision. Every check raises
here, before any data is copied or moved. Training, the net builder,
checkpoints and the data-parallel path read the frozen configuration it
returns; nothing below keeps a default of its own.
"""

import dataclasses
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

from ._auto import (
    resolve_batch_size,
    resolve_dropout,
    resolve_early_stopping,
    resolve_feature_scaling,
    resolve_hidden_layer_sizes,
    resolve_lr,
    resolve_max_epochs,
)
from ._data._batches import held_out_count
from ._data._out_of_core import is_out_of_core
from ._devices import process_count, resolve_device, resolve_precision
from ._hierarchy import _py
from ._network._module import ACTIVATIONS as _ACTIVATION_LAYERS
from ._network._module import is_trunk, probe_trunk
from ._prediction._selective import SelectiveTarget


@dataclass(frozen=True)
class NetworkConfig:
    """The network's constructor arguments (a checkpoint's must match).

    Attributes
    ----------
    n_features : int
        Columns of ``X`` (channels of an image array).
    level_sizes : tuple of int
        Nodes of each level, coarse to fine: the width of each head.
    module : torch.nn.Module class or instance or None
        The custom trunk; None for the built-in MLP.
    module_params : tuple of (str, object)
        A custom trunk class's parameters (``module__<name>``), with
        ``n_features`` where its class takes one and none was given.
    hidden_layer_sizes : tuple of int
        The built-in trunk's widths.
    activation : str
    dropout : float
    n_members : int
        Ensemble members trained together (1: one network).
    head_layers : tuple of int or None
    sparse_input : bool
        A first layer for sparse input (fitted on a sparse ``X``).
    feature_width : int, tuple of int or None
        A custom trunk's output width(s), from a forward pass of two rows.
    feature_scaling : {"standard", "none"}
    numeric_embeddings : {"piecewise_linear"} or None
        Embeddings of each numeric feature before the built-in trunk.
    """

    n_features: int
    level_sizes: tuple
    module: object
    module_params: tuple
    hidden_layer_sizes: tuple
    activation: str
    dropout: float
    n_members: int
    head_layers: tuple | None
    sparse_input: bool
    feature_width: object
    feature_scaling: str
    numeric_embeddings: str | None = None


@dataclass(frozen=True)
class TrainingConfig:
    """How the network is trained: what a checkpoint's training must match.

    The loss (``level_weights`` as one weight per level, the schedule as
    ``(epoch, weights)`` pairs, ``class_weights`` as one array per level or
    None), the optimizer and its schedule, the epochs and the held-out rows
    (``early_stopping`` and ``hold_out`` already false for ``partial_fit``,
    whose rate is ``"constant"``; ``train_rows``, the rows of each process
    left to train on, sets the one-cycle schedule's length), the precision
    of the forward passes, and the ``random_state`` asked for (the seed
    drawn from it is :attr:`FitConfig.seed`).
    """

    level_weights: tuple
    level_weight_schedule: tuple | None
    class_weights: tuple | None
    label_smoothing: float
    consistency: float
    alpha_l1: float
    alpha_l2: float
    weight_averaging: float
    lr: float
    lr_schedule: str
    batch_size: int
    max_epochs: int
    early_stopping: bool
    patience: int
    validation_fraction: float
    hold_out: bool
    train_rows: int
    precision: str
    random_state: int | None
    incremental: bool


@dataclass(frozen=True)
class FitConfig:
    """One fit's parameters, checked and resolved (see :func:`resolve_config`).

    Attributes
    ----------
    network : NetworkConfig
    training : TrainingConfig
        With :attr:`network`, everything that changes the trained weights.
    device : str
        A concrete torch device (this process's GPU in a data-parallel fit).
    seed : int
        Seeds the weights, the batches, dropout and the held-out split.
    processes : int
        Processes that train together (1 unless ``distributed``).
    verbose : int
    n_threads : int, "auto" or None
        torch's CPU threads (``_cpu_threads``); "auto" also follows the load
        after every epoch.
    level_names : tuple of str or None
        The levels' names for the printed log.
    checkpoint_dir : str or path-like or None
        None for a resumed fit (``warm_start``, ``partial_fit``).
    calibrate : bool
    coarse_decoding_weight : float
    target : SelectiveTarget or None
        ``target_accuracy`` and its companions (None without).
    n_neighbors : int
        Training rows that vote at prediction (0: none).
    neighbors_weight : float
        Their votes' share of the path probabilities.
    """

    network: NetworkConfig
    training: TrainingConfig
    device: str
    seed: int
    processes: int
    verbose: int
    n_threads: object
    level_names: tuple | None
    checkpoint_dir: object
    calibrate: bool
    coarse_decoding_weight: float
    target: SelectiveTarget | None
    n_neighbors: int = 0
    neighbors_weight: float = 0.0

    def training_fingerprint(self):
        """The parameters that change the trained weights, by name: the
        fields of :attr:`network` (but the data's ``n_features`` and
        ``level_sizes``) and of :attr:`training`. What is left out (the
        device, the verbosity, calibration, decoding, the target's
        confidence...) may change when a checkpoint is resumed."""
        fields = {
            **dataclasses.asdict(self.network),
            **dataclasses.asdict(self.training),
        }
        for data_field in ("n_features", "level_sizes"):
            fields.pop(data_field)
        return fields


def selective_target(estimator):
    """The estimator's ``target_accuracy`` as its parameters are now (None
    without one)."""
    if estimator.target_accuracy is None:
        return None
    batch_size = estimator.target_batch_size
    return SelectiveTarget(
        float(estimator.target_accuracy),
        float(estimator.target_confidence),
        None if batch_size is None else int(batch_size),
    )


def check_fit_params(estimator, incremental, resume):
    """Fail on combinations of parameters no fit can serve, before the data
    is looked at (the ranges are the parameter constraints')."""
    check_selective_params(estimator, incremental)
    if estimator.n_members > 1 and estimator.module is not None:
        raise ValueError(
            f"n_members={estimator.n_members} trains an ensemble of the built-in "
            f"trunk, whose layers the members share; with a custom module use "
            f"n_members=1."
        )
    if not estimator.distributed:
        return
    if resume or incremental or estimator.checkpoint_dir is not None:
        raise ValueError(
            "distributed=True trains a fit from scratch; it cannot be "
            "combined with warm_start, partial_fit or checkpoint_dir."
        )
    if estimator.target_accuracy is not None:
        # Each process would choose its own threshold on its own rows.
        raise ValueError(
            "distributed=True cannot be combined with target_accuracy: "
            "fit without distributed to choose the threshold, or set "
            "min_path_probability yourself."
        )


def prediction_threshold(estimator, fitted_target):
    """The threshold ``predict`` cuts paths at: ``min_path_probability``, the
    one ``fit`` chose for ``target_accuracy``, or None (full paths).

    ``fitted_target`` is the :class:`SelectiveTarget` the fitted threshold
    was chosen for (None if none was); a target set since is refused.
    """
    current = selective_target(estimator)
    if current is None:
        return estimator.min_path_probability
    if estimator.min_path_probability is not None:
        check_selective_params(estimator, incremental=False)  # raises
    if fitted_target != current:
        was = (
            "without target_accuracy"
            if fitted_target is None
            else f"for {fitted_target.describe()}"
        )
        raise ValueError(
            f"{current.describe()}: the threshold is chosen by fit, "
            f"and this model was fitted {was}; fit it again with these values, "
            f"or choose the threshold on labelled rows that trained nothing "
            f"with choose_threshold(X, y)."
        )
    return estimator.path_threshold_


def check_selective_params(estimator, incremental):
    """Fail on a combination ``target_accuracy`` cannot serve."""
    if estimator.target_accuracy is None:
        return
    if estimator.min_path_probability is not None:
        raise ValueError(
            f"target_accuracy={estimator.target_accuracy!r} and "
            f"min_path_probability={estimator.min_path_probability!r} both set "
            f"the threshold at which predicted paths stop; set one of them to "
            f"None (target_accuracy chooses the threshold on held-out rows, "
            f"min_path_probability is a threshold you choose)."
        )
    if incremental:
        raise ValueError(
            f"target_accuracy={estimator.target_accuracy!r} chooses its "
            f"threshold on rows that fit holds out, and partial_fit holds none "
            f"out; use fit, or set target_accuracy=None (min_path_probability "
            f"sets a threshold by hand)."
        )


def resolve_config(estimator, X, hierarchy, codes, *, incremental, resume, level_names):
    """The :class:`FitConfig` of a fit of ``estimator`` on validated data.

    Parameters
    ----------
    estimator : MultiGranularityClassifier
        Its parameters (checked by the constraints and
        :func:`check_fit_params`) and, for a resumed fit, its fitted
        network's shape.
    X : ndarray, sparse matrix or OutOfCoreArray
        The validated training inputs (their shape and kind, two rows for a
        custom trunk's forward pass); all processes' rows.
    hierarchy : LabelHierarchy
    codes : ndarray of shape (n_samples, n_levels)
        Node codes of the labels (-1 where missing).
    incremental : bool
        ``partial_fit``: one epoch on every row.
    resume : bool
        Whether the fit continues the fitted network.
    level_names : list of str or None

    Returns
    -------
    FitConfig
    """
    e, n_levels = estimator, hierarchy.n_levels
    processes = process_count(e.distributed)
    sparse = sp.issparse(X)
    # In a data-parallel fit the processes share n // processes rows each.
    rows_per_process = X.shape[0] // processes
    n_rows = rows_per_process * processes
    if processes > 1 and rows_per_process < 2:
        raise ValueError(
            f"distributed=True over {processes} processes needs at least 2 "
            f"rows per process; X has {X.shape[0]} rows."
        )
    # The "auto" rules; a resumed fit keeps its network's shape.
    hidden_layer_sizes = (
        e.hidden_layer_sizes_
        if resume
        else check_hidden_layer_sizes(
            resolve_hidden_layer_sizes(e.hidden_layer_sizes, sparse, e.n_members)
        )
    )
    if e.n_members > 1 and e.module is None and not hidden_layer_sizes:
        raise ValueError(
            f"n_members={e.n_members} needs at least one hidden layer: the "
            f"members share the trunk's weights; hidden_layer_sizes is empty."
        )
    dropout = resolve_dropout(e.dropout, sparse, e.n_members)
    feature_scaling = resolve_feature_scaling(e.feature_scaling, sparse)
    batch_size = resolve_batch_size(e.batch_size, n_rows, sparse)
    lr = resolve_lr(e.lr, batch_size)
    early_stopping = not incremental and resolve_early_stopping(
        e.early_stopping, n_rows, sparse
    )
    target = selective_target(e)
    hold_out = target is not None and not incremental
    # What depends on the data.
    held_out = held_out_count(
        rows_per_process,
        e.validation_fraction if early_stopping else None,
        e.validation_fraction if hold_out else None,
    )
    if held_out and held_out >= rows_per_process:
        _no_training_rows(
            e.validation_fraction, rows_per_process, early_stopping, hold_out
        )
    check_module_params(
        e.module, e.head_layers, e._module_params(), n_levels, hidden_layer_sizes
    )
    level_weights = check_level_weight_vector(
        named_level_weights(e.level_weights, n_levels), n_levels, "level_weights"
    )
    schedule = check_level_weight_schedule(e.level_weight_schedule, n_levels)
    class_weights = class_weight_arrays(e.class_weight, codes, hierarchy)
    device = resolve_device(e.device, distributed=processes > 1)
    precision = resolve_precision(e.precision, device)
    seed = check_random_state(e.random_state).randint(np.iinfo(np.int32).max)
    module_params = {
        name[len("module__") :]: value for name, value in e._module_params().items()
    }
    feature_width = None
    if e.module is not None:
        module_params, feature_width = probe_trunk(
            e.module, module_params, X[:2], n_levels, device, seed
        )
    network = NetworkConfig(
        n_features=int(X.shape[1]),
        level_sizes=tuple(int(n) for n in hierarchy.n_nodes),
        module=e.module,
        module_params=tuple(sorted(module_params.items())),
        hidden_layer_sizes=tuple(hidden_layer_sizes),
        activation=e.activation,
        dropout=float(dropout),
        n_members=int(e.n_members),
        head_layers=head_layers_tuple(e.head_layers),
        sparse_input=bool(getattr(e.net_, "module__sparse_input", False))
        if resume
        else sparse,
        feature_width=feature_width,
        feature_scaling=feature_scaling,
        numeric_embeddings=_numeric_embeddings(e, X, processes, resume),
    )
    random_state = e.random_state
    training = TrainingConfig(
        level_weights=tuple(level_weights.tolist()),
        level_weight_schedule=None
        if schedule is None
        else tuple((epoch, tuple(w.tolist())) for epoch, w in schedule.items()),
        class_weights=None if class_weights is None else tuple(class_weights),
        label_smoothing=float(e.label_smoothing),
        consistency=float(e.consistency),
        alpha_l1=float(e.alpha_l1),
        alpha_l2=float(e.alpha_l2),
        weight_averaging=float(e.weight_averaging),
        lr=float(lr),
        lr_schedule="constant" if incremental else e.lr_schedule,
        batch_size=int(batch_size),
        max_epochs=int(resolve_max_epochs(e.max_epochs, X)),
        early_stopping=bool(early_stopping),
        patience=int(e.patience),
        validation_fraction=float(e.validation_fraction),
        hold_out=hold_out,
        train_rows=rows_per_process - held_out,
        precision=precision,
        # A RandomState's draw is the seed: only an int (or None) is asked for.
        random_state=int(random_state)
        if isinstance(random_state, (int, np.integer))
        else None,
        incremental=bool(incremental),
    )
    return FitConfig(
        network=network,
        training=training,
        device=device,
        seed=int(seed),
        processes=processes,
        verbose=int(e.verbose),
        n_threads=e.n_threads,
        level_names=None if level_names is None else tuple(level_names),
        checkpoint_dir=None if resume or incremental else e.checkpoint_dir,
        calibrate=bool(e.calibrate),
        coarse_decoding_weight=float(e.coarse_decoding_weight),
        target=target,
        n_neighbors=_n_neighbors(e, processes, incremental),
        neighbors_weight=float(e.neighbors_weight),
    )


def _n_neighbors(estimator, processes, incremental):
    """``n_neighbors``, refused where the training rows are not all here."""
    refusal = (
        "distributed=True; each process holds only its share of the rows that "
        "would vote"
        if processes > 1
        else "partial_fit; each call sees only its own rows, and the votes would "
        "be of the last call's alone. Fit on every row, or set n_neighbors=0 for "
        "partial_fit"
        if incremental
        else None
    )
    if estimator.n_neighbors and refusal is not None:
        raise ValueError(
            f"n_neighbors={estimator.n_neighbors} does not work with {refusal}."
        )
    return int(estimator.n_neighbors)


def _numeric_embeddings(estimator, X, processes, resume):
    """``numeric_embeddings`` where it can apply; a resumed fit keeps its
    network's (embedded or not)."""
    if resume:
        embedded = getattr(estimator.net_, "module__embedding_bins", None)
        return None if embedded is None else "piecewise_linear"
    kind = estimator.numeric_embeddings
    if kind is None:
        return None
    refusal = (
        "a custom trunk (module=), which takes the features as it wants them"
        if estimator.module is not None
        else "a sparse X; embeddings need dense features"
        if sp.issparse(X)
        else "an out-of-core X; the bins are placed on rows in memory"
        if is_out_of_core(X)
        else "distributed=True; each process would place its own bins"
        if processes > 1
        else None
    )
    if refusal is not None:
        raise ValueError(f"numeric_embeddings={kind!r} does not work with {refusal}.")
    return kind


def _no_training_rows(fraction, n_rows, early_stopping, hold_out):
    """Raise: the held-out rows of ``n_rows`` leave none to train on."""
    held_out_for = " and ".join(
        use
        for use, holds in (
            ("early stopping", early_stopping),
            ("target_accuracy's threshold", hold_out),
        )
        if holds
    )
    raise ValueError(
        f"validation_fraction={fraction} leaves no training data out of "
        f"{n_rows} samples (held out for {held_out_for}); lower it"
        + (" or set early_stopping=False." if early_stopping else ".")
    )


def network_structure(estimator):
    """The parameters that fix the network's shape, as they are now (raw:
    ``"auto"`` stays ``"auto"``); a resumed fit must find them unchanged."""
    if estimator.module is None:
        sizes = estimator.hidden_layer_sizes
        return {
            "module": None,
            "hidden_layer_sizes": sizes
            if isinstance(sizes, str)
            else check_hidden_layer_sizes(sizes),
            "activation": estimator.activation,
            "head_layers": head_layers_tuple(estimator.head_layers),
            "feature_scaling": estimator.feature_scaling,
            "n_members": estimator.n_members,
        }
    return {
        "module": estimator.module,
        "feature_scaling": estimator.feature_scaling,
        "n_members": estimator.n_members,
        **estimator._module_params(),
    }


ACTIVATIONS = tuple(_ACTIVATION_LAYERS)
"""The names ``activation`` takes."""

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
