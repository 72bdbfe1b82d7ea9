"""``checkpoint_dir``: the training state written at the end of every epoch,
and a fit that resumes from it after a crash.

One file, ``fit_state.mgc``, holds everything a fit needs to go on where it
stopped: the module's weights, Adam's state, the criterion's buffers, the
history, the state of the training callbacks (early stopping's best score and
weights, the one-cycle schedule's step, the divergence guard, weight
averaging), torch's random number generator and the seed of the fit (which
fixes the early-stopping split). A resumed fit therefore trains the same
epochs the interrupted one would have: on the CPU the same model.

The file is written to a temporary file in the same directory, flushed to
disk and renamed over the previous one (``os.replace``, atomic), so a crash
while writing leaves the previous checkpoint whole. Its layout::

    b"MGCKPT01" | header length (8 bytes) | header (JSON) | payload | SHA-256

The SHA-256 covers everything before it. The checksum and the header are
verified before any byte of the payload is deserialised, so a truncated or
corrupted file is refused as a whole; the payload is read with
``torch.load(weights_only=True)`` (tensors, numbers, strings, containers).
The header holds the fingerprint of the fit (the training parameters, the
network's tensors, the label hierarchy, the data's shape and a digest of its
labels and feature statistics): a checkpoint of another fit is refused with
the first difference named.

skorch's ``Checkpoint`` and ``LoadInitState`` callbacks decide when: the
first saves at every epoch's end (``monitor=None``), the second restores at
the start of training. Their own files (one per component, written in place)
are neither atomic nor checked, so the two are subclassed to write and read
this one file instead.
"""

import glob
import hashlib
import io
import json
import os
import struct
import tempfile
from contextlib import suppress

import numpy as np
import scipy.sparse as sp
import torch
from skorch.callbacks import Checkpoint, LoadInitState
from skorch.history import History

from .._warnings import FitResumedWarning, warn_at_caller

FILENAME = "fit_state.mgc"
MAGIC = b"MGCKPT01"
FORMAT = 1
_LENGTH = struct.Struct("<Q")
_DIGEST_BYTES = 32


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: damaged, or made by another fit."""


def fit_fingerprint(config, X, codes, hierarchy):
    """What identifies a fit, without its network (added once it is built).

    Parameters
    ----------
    config : FitConfig
        Its parameters that change training
        (:meth:`FitConfig.training_fingerprint`); the rest (the device, the
        verbosity, what is read after training) may change on resume.
    X : array, sparse matrix or OutOfCoreArray
        The training inputs (their shape and kind).
    codes : ndarray of shape (n_samples, n_levels)
        Node codes of the labels.
    hierarchy : LabelHierarchy

    Returns
    -------
    dict
        JSON-serialisable.
    """
    training = {
        name: _describe(value)
        for name, value in sorted(config.training_fingerprint().items())
    }
    labels = np.ascontiguousarray(codes, dtype=np.int64)
    data = {
        "n_samples": int(X.shape[0]),
        "shape": [int(size) for size in X.shape[1:]],
        "dtype": str(getattr(X, "dtype", "")),
        "sparse": bool(sp.issparse(X)),
        "labels_sha256": hashlib.sha256(labels.tobytes()).hexdigest(),
    }
    hierarchy_paths = [
        [repr(tuple(path)) for path in hierarchy.node_paths(level)]
        for level in range(hierarchy.n_levels)
    ]
    return {"data": data, "hierarchy": hierarchy_paths, "params": training}


def _describe(value):
    """A parameter's value as a stable string (no memory addresses)."""
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    if isinstance(value, torch.nn.Module):
        return f"{type(value).__module__}.{type(value).__qualname__}: {value!r}"
    if isinstance(value, np.ndarray):
        return repr(value.tolist())
    if isinstance(value, (tuple, list)):  # class weights, a trunk's parameters
        return "(" + ", ".join(_describe(item) for item in value) + ")"
    return repr(value)


def _tensors_digest(tensors):
    digest = hashlib.sha256()
    for tensor in tensors:
        digest.update(tensor.detach().to("cpu", torch.float32).numpy().tobytes())
    return digest.hexdigest()


