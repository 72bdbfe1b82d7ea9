"""skorch callbacks for training-time behaviour: divergence, schedules and
weight averaging."""

import math
from copy import deepcopy

import torch
from skorch.callbacks import Callback, EarlyStopping, PrintLog

from .._cpu_threads import auto_cap, auto_threads
from .._upstream import foreach_lerp_


class StopTraining(KeyboardInterrupt):
    """Raised by a callback to end training on purpose.

    skorch ends its training loop on any ``KeyboardInterrupt`` (its
    ``EarlyStopping`` raises one). This subclass tells such a planned stop
    from the user's Ctrl-C, which ``MultiGranularityNet.fit_loop`` records
    as an interruption.
    """


class DivergenceGuard(Callback):
    """Stop training when the loss stops being finite; keep the last good weights.

    At the end of every epoch whose losses are finite the module's weights
    are copied. When a loss becomes NaN or infinite, those weights are put
    back and training stops (:class:`StopTraining`). When training was
    interrupted (Ctrl-C: ``net.interrupted_`` is set), the epoch cut short
    is dropped from the history and the weights of the last completed epoch
    are put back, before the other callbacks end training (early stopping
    may then restore its best epoch's).

    Attributes
    ----------
    diverged_epoch_ : int or None
        The epoch at which the loss stopped being finite, if it did.
    last_good_epoch_ : int or None
        The last epoch whose losses were finite (the one whose weights were
        restored, if any).
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
        raise StopTraining

    def on_train_end(self, net, **kwargs):
        if getattr(net, "interrupted_", None) is not None and (
            self._last_good_weights is not None
        ):
            # No half row and no half epoch's weights: the fit ends as if
            # max_epochs had been the last completed epoch. Nothing completed
            # at all is the caller's to refuse (check_training_outcome).
            del net.history[self.last_good_epoch_ :]
            net.module_.load_state_dict(self._last_good_weights)
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
        the first key keep the weights the estimator was given. Epochs count
        on across warm starts and ``partial_fit`` calls, as the history does:
        a resumed fit starts with the weights in effect at its first epoch.

    Examples
    --------
    >>> from mgclassifier._network._callbacks import LevelWeightSchedule
    >>> LevelWeightSchedule({1: [0.98, 0.01, 0.01], 10: [0.1, 0.8, 0.1], 20: [0, 0, 1]})
    LevelWeightSchedule(...)
    """

    def __init__(self, schedule):
        self.schedule = schedule

    def __repr__(self):
        return "LevelWeightSchedule(...)"

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history)  # skorch has already added this epoch's row
        started = [key for key in self.schedule if key <= epoch]
        if started:
            buffer = net.criterion_.train_level_weights
            buffer.copy_(buffer.new_tensor(self.schedule[max(started)]))


class WeightAveraging(Callback):
    """Exponential moving average of the weights (Polyak averaging).

    After every training batch the average moves towards the current
    weights: ``average = decay * average + (1 - decay) * weights``, with the
    decay ramped up as ``min(decay, (1 + t) / (10 + t))`` over the first
    batches so that the random initial weights are soon forgotten. Validation
    (hence early stopping and its saved best weights) sees the averaged
    weights; training continues from the raw ones. The fitted model holds the
    averaged weights. After an interruption with validation rows it holds
    the average that the last completed epoch validated (which the
    divergence guard put back); without, the average as it was when
    interrupted, which took in the cut epoch's first steps.

    Parameters
    ----------
    decay : float
        In (0, 1); the average spans about ``1 / (1 - decay)`` batches.
    """

    def __init__(self, decay):
        self.decay = decay

    def on_train_begin(self, net, **kwargs):
        self._average = [p.detach().clone() for p in net.module_.parameters()]
        self._raw = None  # the training weights while the average is loaded
        self._step = 0
        self._validated = False  # whether epochs end with the average loaded

    def on_batch_end(self, net, training=True, **kwargs):
        if not training:
            return
        self._step += 1
        weight = 1.0 - min(self.decay, (1.0 + self._step) / (10.0 + self._step))
        with torch.no_grad():
            # One fused call for all tensors, as torch.optim.swa_utils does.
            foreach_lerp_(self._average, list(net.module_.parameters()), weight)

    def on_batch_begin(self, net, training=True, **kwargs):
        if not training and self._raw is None:
            self._load_average(net)  # the epoch's first validation batch
            self._validated = True

    def on_epoch_begin(self, net, **kwargs):
        if self._raw is not None:  # back to the training weights
            with torch.no_grad():
                for raw, param in zip(self._raw, net.module_.parameters()):
                    param.copy_(raw)
            self._raw = None

    def on_train_end(self, net, **kwargs):
        # With validation the average is loaded already (and early stopping
        # may have restored the best averaged weights): keep what is there.
        # An average that took in diverged weights is not used.
        finite = all(torch.isfinite(a).all() for a in self._average)
        # Interrupted: the guard put back the weights that the last completed
        # epoch ended with; those are the validated average when there were
        # validation rows, and the running average is the best there is when not.
        kept = getattr(net, "interrupted_", None) is not None and self._validated
        if self._raw is None and finite and not kept:
            self._load_average(net)
        self._average = self._raw = None  # weight copies; not worth pickling

    def _load_average(self, net):
        with torch.no_grad():
            params = list(net.module_.parameters())
            self._raw = [p.detach().clone() for p in params]
            for average, param in zip(self._average, params):
                param.copy_(average)


