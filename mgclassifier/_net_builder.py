"""Building the skorch net from the estimator's parameters, and what follows
training: checking its outcome, continuing a fitted net.

``MultiGranularityClassifier`` (``_estimator.py``) holds scikit-learn's
contract: parameters, validation, the order of the steps of ``fit`` and
``predict``. Everything that turns those parameters into torch and skorch
objects (the module, loss, optimizer options, callbacks, data iterators,
devices) is here, so the two can be read apart.
"""

import inspect

import scipy.sparse as sp
import torch
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import ProgressBar

from ._callbacks import (
    AdaptiveThreads,
    BestEpochEarlyStopping,
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
from ._standardisation import input_standardisation
from ._warnings import FitInterruptedWarning, warn_at_caller


def build_net(
    params,
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
    params : dict
        The estimator's parameters (``get_params()``, checked by its ``fit``):
        the hyperparameters the net gets.
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
        Resolved by ``_auto`` (no "auto"); they override ``params``'.
    hold_out : bool, default=False
        Set ``validation_fraction`` of the rows aside, apart from any early
        stopping rows (``target_accuracy`` chooses its threshold on them);
        never for ``partial_fit``.

    Returns
    -------
    net : MultiGranularityNet
    """
    # partial_fit trains on every row it is given.
    early_stopping = early_stopping and not incremental
    if standardisation is None:
        standardisation = input_standardisation(X, feature_scaling)
    mean, scale = standardisation if standardisation is not None else (None, None)
    callbacks = [("divergence_guard", DivergenceGuard())]
    if params["n_threads"] == "auto" and torch.device(device).type == "cpu":
        callbacks.append(("adaptive_threads", AdaptiveThreads()))
    if params["verbose"] >= 2:
        callbacks.append(("progress_bar", ProgressBar()))
    if level_weight_schedule is not None:
        callbacks.append(
            ("level_weight_schedule", LevelWeightSchedule(level_weight_schedule))
        )
    if params["weight_averaging"] > 0:
        # Before early stopping, whose best weights are then averaged ones.
        callbacks.append(
            ("weight_averaging", WeightAveraging(params["weight_averaging"]))
        )
    # target_accuracy's threshold rows are set aside apart from the early
    # stopping rows: rows that chose the epoch or fitted the temperature
    # would not be independent of the model whose accuracy they certify.
    fraction = params["validation_fraction"]
    set_aside = fraction if hold_out and not incremental else None
    holdout = (
        HoldoutSplit(fraction if early_stopping else None, seed, set_aside)
        if early_stopping or set_aside is not None
        else None
    )
    n_valid = 0 if holdout is None else holdout.n_held_out(X.shape[0])
    if params["lr_schedule"] == "onecycle" and not incremental:
        batches_per_epoch = -(-(X.shape[0] - n_valid) // batch_size)
        callbacks.append(
            (
                "lr_schedule",
                OneCycleSchedule(lr, params["max_epochs"] * batches_per_epoch),
            )
        )
    if holdout is not None and X.shape[0] - n_valid < 1:
        held_out_for = " and ".join(
            use
            for use, holds in (
                ("early stopping", early_stopping),
                ("target_accuracy's threshold", set_aside is not None),
            )
            if holds
        )
        raise ValueError(
            f"validation_fraction={params['validation_fraction']} leaves no "
            f"training data out of {X.shape[0]} samples (held out for "
            f"{held_out_for}); lower it"
            + (" or set early_stopping=False." if early_stopping else ".")
        )
    if early_stopping:
        callbacks.append(
            (
                "early_stopping",
                BestEpochEarlyStopping(
                    monitor="valid_loss",
                    patience=params["patience"],
                    load_best=True,
                    sink=None,
                ),
            )
        )
    if params["module"] is None:
        module = dict(
            module=MultiHeadMLP,
            module__n_features=X.shape[1],
            module__level_sizes=hierarchy.n_classes,
            module__hidden_layer_sizes=hidden_layer_sizes,
            module__activation=params["activation"],
            module__dropout=params["dropout"],
            module__input_mean=mean,
            module__input_scale=scale,
        )
        if params["head_layers"] is not None:
            # Only when set: a default model's net keeps the old parameters.
            module["module__head_layers"] = head_layers_tuple(params["head_layers"])
        if sparse_input:
            module["module__sparse_input"] = True
    else:
        module = custom_module_params(params, X, hierarchy, mean, scale, seed, device)
    return MultiGranularityNet(
        **module,
        criterion=MultiLevelLoss,
        criterion__level_sizes=hierarchy.n_classes,
        criterion__parents=hierarchy.parents,
        criterion__level_weights=level_weights,
        criterion__class_weights=class_weights,
        criterion__label_smoothing=params["label_smoothing"],
        criterion__consistency=params["consistency"],
        criterion__has_missing=bool((codes < 0).any()),
        optimizer=torch.optim.Adam,
        **adam_options(params["alpha_l2"], device),
        lr=lr,
        alpha_l1=params["alpha_l1"],
        autocast=None if precision == "float32" else precision,
        max_epochs=params["max_epochs"],
        batch_size=batch_size,
        iterator_train=BatchIterator,
        iterator_train__shuffle=True,
        iterator_valid=BatchIterator,
        iterator_valid__batch_size=max(batch_size, 4096),
        train_split=holdout,
        callbacks=callbacks,
        device=device,
        verbose=params["verbose"],
    )


def custom_module_params(params, X, hierarchy, mean, scale, seed, device):
    """skorch's module__ parameters for a custom trunk under the heads.

    Builds the trunk once (seeded, without moving the global RNG) and runs
    it on two rows of ``X`` to find its output width(s).
    """
    trunk_params = {
        name[len("module__") :]: value
        for name, value in params.items()
        if name.startswith("module__")
    }
    if isinstance(params["module"], type) and "n_features" not in trunk_params:
        try:
            signature = inspect.signature(params["module"])
        except (TypeError, ValueError):
            signature = None
        if signature is not None and "n_features" in signature.parameters:
            trunk_params["n_features"] = int(X.shape[1])
    with torch.random.fork_rng(devices=cuda_devices(device)):
        torch.manual_seed(seed)
        try:
            trunk = build_trunk(params["module"], trunk_params)
        except ValueError:
            raise  # an instance with module__ parameters: says so
        except Exception as exc:
            # TypeError for wrong arguments, ValueError for anything else.
            error = TypeError if isinstance(exc, TypeError) else ValueError
            name = getattr(params["module"], "__name__", params["module"])
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
        module__trunk=params["module"],
        module__trunk_params=trunk_params,
        module__level_sizes=hierarchy.n_classes,
        module__feature_width=width,
        module__input_mean=mean,
        module__input_scale=scale,
    )


def check_training_outcome(net):
    """Return the epoch whose weights the net holds; fail if none is usable.

    Raises
    ------
    KeyboardInterrupt
        When training was interrupted (Ctrl-C) before any epoch of this
        call ended: there is nothing to keep.
    RuntimeError
        When the loss was never finite.
    """
    callbacks = dict(net.callbacks_)
    guard = callbacks["divergence_guard"]
    if (
        getattr(net, "interrupted_", None) is not None
        and guard.last_good_epoch_ is None
    ):
        raise KeyboardInterrupt(
            f"fit was interrupted in epoch {net.interrupted_}, before any "
            f"epoch of this fit had ended; nothing was kept."
        )
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
    if stopper is not None and stopper.kept_epoch_ is not None:
        return stopper.kept_epoch_
    if guard.diverged_epoch_ is not None:
        return int(guard.last_good_epoch_)
    return len(net.history)


def warn_if_interrupted(net, best_epoch, steps_after, checkpoints):
    """Say what an interrupted fit kept (``FitInterruptedWarning``).

    ``steps_after`` names the steps that ran on the kept weights
    (calibration, the threshold); ``checkpoints`` whether the fit wrote
    them, so that it can be resumed.
    """
    interrupted = getattr(net, "interrupted_", None)
    if interrupted is None:
        return
    kept = len(net.history)
    if interrupted > kept:
        what = (
            f"fit was interrupted (KeyboardInterrupt) in epoch {interrupted}; "
            f"that epoch is left out of history_ (n_epochs_={kept})"
        )
    else:  # in the epoch's last callbacks, after its row was recorded
        what = (
            f"fit was interrupted (KeyboardInterrupt) at the end of epoch "
            f"{kept} (n_epochs_={kept})"
        )
    if "early_stopping" not in dict(net.callbacks_):
        why = "the last completed one"
    elif best_epoch == kept:
        why = "the last completed one and the best by validation loss"
    else:
        why = "the best by validation loss, restored as early stopping does"
    after = f"; {' and '.join(steps_after)} ran on them" if steps_after else ""
    again = (
        f"fit again with the same checkpoint_dir to resume at epoch {kept + 1}"
        if checkpoints
        else "fit again to train anew"
    )
    warn_at_caller(
        f"{what}. The model holds the weights of epoch {best_epoch} "
        f"(best_epoch_={best_epoch}), {why}{after}. It predicts; {again}.",
        FitInterruptedWarning,
    )


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