def network_fingerprint(net):
    """The initialized net's module: its class and every tensor's name and shape.

    Also a digest of the input standardisation (the features' statistics).
    """
    module = net.module_
    scaling = (
        getattr(module, "input_mean", None),
        getattr(module, "input_scale", None),
    )
    return {
        "features_sha256": (None if scaling[0] is None else _tensors_digest(scaling)),
        "module": f"{type(module).__module__}.{type(module).__qualname__}",
        "tensors": [
            [name, [int(size) for size in tensor.shape]]
            for name, tensor in module.state_dict().items()
        ],
    }


# ------------------------------------------------------------------ the file
def encode(header, payload):
    """The bytes of a checkpoint file (see the module docstring)."""
    head = json.dumps(header, sort_keys=True).encode()
    body = MAGIC + _LENGTH.pack(len(head)) + head + payload
    return body + hashlib.sha256(body).digest()


def decode(data, path="checkpoint"):
    """``(header, payload)`` of a checkpoint file's bytes, all checked.

    Raises
    ------
    CheckpointError
        If the file is truncated, corrupted or not a checkpoint; nothing of
        it is deserialised then.
    """
    damaged = (
        f"The checkpoint {path} is damaged ({{}}); nothing was loaded from it. "
        f"Delete it to train from the start."
    )
    if not data.startswith(MAGIC):
        raise CheckpointError(damaged.format("it is not an mgclassifier checkpoint"))
    if len(data) < len(MAGIC) + _LENGTH.size + _DIGEST_BYTES:
        raise CheckpointError(damaged.format("truncated"))
    body, digest = data[:-_DIGEST_BYTES], data[-_DIGEST_BYTES:]
    if hashlib.sha256(body).digest() != digest:
        raise CheckpointError(
            damaged.format("truncated or corrupted: its checksum does not match")
        )
    (length,) = _LENGTH.unpack_from(body, len(MAGIC))
    start = len(MAGIC) + _LENGTH.size
    try:
        header = json.loads(body[start : start + length].decode())
    except ValueError as exc:  # a checksum collision would be needed to get here
        raise CheckpointError(damaged.format(f"unreadable header: {exc}")) from None
    if header.get("format") != FORMAT:
        raise CheckpointError(
            f"The checkpoint {path} has format {header.get('format')!r}; this "
            f"version of mgclassifier reads format {FORMAT}. Delete it to train "
            f"from the start."
        )
    return header, body[start + length :]


def write_atomic(path, data):
    """Replace ``path`` by ``data`` so that a crash leaves either file whole."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise
    # The rename itself reaches the disk with the directory's entry.
    with suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class CheckpointStore:
    """The checkpoint of one fit in ``directory``.

    Parameters
    ----------
    directory : str or path-like
        Created if missing.
    writer : bool, default=True
        Whether this store writes the file (and clears the temporary files a
        killed writer left); False only reads it.
    """

    def __init__(self, directory, writer=True):
        self.directory = os.fspath(directory)
        self.path = os.path.join(self.directory, FILENAME)
        self.writer = writer
        self.saved = None  # (header, payload) of the checkpoint found, checked
        os.makedirs(self.directory, exist_ok=True)
        if writer:  # left by a process killed while writing
            for stale in glob.glob(os.path.join(self.directory, f".{FILENAME}.*.tmp")):
                with suppress(OSError):
                    os.unlink(stale)
        try:
            with open(self.path, "rb") as file:
                data = file.read()
        except FileNotFoundError:
            return
        self.saved = decode(data, self.path)

    def seed(self, seed):
        """The saved fit's seed, else ``seed``: a resumed fit keeps its split."""
        return seed if self.saved is None else int(self.saved[0]["seed"])

    def check(self, fingerprint):
        """Refuse a checkpoint whose fingerprint differs from this fit's."""
        if self.saved is None:
            return
        saved = self.saved[0]["fingerprint"]
        what = {
            "data": "on other data (rows, features, their type, labels or values)",
            "hierarchy": "with another label hierarchy",
            "network": "with another network",
            "params": "with other training parameters",
        }
        for key, how in what.items():
            if saved.get(key) == fingerprint.get(key):
                continue
            detail = _first_difference(saved.get(key), fingerprint.get(key))
            raise CheckpointError(
                f"The checkpoint {self.path} was made by a fit {how}{detail}; "
                f"this fit cannot resume it. Give this fit another "
                f"checkpoint_dir, or delete the checkpoint to train from the "
                f"start."
            )

    def write(self, net, seed, fingerprint, finished):
        """Write the net's training state (only the writing process does)."""
        if not self.writer:
            return
        state = {
            "module": net.module_.state_dict(),
            "optimizer": net.optimizer_.state_dict(),
            "criterion": net.criterion_.state_dict(),
            "history": _plain(net.history.to_list()),
            "callbacks": {
                name: _plain(attributes)
                for name, attributes in callback_states(net).items()
            },
            "rng": torch.get_rng_state(),
        }
        if torch.device(net.device).type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(torch.device(net.device))
        buffer = io.BytesIO()
        torch.save(state, buffer)
        header = {
            "format": FORMAT,
            "seed": int(seed),
            "epochs": len(net.history),
            "finished": bool(finished),
            "fingerprint": fingerprint,
        }
        write_atomic(self.path, encode(header, buffer.getvalue()))

    def load(self, device="cpu"):
        """The saved state, deserialised onto ``device``."""
        return torch.load(
            io.BytesIO(self.saved[1]), map_location=device, weights_only=True
        )


