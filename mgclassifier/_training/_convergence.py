"""The outcome of training: whether it diverged or was interrupted, which
epoch the net holds, and whether it ran out of its epoch budget while still
learning.

A loss that stopped being finite is an error when no epoch was finite, a
``ConvergenceWarning`` otherwise (the last finite weights are kept).
``MLPClassifier`` warns (``ConvergenceWarning``) when ``max_iter`` ends
training before its stopping rule does; a fit here that stops at
``max_epochs`` while its loss still falls is as silently underfit. The rules
read the history of the call's epochs only (a warm start appends to an
earlier history), after training. The tolerances were chosen on the
benchmark data sets (``benchmarks/README.md``).
"""

import math

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .._warnings import FitInterruptedWarning, warn_at_caller

VALID_TOLERANCE = 1e-3
"""Relative fall of the held-out loss over the last epochs that counts as
still improving: above what the one-cycle schedule's annealing alone gives
in its last epochs."""

TRAIN_TOLERANCE = 5e-2
"""The same for the training loss, without early stopping: it is noisier
(dropout, batches) and keeps falling as the network memorises and the
one-cycle rate anneals, so only a clear fall counts."""


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


def final_window(max_epochs):
    """How many of the last epochs count as "at the budget": the last 10% of
    ``max_epochs``, at least 2."""
    return max(2, math.ceil(0.1 * max_epochs))


def budget_message(losses, max_epochs, monitor):
    """The underfitting warning for a call's per-epoch losses, or None.

    Parameters
    ----------
    losses : sequence of float
        The call's epochs' ``valid_loss`` (early stopping) or ``train_loss``.
    max_epochs : int
        The call's budget.
    monitor : {"valid_loss", "train_loss"}

    Returns
    -------
    message : str or None
        None when training stopped before the budget (early stopping, an
        interruption, a divergence), when the budget is too short to judge
        (no epoch before the final window), or when the best loss of the
        final window is not lower than the best before it by more than the
        tolerance.

    Examples
    --------
    >>> budget_message([1.0, 0.8, 0.7, 0.6], 4, "valid_loss")[:58]
    'Training ran all max_epochs=4 epochs and the validation lo'
    >>> budget_message([1.0, 0.8, 0.8, 0.7999], 4, "valid_loss") is None  # flat
    True
    >>> budget_message([1.0, 0.8, 0.7], 4, "valid_loss") is None  # stopped early
    True
    """
    losses = np.asarray(losses, dtype=float)
    window = final_window(max_epochs)
    if len(losses) != max_epochs or max_epochs <= window:
        return None
    before, last = np.min(losses[:-window]), np.min(losses[-window:])
    tolerance = VALID_TOLERANCE if monitor == "valid_loss" else TRAIN_TOLERANCE
    if not (np.isfinite(before) and np.isfinite(last)) or last >= before * (
        1 - tolerance
    ):
        return None
    best = int(np.argmin(losses)) + 1
    kind = "validation" if monitor == "valid_loss" else "training"
    fix = (
        "early stopping then ends it when the validation loss stops improving"
        if monitor == "valid_loss"
        else "with early_stopping=True training ends when the validation loss "
        "stops improving"
    )
    return (
        f"Training ran all max_epochs={max_epochs} epochs and the {kind} loss "
        f"was still falling (best epoch {best}; {100 * (1 - last / before):.2g}% "
        f"lower in the last {window} epochs than before): the model may be "
        f"underfit. Raise max_epochs ({fix})."
    )


def warn_if_budget_ran_out(net, n_before, max_epochs):
    """Warn (``ConvergenceWarning``) when the fit that just ended was cut by
    ``max_epochs`` while its loss still fell; see :func:`budget_message`.

    ``n_before`` is the number of history rows before this call (a warm
    start continues a history). The net's callbacks say whether it stopped
    early on a held-out loss. A diverged fit has warned already.
    """
    callbacks = dict(net.callbacks_)
    if callbacks["divergence_guard"].diverged_epoch_ is not None:
        return
    monitor = "valid_loss" if "early_stopping" in callbacks else "train_loss"
    rows = net.history[n_before:]
    message = budget_message(
        [row.get(monitor, math.nan) for row in rows], max_epochs, monitor
    )
    if message is not None:
        warn_at_caller(message, ConvergenceWarning)
