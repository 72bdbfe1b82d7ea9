"""Calibration: one temperature for every path score, fitted after training.

A single temperature divides the path scores before the softmax. It is
fitted by minimising the negative log-likelihood of the held-out
early-stopping split, in torch on the training device: the ranking of
classes within a sample does not change, but confidence becomes comparable
across samples, which is what ranking metrics over many samples (AU(PRC))
and probability thresholds need.
"""

import math

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from sklearn.utils import check_random_state

from ._prediction import device_path_scores

TEMPERATURE_BOUNDS = (0.05, 20.0)

CALIBRATION_MAX_ROWS = 20_000
"""Held-out rows the temperature is fitted on at most (a random subset of
larger splits): one scalar is estimated well from far fewer rows, and the
calibration then costs a small fraction of an epoch at any data size."""


def held_out_temperature(predictor, X, codes, valid, seed):
    """The temperature fitted on the labelled rows ``valid`` of ``X``.

    Rows without a finest label are left out; of more than
    ``CALIBRATION_MAX_ROWS`` a random subset (seeded by ``seed``) is used.
    The logits are computed and kept on the net's device.

    Parameters
    ----------
    predictor : Predictor
        The trained network and its prediction engine.
    X : ndarray or sparse matrix of shape (n_samples, ...)
        The training inputs.
    codes : ndarray of shape (n_samples, n_levels)
        Node codes of the labels (-1 where missing).
    valid : ndarray of int
        Indices of the held-out rows.
    seed : int

    Returns
    -------
    float
    """
    scores, leaf_codes = held_out_path_scores(
        predictor, X, codes, valid, seed, CALIBRATION_MAX_ROWS
    )
    return fit_temperature(predictor.engine, scores, leaf_codes)


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
