"""skorch callbacks for training-time behaviour: divergence and schedules."""

import math
from copy import deepcopy

from skorch.callbacks import Callback


class DivergenceGuard(Callback):
    """Stop training when the loss stops being finite; keep the last good weights.

    At the end of every epoch whose losses are finite the module's weights
    are copied. When a loss becomes NaN or infinite, those weights are put
    back and training stops (skorch treats ``KeyboardInterrupt`` raised by a
    callback as "stop now", as its ``EarlyStopping`` does).

    Attributes
    ----------
    diverged_epoch_ : int or None
        The epoch at which the loss stopped being finite, if it did.
    last_good_epoch_ : int or None
        The epoch whose weights were restored, if any.
    """

    def on_train_begin(self, net, **kwargs):
        self.diverged_epoch_ = None
        self.last_good_epoch_ = None
        self._last_good_weights = None

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        losses = [row[key] for key in ("train_loss", "valid_loss") if key in row]
        if all(math.isfinite(loss) for loss in losses):
            self._last_good_weights = deepcopy(net.module_.state_dict())
            self.last_good_epoch_ = row["epoch"]
            return
        self.diverged_epoch_ = row["epoch"]
        if self._last_good_weights is not None:
            net.module_.load_state_dict(self._last_good_weights)
        raise KeyboardInterrupt

    def on_train_end(self, net, **kwargs):
        self._last_good_weights = None  # a copy of the weights; not worth pickling


class LevelWeightSchedule(Callback):
    """Change the per-level loss weights at fixed epochs.

    The "branch training strategy" of B-CNN (Zhu & Bain, 2017): train the
    coarse heads first, then move the loss weight towards the finer levels.

    Only the training loss follows the schedule; the validation loss that
    early stopping monitors keeps the estimator's fixed ``level_weights``, so
    its values stay comparable from epoch to epoch.

    Parameters
    ----------
    schedule : dict of {int: sequence of float}
        ``{epoch: weights}``; from that epoch on (1-based, as in skorch's
        history) the training loss uses these level weights. Epochs before
        the first key keep the weights the estimator was given.

    Examples
    --------
    >>> from mgclassifier._callbacks import LevelWeightSchedule
    >>> LevelWeightSchedule({1: [0.98, 0.01, 0.01], 10: [0.1, 0.8, 0.1], 20: [0, 0, 1]})
    LevelWeightSchedule(...)
    """

    def __init__(self, schedule):
        self.schedule = schedule

    def __repr__(self):
        return "LevelWeightSchedule(...)"

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history)  # skorch has already added this epoch's row
        weights = self.schedule.get(epoch)
        if weights is not None:
            buffer = net.criterion_.train_level_weights
            buffer.copy_(buffer.new_tensor(weights))
