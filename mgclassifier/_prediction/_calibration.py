"""What held-out rows decide after training: the temperature and the path
threshold of ``target_accuracy``.

A single temperature divides the path scores before the softmax. It is
fitted by minimising the negative log-likelihood of the held-out
early-stopping split, in torch on the training device: the ranking of
classes within a sample does not change, but confidence becomes comparable
across samples, which is what ranking metrics over many samples (AU(PRC))
and probability thresholds need. The threshold at which ``predict`` stops
paths is chosen on rows set aside apart from those (or given to
``choose_threshold``) by the rule of ``_selective``, from their prefix
probabilities and the depth of their first wrong level.
"""

import math

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from sklearn.utils import check_random_state

from .._hierarchy import MISSING
from .._warnings import warn_at_caller
from ._predict import device_path_scores, predict_path_proba
from ._selective import choose_threshold, coverage_at, first_wrong_depth, min_rows

TEMPERATURE_BOUNDS = (0.05, 20.0)

CALIBRATION_MAX_ROWS = 20_000
"""Held-out rows the temperature is fitted on at most (a random subset of
larger splits): one scalar is estimated well from far fewer rows, and the
calibration then costs a small fraction of an epoch at any data size."""


def held_out_choices(
    predictor, X, codes, valid, set_aside, config, fitted_temperature, parallel
):
    """The temperature and the path threshold a fit's held-out rows choose.

    The predictor gets the temperature before the threshold is chosen with
    it.

    Parameters
    ----------
    predictor : Predictor
        The trained network and its prediction engine.
    X : ndarray, sparse matrix or OutOfCoreArray
        The training inputs.
    codes : ndarray of shape (n_samples, n_levels)
        Node codes of the labels (-1 where missing).
    valid, set_aside : ndarray of int or None
        The early-stopping rows (the temperature's) and the rows set aside
        for ``target_accuracy`` (the threshold's).
    config : FitConfig
        ``calibrate``, ``target`` and the seed.
    fitted_temperature : float
        Kept without held-out rows (a resumed fit's; 1 for a fresh one).
    parallel : DataParallel or None
        Fits one temperature on every process's rows.

    Returns
    -------
    temperature : float
    threshold : float or None
        None without ``target_accuracy``.
    coverage : dict or None
        See :func:`_selective.coverage_at`.
    """
    if not config.calibrate:
        temperature = 1.0
    elif valid is None:
        temperature = fitted_temperature
    else:
        size = 1 if parallel is None else parallel.size
        max_rows = max(1, CALIBRATION_MAX_ROWS // size)
        scores, leaf_codes = held_out_path_scores(
            predictor, X, codes, valid, config.seed, max_rows
        )
        if parallel is not None:
            scores, leaf_codes = parallel.gathered(scores, leaf_codes)
        temperature = fit_temperature(predictor.engine, scores, leaf_codes)
        if parallel is not None:
            temperature = parallel.first_process(temperature)
    predictor.temperature = temperature
    if config.target is None:
        return temperature, None, None
    return (
        temperature,
        *held_out_threshold(predictor, X, codes, set_aside, config.target),
    )


def held_out_threshold(predictor, X, codes, valid, target, given=False):
    """The threshold for ``target`` on the held-out rows, and their coverage.

    Parameters
    ----------
    predictor : Predictor
        The trained network and its engine, the temperature set.
    X : ndarray or sparse matrix
        The training inputs.
    codes : ndarray of shape (n_samples, n_levels)
        Node codes of the labels (-1 where missing).
    valid : ndarray of int
        The held-out rows. Those without a finest label are left out: how
        deep their path is right cannot be told.
    target : SelectiveTarget
    given : bool, default=False
        Whether the user gave the rows (``choose_threshold``) rather than
        ``fit`` holding them out: the warning when they certify nothing
        names them so.

    Returns
    -------
    threshold : float
    coverage : dict
        See :func:`coverage_at`.
    """
    valid = np.asarray(valid, dtype=np.int64)
    valid = valid[codes[valid, -1] != MISSING]
    n_levels = codes.shape[1]
    if len(valid) == 0:
        prefix = np.empty((0, n_levels))
        first_wrong = np.empty(0, dtype=np.int64)
    else:
        leaf, prefix = predict_path_proba(predictor, X[valid], np.float64)
        first_wrong = first_wrong_depth(predictor.engine.paths[leaf], codes[valid])
    accuracy, confidence, batch_size = target
    threshold = choose_threshold(prefix, first_wrong, accuracy, confidence, batch_size)
    coverage = coverage_at(prefix, first_wrong, threshold, confidence)
    if not np.isfinite(threshold):
        needed = min_rows(accuracy, confidence, batch_size)
        source, more = (
            ("rows given", "give more labelled rows")
            if given
            else ("held-out rows", "raise validation_fraction, give more data")
        )
        warn_at_caller(
            f"No threshold certifies {target.describe()} on the {len(valid)} labelled "
            f"{source}, so predict returns no label at all (None on every "
            f"level). Even without an error this needs at least {needed} "
            f"{source}; {more}, or lower target_accuracy or target_confidence.",
            UserWarning,
        )
    return threshold, coverage


def held_out_path_scores(predictor, X, codes, valid, seed, max_rows):
    """Path scores and finest-level codes of the labelled rows ``valid``.

    Of more than ``max_rows`` labelled rows a random subset (seeded by
    ``seed``) is kept. Both are tensors on the predictor's device; the
    scores are float32.
    """
    valid = valid[codes[valid, -1] >= 0]
    if len(valid) > max_rows:
        rng = check_random_state(seed)
        valid = np.sort(rng.choice(valid, max_rows, replace=False))
    scores = device_path_scores(predictor, X[valid])
    return scores, torch.as_tensor(codes[valid, -1], device=predictor.device)


@torch.inference_mode()
def fit_temperature(engine, scores, leaf_codes):
    """Temperature minimising the path NLL of labelled held-out samples.

    A bounded scalar search (Brent's method) over ``log(temperature)``; each
    evaluation runs on the logits' device and returns one number. The
    targets are smoothed by ``1 / (n_samples + 1)`` towards uniform, so a
    small held-out split without errors does not claim certainty.

    Parameters
    ----------
    engine : PredictionEngine
        Its ``path_log_proba`` applies a temperature.
    scores : tensor of shape (n_samples, n_leaves)
        ``engine.path_scores`` of the samples' logits.
    leaf_codes : tensor of shape (n_samples,)
        Index of each sample's finest-level class.

    Returns
    -------
    float
        In [0.05, 20]; 1.0 when there are no samples.
    """
    if len(leaf_codes) == 0:
        return 1.0
    rows = torch.arange(len(leaf_codes), device=scores.device)
    # Laplace-style smoothing of the targets by 1/(n+1): a small held-out split
    # that happens to be classified perfectly would otherwise drive the
    # temperature to 0 (certainty); on a large split the effect vanishes.
    smoothing = 1.0 / (len(leaf_codes) + 1)

    def nll(log_temperature):
        leaf = engine.path_log_proba(scores, math.exp(log_temperature))
        hit = leaf[rows, leaf_codes].mean()
        return -float((1 - smoothing) * hit + smoothing * leaf.mean())

    bounds = tuple(math.log(t) for t in TEMPERATURE_BOUNDS)
    # 1e-2 in log-temperature is a 1% change of the temperature (a probability
    # p becomes about p**1.01): below what moves a metric, and a third fewer
    # evaluations than scipy's default tolerance.
    result = minimize_scalar(
        nll, bounds=bounds, method="bounded", options={"xatol": 1e-2}
    )
    return float(math.exp(result.x))
