"""Training: one call, :func:`train`, from a :class:`FitConfig` and validated
data to a fitted net (:class:`TrainedNet`).

``MultiGranularityClassifier.fit`` checks and resolves every parameter
(``_config``), validates the data and reads the label tree; then it makes
this one call and sets its fitted attributes from what it returns.
Everything torch does during a fit happens here or below: the data-parallel
processes (``_distributed``), the dataset on the device and its
standardisation (``_data``), the skorch net (``_network._builder``), the seeded
run (with ``checkpoint_dir``, ``_checkpoint``), the check of its outcome
(``_convergence``), and what the held-out rows decide afterwards
(``_calibration``).
"""

from dataclasses import dataclass, replace

import numpy as np
import torch
from sklearn.decomposition import PCA

from .._data._batches import held_out_rows
from .._data._datasets import training_data
from .._data._standardisation import fitted_standardisation
from .._devices import cuda_devices
from .._network._builder import build_net
from .._network._embeddings import piecewise_linear_bins
from .._prediction._calibration import held_out_choices
from .._prediction._neighbors import NEIGHBOR_DIMENSIONS, NeighborVotes, unit_rows
from .._prediction._predict import Predictor, learned_features
from .._prediction._selective import SelectiveTarget
from . import _distributed
from ._checkpoint import CheckpointStore, fit_fingerprint, fit_with_checkpoints
from ._convergence import (
    check_training_outcome,
    warn_if_budget_ran_out,
    warn_if_interrupted,
)


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
    held_out_rows : ndarray of int or None
        The early-stopping rows (which fitted the temperature); None without
        early stopping.
    path_threshold : float or None
        The threshold chosen for ``target`` on the rows set aside for it;
        None without one.
    held_out_coverage : dict or None
        What those rows return at that threshold (see
        ``_selective.coverage_at``); None without ``target``.
    target : SelectiveTarget or None
        What the threshold was chosen for.
    neighbors : NeighborVotes or None
        The trained-on rows' learned features and paths (``n_neighbors``),
        also the predictor's; None without.
    """

    net: object
    best_epoch: int
    temperature: float
    predictor: Predictor
    held_out_rows: np.ndarray | None
    path_threshold: float | None = None
    held_out_coverage: dict | None = None
    target: SelectiveTarget | None = None
    neighbors: NeighborVotes | None = None


def train(config, X, codes, hierarchy, sample_weight=None, fitted=None):
    """Train the network on ``X`` and ``codes``; return a :class:`TrainedNet`.

    Parameters
    ----------
    config : FitConfig
        Every parameter of the fit, checked and resolved.
    X : ndarray, sparse matrix or OutOfCoreArray
        The validated training inputs (of every process, in a data-parallel
        fit: each trains on its share).
    codes : ndarray of shape (n_samples, n_levels)
        Node codes of the labels (-1 where missing).
    hierarchy : LabelHierarchy
    sample_weight : ndarray of shape (n_samples,) or None, default=None
    fitted : tuple of (MultiGranularityNet, float) or None, default=None
        A fitted net and its temperature to continue (``warm_start``,
        ``partial_fit``): the new net takes over its weights, optimizer
        state, history and input standardisation; it is not modified. Its
        temperature is kept when this fit has no held-out rows.

    Returns
    -------
    TrainedNet
    """
    fitted_net, fitted_temperature = fitted if fitted is not None else (None, 1.0)
    standardisation = None  # computed from the rows unless given
    if fitted_net is not None:  # a resumed fit keeps the scaling it has
        standardisation = fitted_standardisation(fitted_net.module_)
    parallel = None
    if config.processes > 1:  # standardised on every process's rows
        parallel = _distributed.start()
        config = parallel.local_config(config)
        X, codes, sample_weight, standardisation = parallel.share(
            X, codes, sample_weight, config.network.feature_scaling
        )
    checkpoints = None
    if config.checkpoint_dir is not None:
        checkpoints = CheckpointStore(config.checkpoint_dir)
        # A resumed fit keeps its seed, so its split.
        config = replace(config, seed=checkpoints.seed(config.seed))
    dataset, standardisation = training_data(
        X,
        codes,
        sample_weight,
        config.device,
        config.network.feature_scaling,
        standardisation,
    )
    embedding_bins = None
    if fitted_net is not None:  # a resumed fit keeps its bins too
        embedding_bins = getattr(fitted_net, "module__embedding_bins", None)
    elif config.network.numeric_embeddings is not None:
        embedding_bins = piecewise_linear_bins(X, standardisation, config.seed)
    net = build_net(
        config,
        hierarchy.parents,
        standardisation,
        has_missing=bool((codes < 0).any()),
        embedding_bins=embedding_bins,
    )
    training = config.training
    n_before = len(fitted_net.history) if fitted_net is not None else 0
    with torch.random.fork_rng(devices=cuda_devices(config.device)):
        torch.manual_seed(config.seed)
        if fitted_net is not None or training.incremental:
            net.initialize()
            if fitted_net is not None:
                continue_training(net, fitted_net)
            net.partial_fit(dataset, None, epochs=1 if training.incremental else None)
        elif parallel is not None:
            parallel.fit(net, dataset, config.seed)
        elif checkpoints is not None:
            fingerprint = fit_fingerprint(config, X, codes, hierarchy)
            fit_with_checkpoints(net, dataset, checkpoints, config.seed, fingerprint)
        else:
            net.fit(dataset, None)
    net.module_.eval()
    interrupted = getattr(net, "interrupted_", None) is not None
    # partial_fit runs one epoch by design; an interrupted fit says so itself.
    if not (training.incremental or interrupted):
        warn_if_budget_ran_out(net, n_before, training.max_epochs)
    best_epoch = check_training_outcome(net)
    predictor = Predictor(hierarchy, config.coarse_decoding_weight, 1.0, net.module_)
    valid, set_aside = held_out_rows(net.train_split, dataset)
    if config.n_neighbors:
        # Before the threshold is chosen: it is chosen on the blend.
        predictor.neighbors = trained_rows_votes(
            predictor, X, codes, (valid, set_aside), config
        )
    temperature, threshold, coverage = held_out_choices(
        predictor, X, codes, valid, set_aside, config, fitted_temperature, parallel
    )
    if interrupted:
        steps = [
            step
            for step, ran in (
                ("calibration", config.calibrate and valid is not None),
                ("target_accuracy's threshold", config.target is not None),
            )
            if ran
        ]
        warn_if_interrupted(net, best_epoch, steps, checkpoints is not None)
    return TrainedNet(
        net,
        best_epoch,
        temperature,
        predictor,
        valid,
        threshold,
        coverage,
        config.target,
        predictor.neighbors,
    )


PROJECTION_ROWS = 50_000
"""Rows (drawn at random) whose features place the principal components of
the neighbour votes' projection."""


