"""Training: from validated arrays and plain parameter values to a fitted net.

``MultiGranularityClassifier.fit`` validates its input, builds the label
hierarchy and resolves the ``"auto"`` parameters; then it makes one call,
:func:`train`, and sets its fitted attributes from what that call returns
(:class:`TrainedNet`). Everything torch does during a fit happens here or
below: the device and precision, the dataset on the device, the skorch net
(``_net_builder``), the seeded training run, the check of its outcome, the
prediction engine and the calibration temperature.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from . import _out_of_core
from ._calibration import held_out_temperature
from ._callbacks import LevelNamePrintLog
from ._checkpoint import CheckpointStore, fit_fingerprint, fit_with_checkpoints
from ._chunked_data import out_of_core_dataset
from ._convergence import warn_if_budget_ran_out
from ._data import ArrayDataset, HoldoutSplit
from ._net_builder import (
    build_net,
    check_training_outcome,
    continue_training,
    cuda_devices,
    resolve_device,
)
from ._precision import resolve_precision
from ._prediction import Predictor
from ._selective import SelectiveTarget, held_out_threshold
from ._standardisation import fitted_standardisation


@dataclass(frozen=True)
class TrainedNet:
    """What a fit hands back to the estimator.

    Attributes
    ----------
    net : MultiGranularityNet
        The trained skorch net, in eval mode, holding the best epoch's weights.
    best_epoch : int
        The epoch whose weights ``net`` holds.
    temperature : float
        The calibration temperature (1 without calibration).
    predictor : Predictor
        The trained network and the prediction engine of the tree, on the
        net's device, with that temperature.
    precision : {"float32", "bfloat16"}
        The precision training ran in.
    held_out_rows : ndarray of int or None
        The validation rows (early stopping and the temperature); None
        without early stopping.
    path_threshold : float or None
        The threshold chosen for ``target`` on the rows set aside for it;
        None without one.
    held_out_coverage : dict or None
        What those rows return at that threshold (see
        ``_selective.held_out_threshold``); None without ``target``.
    target : SelectiveTarget or None
        What the threshold was chosen for.
    """

    net: object
    best_epoch: int
    temperature: float
    predictor: Predictor
    precision: str
    held_out_rows: np.ndarray | None
    path_threshold: float | None = None
    held_out_coverage: dict | None = None
    target: SelectiveTarget | None = None


def train(
    X,
    codes,
    hierarchy,
    params,
    *,
    sample_weight,
    level_weights,
    level_weight_schedule,
    class_weights,
    hidden_layer_sizes,
    batch_size,
    lr,
    early_stopping,
    feature_scaling,
    seed,
    incremental=False,
    level_names=None,
    fitted_net=None,
    fitted_temperature=1.0,
    parallel=None,
    checkpoint_dir=None,
    target=None,
):
    """Train the network on ``X`` and ``codes``; return a :class:`TrainedNet`.

    Parameters
    ----------
    X : ndarray, sparse matrix or OutOfCoreArray
        The validated training inputs.
    codes : ndarray of shape (n_samples, n_levels)
        Node codes of the labels (-1 where missing).
    hierarchy : LabelHierarchy
    params : dict
        The estimator's parameters (its ``get_params()``), checked.
    sample_weight : ndarray of shape (n_samples,) or None
    level_weights : ndarray of shape (n_levels,)
    level_weight_schedule : dict or None
        ``{epoch: level weights}``, validated.
    class_weights : list of ndarray or None
    hidden_layer_sizes, batch_size, lr, early_stopping, feature_scaling
        Resolved by ``_auto`` (no "auto").
    seed : int
        Seeds torch's RNG for this fit (forked, so the caller's is untouched)
        and the held-out split.
    incremental : bool, default=False
        ``partial_fit``: one epoch on every row.
    level_names : list of str or None, default=None
        Names of the levels for the printed log.
    fitted_net : MultiGranularityNet or None, default=None
        A fitted net to continue (``warm_start``, ``partial_fit``): the new
        net takes over its weights, optimizer state, history and input
        standardisation; it is not modified.
    fitted_temperature : float, default=1.0
        Its temperature, kept when this fit has no held-out rows.
    parallel : DataParallel or None, default=None
        This process's part in a data-parallel fit (``_distributed``): its
        device, the shared standardisation, the DDP training run and the
        shared temperature.
    checkpoint_dir : str or path-like or None, default=None
        Write the training state there at every epoch's end and resume from
        what is there (``_checkpoint``); the seed of a resumed fit is the
        one it started with.
    target : SelectiveTarget or None, default=None
        ``target_accuracy`` and its companions: set rows aside, apart
        from any early stopping rows, and choose on them the threshold at
        which ``predict`` stops paths (``_selective``).

    Returns
    -------
    TrainedNet
    """
    device = resolve_device(params["device"])
    if parallel is not None:
        device = parallel.device(device)
    precision = resolve_precision(params["precision"], device)
    checkpoints = None
    if checkpoint_dir is not None:
        checkpoints = CheckpointStore(checkpoint_dir)
        seed = checkpoints.seed(seed)  # a resumed fit keeps its split
    if isinstance(X, _out_of_core.OutOfCoreArray):
        dataset = out_of_core_dataset(X, codes, sample_weight, device)
    else:
        dataset = ArrayDataset(X, codes, sample_weight, device)
    if fitted_net is not None:
        # A resumed fit keeps the first layer and the scaling it has.
        standardisation = fitted_standardisation(fitted_net.module_)
        sparse_input = getattr(fitted_net, "module__sparse_input", False)
    else:
        standardisation = (
            None
            if feature_scaling != "standard"
            else _out_of_core.standardisation(X)
            if parallel is None
            else parallel.standardisation(X)  # every process's rows
        )
        sparse_input = sp.issparse(X)
    net = build_net(
        params,
        dataset.X,  # on the device: its statistics are computed there
        codes,
        hierarchy,
        level_weights=level_weights,
        level_weight_schedule=level_weight_schedule,
        class_weights=class_weights,
        device=device,
        precision=precision,
        seed=seed,
        incremental=incremental,
        standardisation=standardisation,
        feature_scaling=feature_scaling,
        hidden_layer_sizes=hidden_layer_sizes,
        batch_size=batch_size,
        lr=lr,
        early_stopping=early_stopping,
        hold_out=target is not None,
        sparse_input=sparse_input,
    )
    if params["verbose"] and level_names and len(set(level_names)) == len(level_names):
        # The printed columns name the levels as y's DataFrame did.
        net.set_params(callbacks__print_log=LevelNamePrintLog(level_names))
    n_before = len(fitted_net.history) if fitted_net is not None else 0
    with torch.random.fork_rng(devices=cuda_devices(device)):
        torch.manual_seed(seed)
        if fitted_net is not None or incremental:
            net.initialize()
            if fitted_net is not None:
                continue_training(net, fitted_net)
            net.partial_fit(dataset, None, epochs=1 if incremental else None)
        elif parallel is not None:
            parallel.fit(net, dataset, seed)
        elif checkpoints is not None:
            fingerprint = fit_fingerprint(params, X, codes, hierarchy)
            fit_with_checkpoints(net, dataset, checkpoints, seed, fingerprint)
        else:
            net.fit(dataset, None)
    net.module_.eval()
    if not incremental:  # partial_fit runs one epoch by design
        warn_if_budget_ran_out(net, n_before, params["max_epochs"])
    best_epoch = check_training_outcome(net)
    predictor = Predictor(hierarchy, params["coarse_decoding_weight"], 1.0, net.module_)
    held_out_rows, threshold_rows = _held_out_rows(net.train_split, dataset)
    if not params["calibrate"]:
        temperature = 1.0
    elif held_out_rows is None:  # keep what a resumed model has
        temperature = fitted_temperature if fitted_net is not None else 1.0
    else:
        fit_temperature = (
            held_out_temperature if parallel is None else parallel.held_out_temperature
        )
        temperature = fit_temperature(predictor, X, codes, held_out_rows, seed)
    predictor.temperature = temperature
    threshold = coverage = None
    if target is not None:
        threshold, coverage = held_out_threshold(
            predictor, X, codes, threshold_rows, target
        )
    return TrainedNet(
        net,
        best_epoch,
        temperature,
        predictor,
        precision,
        held_out_rows,
        threshold,
        coverage,
        target,
    )


def _held_out_rows(split, dataset):
    """The rows the split kept out of training in this fit: ``(valid,
    set_aside)``, each None where the split has no such rows.

    Drawn again (the same rows) when training did not call the split: a
    fit that a finished checkpoint gave back.
    """
    if not isinstance(split, HoldoutSplit):
        return None, None
    if split.valid_indices_ is None and split.set_aside_indices_ is None:
        return split.parts(dataset)[1:]
    return split.valid_indices_, split.set_aside_indices_