def _first_difference(saved, current, where=""):
    """`` (at <where>: <saved> then, <current> now)``, or ''."""
    if isinstance(saved, dict) and isinstance(current, dict):
        # In the current fingerprint's order: the data's shape comes first.
        for key in [*current, *(key for key in saved if key not in current)]:
            if saved.get(key) != current.get(key):
                return _first_difference(saved.get(key), current.get(key), key)
    text = f": {_short(saved)} then, {_short(current)} now"
    return f" ({where}{text})" if where else f" ({text[2:]})"


def _short(value, limit=120):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -------------------------------------------------------------- the state
_NOT_SAVED = (
    "checkpoint",
    "resume_state",
    "print_log",
    "progress_bar",
    "epoch_timer",
    "train_loss",
    "valid_loss",
)


def callback_states(net):
    """Each training callback's state: its attributes that are not parameters.

    Only what ``torch.load(weights_only=True)`` reads back (tensors, numbers,
    strings and containers of them) is kept.
    """
    states = {}
    for name, callback in net.callbacks_:
        if name in _NOT_SAVED:
            continue
        params = set(callback.get_params(deep=False))
        states[name] = {
            key: value
            for key, value in vars(callback).items()
            if key not in params and _storable(value)
        }
    return states


def _storable(value):
    if value is None or isinstance(
        value, (bool, int, float, str, np.number, torch.Tensor)
    ):
        return True
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and _storable(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_storable(v) for v in value)
    return False