def trained_rows_votes(predictor, X, codes, held_out, config):
    """The :class:`NeighborVotes` of the rows the network trained on: not
    the held-out ones (a held-out row would find itself), nor a row whose
    finest label is missing (it has no path to vote for)."""
    keep = codes[:, -1] >= 0
    for rows in held_out:
        if rows is not None:
            keep[rows] = False
    features = learned_features(predictor, X, keep)
    projection = None
    if features.shape[1] > NEIGHBOR_DIMENSIONS and len(features) > NEIGHBOR_DIMENSIONS:
        # The components from the covariance matrix (one product of the rows,
        # then an eigendecomposition as wide as the layer), of a sample of
        # rows when there are many.
        sample = features
        if len(features) > PROJECTION_ROWS:
            rng = np.random.default_rng(config.seed)
            sample = features[rng.choice(len(features), PROJECTION_ROWS, replace=False)]
        pca = PCA(NEIGHBOR_DIMENSIONS, svd_solver="covariance_eigh").fit(sample)
        features = pca.transform(features)
        projection = (pca.mean_, pca.components_.T)
    return NeighborVotes(
        unit_rows(features),
        codes[keep, -1],
        predictor.engine.node_counts[-1],
        config.n_neighbors,
        config.neighbors_weight,
        projection,
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