class OneCycleSchedule(Callback):
    """Learning-rate warm-up, then cosine decay, set before every training batch.

    The "one-cycle" policy (Smith & Topin, 2019; torch's ``OneCycleLR``
    without momentum cycling): the rate rises linearly from ``max_lr / 25`` to
    ``max_lr`` over the first ``warmup_fraction`` of ``total_steps``, then
    follows half a cosine down to ``max_lr / 10**4``. A short warm-up allows a
    larger peak rate; the decay settles the weights, so a fixed budget of
    epochs converges in fewer epochs than a constant rate. Past
    ``total_steps`` the rate stays at its final value.

    Every ``fit`` starts the cycle afresh (``on_train_begin``).

    Parameters
    ----------
    max_lr : float
        Peak learning rate.
    total_steps : int
        Training batches the cycle spans (epochs x batches per epoch).
    warmup_fraction : float, default=0.1
        Fraction of ``total_steps`` spent warming up.

    Examples
    --------
    >>> schedule = OneCycleSchedule(max_lr=0.01, total_steps=100)
    >>> [round(schedule.lr_at(step), 4) for step in (0, 10, 99)]
    [0.0004, 0.01, 0.0]
    """

    def __init__(self, max_lr, total_steps, warmup_fraction=0.1):
        self.max_lr = max_lr
        self.total_steps = total_steps
        self.warmup_fraction = warmup_fraction

    def lr_at(self, step):
        """Learning rate of training batch ``step`` (0-based)."""
        warmup = max(1, round(self.warmup_fraction * self.total_steps))
        start, end = self.max_lr / 25, self.max_lr / 1e4
        if step < warmup:
            return start + (self.max_lr - start) * step / warmup
        progress = min(1.0, (step - warmup) / max(1, self.total_steps - 1 - warmup))
        return end + (self.max_lr - end) * 0.5 * (1 + math.cos(math.pi * progress))

    def on_train_begin(self, net, **kwargs):
        self.step_ = 0

    def on_batch_begin(self, net, training=True, **kwargs):
        if not training:
            return
        lr = self.lr_at(self.step_)
        for group in net.optimizer_.param_groups:
            group["lr"] = lr
        self.step_ += 1

    def on_epoch_end(self, net, **kwargs):
        net.history.record("lr", net.optimizer_.param_groups[0]["lr"])


class _PrintsWithoutSink:
    """skorch's printing callbacks with ``sink=None`` printing when verbose.

    skorch's default sink is the builtin ``print`` itself, which a skops
    file of a fitted model would then ask its user to trust.
    """

    def _sink(self, text, verbose):
        if self.sink is not None:
            self.sink(text)
        elif verbose:
            print(text)


class BestEpochEarlyStopping(_PrintsWithoutSink, EarlyStopping):
    """skorch's ``EarlyStopping`` that, with ``load_best``, drops its copy of
    the best weights once it has restored them (it is not worth keeping in a
    fitted model), and records which epoch the net holds.

    Parameters are skorch's ``EarlyStopping``'s, but ``sink=None`` prints
    when the net is verbose.

    Attributes
    ----------
    kept_epoch_ : int or None
        The epoch whose weights the net holds after training (restored, or
        the last one if it was the best); None when no epoch improved.
    """

    def on_train_begin(self, net, **kwargs):
        super().on_train_begin(net, **kwargs)
        self.kept_epoch_ = None

    def on_epoch_end(self, net, **kwargs):
        try:
            super().on_epoch_end(net, **kwargs)
        except StopTraining:
            raise
        except KeyboardInterrupt:
            if self.misses_ < self.patience:
                raise  # the user's, while this ran
            raise StopTraining from None  # patience ran out: a planned stop

    def on_train_end(self, net, **kwargs):
        super().on_train_end(net, **kwargs)
        if self.best_model_weights_ is not None:
            self.kept_epoch_ = int(self.best_epoch_)
        self.best_model_weights_ = None


class LevelNamePrintLog(_PrintsWithoutSink, PrintLog):
    """skorch's ``PrintLog`` with the per-level loss columns named by level.

    ``verbose=1`` prints one row per epoch; with a DataFrame ``y`` its
    per-level columns read ``train_loss_<name>`` (``train_loss_family``), the
    name being the level's column name, where the history keeps the keys
    ``train_loss_level_<l>`` that the plots and users' code read.

    Parameters
    ----------
    level_names : list of str, default=()
        Name of each level, coarse to fine; none keeps the history's keys.
    keys_ignored, tablefmt, floatfmt, stralign
        As for skorch's ``PrintLog``.
    sink : callable or None, default=None
        Where every line goes; None prints when the net is verbose.
    """

    def __init__(
        self,
        level_names=(),
        keys_ignored=None,
        sink=None,
        tablefmt="simple",
        floatfmt=".4f",
        stralign="right",
    ):
        super().__init__(
            keys_ignored=keys_ignored,
            sink=sink,
            tablefmt=tablefmt,
            floatfmt=floatfmt,
            stralign=stralign,
        )
        self.level_names = level_names

    def table(self, row):
        printed = {
            f"{subset}_loss_level_{level}": f"{subset}_loss_{name}"
            for level, name in enumerate(self.level_names)
            for subset in ("train", "valid")
        }
        renamed = {}
        for key, value in row.items():
            name = printed.get(key, key)
            # A name that would print like another column keeps its level key.
            renamed[key if name in row else name] = value
        return super().table(renamed)


class AdaptiveThreads(Callback):
    """Follow the CPU load during training: ``n_threads="auto"``.

    After every epoch torch's thread count is set again to the CPUs that
    other work left free during that epoch (:func:`auto_threads`), at most
    torch's setting when ``fit`` began, so a fit that starts on an idle
    machine drops to fewer threads when other work arrives, and takes them
    back when it leaves. ``fit`` restores the setting when it returns.
    """

    def on_epoch_end(self, net, **kwargs):
        torch.set_num_threads(auto_threads(auto_cap()))