def _plain(obj):
    """numpy scalars as Python numbers, through containers (for weights_only)."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {key: _plain(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(value) for value in obj)
    return obj


def restore(net, state):
    """Put a saved training state into the initialized net."""
    net.module_.load_state_dict(state["module"])
    net.optimizer_.load_state_dict(state["optimizer"])
    net.criterion_.load_state_dict(state["criterion"])
    net.history_ = History(state["history"])
    callbacks = dict(net.callbacks_)
    for name, attributes in state["callbacks"].items():
        for key, value in attributes.items():
            setattr(callbacks[name], key, value)
    torch.set_rng_state(state["rng"].cpu())
    if "cuda_rng" in state and torch.device(net.device).type == "cuda":
        torch.cuda.set_rng_state(state["cuda_rng"].cpu(), torch.device(net.device))


# ----------------------------------------------------------- the callbacks
class EpochCheckpoint(Checkpoint):
    """skorch's ``Checkpoint`` at every epoch's end, writing the store's file.

    At the end of training a last checkpoint marks the fit finished (all
    ``max_epochs`` run, or stopped by early stopping or the divergence guard;
    not when training was interrupted), after early stopping restored the
    best weights.
    """

    def __init__(self, store=None, seed=0, fingerprint=None):
        super().__init__(
            monitor=None,
            f_params=None,
            f_optimizer=None,
            f_criterion=None,
            f_history=None,
            event_name=None,
            dirname=store.directory if store is not None else "",
        )
        self.store = store
        self.seed = seed
        self.fingerprint = fingerprint

    def save_model(self, net):
        self.store.write(net, self.seed, self.fingerprint, finished=False)

    def on_train_end(self, net, **kwargs):
        if training_finished(net):
            self.store.write(net, self.seed, self.fingerprint, finished=True)


class ResumeState(LoadInitState):
    """skorch's ``LoadInitState``: at the start of training, the saved state.

    It comes after the callbacks whose ``on_train_begin`` starts their state
    afresh, and puts the saved state back over it.
    """

    def __init__(self, checkpoint, state=None):
        super().__init__(checkpoint)
        self.state = state

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if not self.did_load_:
            self.did_load_ = True
            if self.state is not None:
                restore(net, self.state)
                self.state = None  # a copy of the weights; not worth keeping


def training_finished(net):
    """Whether training ended as planned rather than by an interruption."""
    if getattr(net, "interrupted_", None) is not None:
        return False  # Ctrl-C (the history is cut back to whole epochs)
    callbacks = dict(net.callbacks_)
    stopper = callbacks.get("early_stopping")
    guard = callbacks.get("divergence_guard")
    return (
        len(net.history) >= net.max_epochs
        or (stopper is not None and stopper.misses_ >= stopper.patience)
        or (guard is not None and guard.diverged_epoch_ is not None)
    )


def warn_resumed(store, done, max_epochs, finished):
    """Say (``FitResumedWarning``) that this fit goes on from the store's
    checkpoint of ``done`` epochs, or gives back its finished model.

    At any ``verbose``: the fit's result then depends on a file left by an
    earlier call, which a user re-running a script may not have in mind.
    """
    start_anew = f"delete {store.path} to train from the start"
    epochs = f"{done} epoch{'s' if done != 1 else ''}"
    if finished:
        message = (
            f"checkpoint_dir holds a finished fit of {epochs}; fit gives its "
            f"model back without training ({start_anew})."
        )
    else:
        message = (
            f"fit resumes from checkpoint_dir at epoch {done + 1} of "
            f"max_epochs={max_epochs}: the checkpoint holds {epochs} "
            f"({start_anew})."
        )
    warn_at_caller(message, FitResumedWarning)


def fit_with_checkpoints(net, dataset, store, seed, fingerprint):
    """Train ``net`` on ``dataset`` from the store's checkpoint, if any,
    writing one at every epoch's end.

    ``net`` is not initialized; torch's RNG is seeded with ``seed`` as for a
    fit without checkpoints (the net's initialization draws the same
    weights, then a resumed fit's saved state replaces them and the RNG).
    """
    saver = EpochCheckpoint(store, seed, fingerprint)
    resume = ResumeState(saver)
    callbacks = net.callbacks
    net.callbacks = [
        *(callbacks or []),
        ("checkpoint", saver),
        ("resume_state", resume),
    ]
    try:
        net.initialize()
        network = network_fingerprint(net)
        fingerprint["data"]["features_sha256"] = network.pop("features_sha256")
        fingerprint["network"] = network
        store.check(fingerprint)
        state = None if store.saved is None else store.load(net.device)
        if state is not None and store.saved[0]["finished"]:
            warn_resumed(store, len(state["history"]), net.max_epochs, True)
            restore(net, state)  # nothing left to train
        else:
            done = 0 if state is None else len(state["history"])
            if state is not None:
                warn_resumed(store, done, net.max_epochs, False)
            resume.state = state
            net.partial_fit(dataset, None, epochs=max(0, net.max_epochs - done))
    finally:
        # The fitted net is the same as without checkpoints (and pickles so).
        net.callbacks = callbacks
        if hasattr(net, "callbacks_"):
            net.callbacks_ = [
                (name, callback)
                for name, callback in net.callbacks_
                if callback is not saver and callback is not resume
            ]
    return net
