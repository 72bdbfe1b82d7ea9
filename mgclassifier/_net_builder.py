"""Building the skorch net from the estimator's parameters, and what follows
training: checking its outcome, continuing a fitted net.

``MultiGranularityClassifier`` (``_estimator.py``) holds scikit-learn's
contract: parameters, validation, the order of the steps of ``fit`` and
``predict``. Everything that turns those parameters into torch and skorch
objects (the module, loss, optimizer options, callbacks, data iterators,
devices) is here, so the two can be read apart.
"""

import inspect

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.sparsefuncs import mean_variance_axis
from skorch.callbacks import EarlyStopping, ProgressBar

from ._callbacks import (
    DivergenceGuard,
    LevelWeightSchedule,
    OneCycleSchedule,
    WeightAveraging,
)
from ._data import BatchIterator, HoldoutSplit
from ._loss import MultiLevelLoss
from ._module import MultiHeadMLP, TrunkWithHeads, build_trunk, trunk_feature_width
from ._net import MultiGranularityNet
from ._param_checks import head_layers_tuple
from ._warnings import warn_at_caller


def build_net(
    estimator,
    X,
    codes,
    hierarchy,
    level_weights,
    level_weight_schedule,
    class_weights,
    device,
    precision,
    seed,
    incremental,
    standardisation=None,
    feature_scaling="standard",
    sparse_input=False,
    hidden_layer_sizes=(1024,),
    batch_size=512,
    lr=6e-3,
    early_stopping=True,
    hold_out=False,
):
    """The skorch net for the estimator's current parameters (not initialized).

    Parameters
    ----------
    estimator : MultiGranularityClassifier
        Whose hyperparameters the net gets (checked by its ``fit``).
    X : torch.Tensor or scipy sparse matrix
        The training inputs, on the training device.
    codes : ndarray of shape (n_samples, n_levels)
        Node codes of the labels (-1 where missing).
    hierarchy : LabelHierarchy
    level_weights : ndarray of shape (n_levels,)
    level_weight_schedule : dict or None
        ``{epoch: level weights}``, validated.
    class_weights : list of ndarray or None
    device, precision : str
        Resolved (no "auto").
    seed : int
        Seeds the validation split.
    incremental : bool
        ``partial_fit``: one epoch on every row, so no early stopping and a
        constant learning rate.
    standardisation : tuple of torch.Tensor or None
        The ``(mean, scale)`` of the inputs; None computes it from ``X`` as
        ``feature_scaling`` says.
    feature_scaling : {"standard", "none"}
    sparse_input : bool
        Build the first layer for sparse input (``SparseInputLinear``).
    hidden_layer_sizes, batch_size, lr, early_stopping
        Resolved by ``_auto`` (no "auto"); they override the estimator's.
    hold_out : bool, default=False
        Hold ``validation_fraction`` of the rows out of training even
        without early stopping (``target_accuracy`` chooses its threshold on
        them); never for ``partial_fit``.

    Returns
    -------
    net : MultiGranularityNet
    """
    # partial_fit trains on every row it is given.
    early_stopping = early_stopping and not incremental
    # Only flat float features are standardised (not images, token ids).
    flat_float = X.ndim == 2 and (sp.issparse(X) or X.is_floating_point())
    if standardisation is None and flat_float:
        standardisation = (
            feature_standardisation(X)
            if feature_scaling == "standard"
            else identity_standardisation(X.shape[1])
        )
    mean, scale = standardisation if standardisation is not None else (None, None)
    callbacks = [("divergence_guard", DivergenceGuard())]
    if estimator.verbose >= 2:
        callbacks.append(("progress_bar", ProgressBar()))
    if level_weight_schedule is not None:
        callbacks.append(
            ("level_weight_schedule", LevelWeightSchedule(level_weight_schedule))
        )
    if estimator.weight_averaging > 0:
        # Before early stopping, whose best weights are then averaged ones.
        callbacks.append(
            ("weight_averaging", WeightAveraging(estimator.weight_averaging))
        )
    holdout = (
        HoldoutSplit(estimator.validation_fraction, seed)
        if early_stopping or (hold_out and not incremental)
        else None
    )
    n_valid = 0 if holdout is None else holdout.n_valid(X.shape[0])
    if estimator.lr_schedule == "onecycle" and not incremental:
        batches_per_epoch = -(-(X.shape[0] - n_valid) // batch_size)
        callbacks.append(
            (
                "lr_schedule",
                OneCycleSchedule(lr, estimator.max_epochs * batches_per_epoch),
            )
        )
    if holdout is not None and not early_stopping and X.shape[0] - n_valid < 1:
        raise ValueError(
            f"validation_fraction={estimator.validation_fraction} leaves no "
            f"training data out of {X.shape[0]} samples (target_accuracy holds "
            f"these rows out); lower it."
        )
    if early_stopping:
        if X.shape[0] - n_valid < 1:
            raise ValueError(
                f"validation_fraction={estimator.validation_fraction} leaves no "
                f"training data out of {X.shape[0]} samples; lower it or set "
                f"early_stopping=False."
            )
        callbacks.append(
            (
                "early_stopping",
                EarlyStopping(
                    monitor="valid_loss", patience=estimator.patience, load_best=True
                ),
            )
        )
    if estimator.module is None:
        module = dict(
            module=MultiHeadMLP,
            module__n_features=X.shape[1],
            module__level_sizes=hierarchy.n_classes,
            module__hidden_layer_sizes=hidden_layer_sizes,
            module__activation=estimator.activation,
            module__dropout=estimator.dropout,
            module__input_mean=mean,
            module__input_scale=scale,
        )
        if estimator.head_layers is not None:
            # Only when set: a default model's net keeps the old parameters.
            module["module__head_layers"] = head_layers_tuple(estimator.head_layers)
        if sparse_input:
            module["module__sparse_input"] = True
    else:
        module = custom_module_params(
            estimator, X, hierarchy, mean, scale, seed, device
        )
    return MultiGranularityNet(
        **module,
        criterion=MultiLevelLoss,
        criterion__level_sizes=hierarchy.n_classes,
        criterion__parents=hierarchy.parents,
        criterion__level_weights=level_weights,
        criterion__class_weights=class_weights,
        criterion__label_smoothing=estimator.label_smoothing,
        criterion__consistency=estimator.consistency,
        criterion__has_missing=bool((codes < 0).any()),
        optimizer=torch.optim.Adam,
        **adam_options(estimator.alpha_l2, device),
        lr=lr,
        alpha_l1=estimator.alpha_l1,
        autocast=None if precision == "float32" else precision,
        max_epochs=estimator.max_epochs,
        batch_size=batch_size,
        iterator_train=BatchIterator,
        iterator_train__shuffle=True,
        iterator_valid=BatchIterator,
        iterator_valid__batch_size=max(batch_size, 4096),
        train_split=holdout,
        callbacks=callbacks,
        device=device,
        verbose=estimator.verbose,
    )


def custom_module_params(estimator, X, hierarchy, mean, scale, seed, device):
    """skorch's module__ parameters for a custom trunk under the heads.

    Builds the trunk once (seeded, without moving the global RNG) and runs
    it on two rows of ``X`` to find its output width(s).
    """
    trunk_params = {
        name[len("module__") :]: value
        for name, value in estimator.get_params(deep=False).items()
        if name.startswith("module__")
    }
    if isinstance(estimator.module, type) and "n_features" not in trunk_params:
        try:
            signature = inspect.signature(estimator.module)
        except (TypeError, ValueError):
            signature = None
        if signature is not None and "n_features" in signature.parameters:
            trunk_params["n_features"] = int(X.shape[1])
    with torch.random.fork_rng(devices=cuda_devices(device)):
        torch.manual_seed(seed)
        try:
            trunk = build_trunk(estimator.module, trunk_params)
        except ValueError:
            raise  # an instance with module__ parameters: says so
        except Exception as exc:
            # TypeError for wrong arguments, ValueError for anything else.
            error = TypeError if isinstance(exc, TypeError) else ValueError
            name = getattr(estimator.module, "__name__", estimator.module)
            raise error(
                f"module {name} could not be built with the parameters {trunk_params}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        rows = X[:2]
        if sp.issparse(rows):
            raise TypeError(
                f"module {type(trunk).__name__} got a sparse X; a custom "
                f"trunk needs a dense array."
            )
        width = trunk_feature_width(trunk.to(device), rows, hierarchy.n_levels)
    return dict(
        module=TrunkWithHeads,
        module__trunk=estimator.module,
        module__trunk_params=trunk_params,
        module__level_sizes=hierarchy.n_classes,
        module__feature_width=width,
        module__input_mean=mean,
        module__input_scale=scale,
    )


def check_training_outcome(net):
    """Return the epoch whose weights the net holds; fail if none is usable."""
    callbacks = dict(net.callbacks_)
    guard = callbacks["divergence_guard"]
    if guard.diverged_epoch_ is not None:
        if guard.last_good_epoch_ is None:
            raise RuntimeError(
                f"Training diverged: the loss was not finite in epoch "
                f"{guard.diverged_epoch_} and no earlier epoch was; lower lr "
                f"or scale the features."
            )
        warn_at_caller(
            f"Training diverged at epoch {guard.diverged_epoch_} (loss not "
            f"finite); keeping the weights of the best finite epoch.",
            ConvergenceWarning,
        )
    stopper = callbacks.get("early_stopping")
    if stopper is not None and stopper.best_model_weights_ is not None:
        stopper.best_model_weights_ = None  # a weight copy; not worth pickling
        return int(stopper.best_epoch_)
    if guard.diverged_epoch_ is not None:
        return int(guard.last_good_epoch_)
    return len(net.history)


def continue_training(net, fitted):
    """Make the initialized ``net`` start where the ``fitted`` net stopped.

    ``net`` was built from the current parameters (learning rate, dropout,
    loss weights, callbacks, ...); it takes over the fitted weights, Adam's
    moments and the history. Weights and moments are copied, so ``fitted``
    stays usable if this training fails; the history is shared and grows in
    place (a failed fit cuts it back). Tensors are matched by their position
    in ``parameters()``, which dropout layers (present only when dropout > 0)
    do not shift.
    """
    params = list(net.module_.parameters())
    fitted_params = list(fitted.module_.parameters())
    with torch.no_grad():
        for target, source in zip(
            [*params, *net.module_.buffers()],
            [*fitted_params, *fitted.module_.buffers()],
            strict=True,
        ):
            target.copy_(source)
    # Adam's state by parameter position, keyed as the new optimizer's
    # state_dict numbers its parameters; its param groups (lr, weight decay)
    # stay the current ones. load_state_dict moves the state to the device.
    position = {id(p): i for i, p in enumerate(fitted_params)}
    number = {
        id(p): i
        for i, p in enumerate(
            p for group in net.optimizer_.param_groups for p in group["params"]
        )
    }
    state = net.optimizer_.state_dict()
    state["state"] = {
        number[id(params[position[id(param)]])]: {
            key: value.clone() if torch.is_tensor(value) else value
            for key, value in param_state.items()
        }
        for param, param_state in fitted.optimizer_.state.items()
    }
    net.optimizer_.load_state_dict(state)
    net.history_ = fitted.history_


def identity_standardisation(n_features):
    """float32 ``(mean, scale)`` that leave every feature as it is."""
    return torch.zeros(n_features), torch.ones(n_features)


def feature_standardisation(X):
    """Per-feature mean and scale (std, 1 where constant); no centring if sparse.

    ``X`` is a scipy sparse matrix or a dense tensor on the training device,
    where the sums run (chunked, in float64, so no float64 copy of the whole
    of ``X`` is made). Returns float32 CPU tensors.
    """
    if sp.issparse(X):
        mean, var = mean_variance_axis(X, axis=0)
        mean, var = torch.as_tensor(np.zeros_like(mean)), torch.as_tensor(var)
    else:
        # On the CPU each float64 chunk is a fresh allocation, so it should
        # stay small (~4 MB): large ones are mapped and zeroed by the kernel
        # page by page, which took 13x longer over 1M x 128 than the sums.
        # On a GPU larger chunks mean fewer kernel launches.
        chunk_bytes = 2**22 if X.device.type == "cpu" else 2**26
        row_bytes = 8 * max(1, X[:1].numel())
        chunks = X.split(max(1, chunk_bytes // row_bytes))
        mean = sum(chunk.sum(0, dtype=torch.float64) for chunk in chunks) / len(X)
        var = sum((chunk.double() - mean).square_().sum(0) for chunk in chunks)
        mean, var = mean.cpu(), var.cpu() / len(X)
    return standardisation_from_moments(mean, var)


def standardisation_from_moments(mean, var):
    """float32 ``(mean, scale)`` from float64 per-feature mean and variance.

    The scale is the standard deviation, 1 where a feature is constant (to
    float64 rounding of its mean), so constant features pass unscaled.
    """
    scale = var.sqrt()
    scale[scale < 1e-12 * mean.abs().clamp_min(1.0)] = 1.0
    return mean.float(), scale.float()


def adam_options(alpha_l2, device):
    """skorch optimizer parameters: L2 on weights only, fused kernels."""
    options = {}
    if alpha_l2 > 0:
        options["optimizer__weight_decay"] = alpha_l2
        options["optimizer__param_groups"] = [("*bias", {"weight_decay": 0.0})]
    # Fused Adam: one kernel for all parameters. On the CPU it is ~3x faster
    # per step than the loop; on CUDA it saves kernel launches.
    if torch.device(device).type in ("cpu", "cuda"):
        options["optimizer__fused"] = True
    return options


def resolve_device(device):
    """Map "auto" to a concrete device and fail clearly on unusable ones."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device: {exc}"
        ) from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this "
            f"machine; use device='cpu' or device='auto'."
        )
    return device


def cuda_devices(device):
    """Devices whose RNG fork_rng must save and restore (none on CPU)."""
    parsed = torch.device(device)
    if parsed.type != "cuda":
        return []
    return [parsed.index if parsed.index is not None else torch.cuda.current_device()]
