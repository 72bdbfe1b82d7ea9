"""skorch ``NeuralNet`` subclass: multi-head loss, L1 penalty, per-level history,
losses read once an epoch, and pickles that skops can audit."""

import numpy as np
import torch
from skorch import NeuralNet
from skorch.dataset import unpack_data
from skorch.utils import get_map_location

from .._upstream import (
    EagerAdam,
    check_device,
    initialize_optimizers,
    set_training,
    torch_component_names,
)
from ._callbacks import LevelNamePrintLog, StopTraining


class _LossOnDevice:
    """A batch loss left on its device until the end of the epoch.

    skorch's batch loop records ``step["loss"].item()`` after every batch. On
    a GPU that read waits for the batch to finish, so the CPU cannot queue the
    next batch's kernels while the GPU works. Wrapped in this class,
    ``item()`` returns the wrapper itself, which goes into the history as a
    placeholder; :meth:`MultiGranularityNet.on_epoch_end` reads all of an
    epoch's placeholders with one transfer before any callback sees them.
    """

    __slots__ = ("tensor",)

    def __init__(self, tensor):
        self.tensor = tensor

    def item(self):
        return self


class MultiGranularityNet(NeuralNet):
    """A skorch net whose criterion is a :class:`~mgclassifier._loss.MultiLevelLoss`.

    Batches are ``(X, (codes, sample_weight))`` as produced by
    :class:`~mgclassifier._data.ArrayDataset`. Besides skorch's ``train_loss``
    and ``valid_loss``, the history gets ``train_loss_level_<l>`` and
    ``valid_loss_level_<l>`` (unweighted cross-entropy of each level).

    Parameters
    ----------
    alpha_l1 : float, default=0.0
        Weight of the L1 norm of the weight matrices, added to the training
        loss of every batch.
    autocast : {None, "bfloat16"}, default=None
        Run training and validation forward passes under ``torch.autocast``
        with this dtype (mixed precision: the weights, the optimizer and the
        loss stay float32). Prediction (``_prediction._predict``) does not use it.
    **kwargs
        Passed to :class:`skorch.NeuralNet`.
    """

    defer_loss_read = "auto"
    """Whether batch losses are read once per epoch instead of once per batch:
    "auto" does so off the CPU (where a read is a device sync), True and
    False force it. A class attribute, so benchmarks and tests can switch it."""

    def __init__(self, *args, alpha_l1=0.0, autocast=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.alpha_l1 = alpha_l1
        self.autocast = autocast

    def infer(self, x, **fit_params):
        if self.autocast is None or (
            isinstance(x, torch.Tensor) and x.layout != torch.strided
        ):
            # Sparse input: its first layer (embedding_bag) dominates and has
            # no bfloat16 autocast kernel, so autocast would only add casts.
            return super().infer(x, **fit_params)
        with torch.autocast(
            torch.device(self.device).type, dtype=getattr(torch, self.autocast)
        ):
            return super().infer(x, **fit_params)

    def train_step(self, batch, **fit_params):
        return self._wrap_loss(super().train_step(batch, **fit_params))

    def validation_step(self, batch, **fit_params):
        return self._wrap_loss(super().validation_step(batch, **fit_params))

    def _wrap_loss(self, step):
        defer = self.defer_loss_read
        if defer == "auto":
            # A progress bar shows each batch's loss, so it needs the value now.
            defer = torch.device(self.device).type != "cpu" and self.verbose < 2
        if defer:
            step = {**step, "loss": _LossOnDevice(step["loss"].detach())}
        return step

    def _read_deferred_losses(self):
        """Replace the last epoch's loss placeholders by floats (one sync)."""
        if not len(self.history):
            return
        pending = [
            (batch, key)
            for batch in self.history[-1]["batches"]
            for key, value in batch.items()
            if isinstance(value, _LossOnDevice)
        ]
        if pending:
            tensors = torch.stack([batch[key].tensor for batch, key in pending])
            for (batch, key), value in zip(pending, tensors.tolist()):
                batch[key] = value

    def get_loss(self, y_pred, y_true, X=None, training=False):
        codes, sample_weight = y_true
        loss, per_level = self.criterion_(
            y_pred, codes, sample_weight, training=training
        )
        # Summed in place as tensors and read once per epoch: one kernel and
        # no GPU sync per batch. In place matters on the CPU too: small tensors
        # kept alive across batches pin freed batch buffers in glibc's heap
        # (an epoch over 1M x 128 then added 2.45x X to the process, not 0.7x).
        prefix = "train" if training else "valid"
        self._level_loss_sums[prefix].add_(per_level, alpha=len(codes))
        self._level_loss_counts[prefix] += len(codes)
        if training and self.alpha_l1 > 0:
            loss = loss + self.alpha_l1 * sum(
                p.abs().sum()
                for name, p in self.module_.named_parameters()
                if name.endswith("weight")
            )
        return loss

    def on_epoch_begin(self, net, **kwargs):
        super().on_epoch_begin(net, **kwargs)
        zeros = torch.zeros(len(self.module_.level_sizes), device=self.device)
        self._level_loss_sums = {"train": zeros, "valid": zeros.clone()}
        self._level_loss_counts = {"train": 0, "valid": 0}

    def on_epoch_end(self, net, **kwargs):
        # The net's own hook runs before the callbacks' (skorch's notify).
        self._read_deferred_losses()
        super().on_epoch_end(net, **kwargs)
        for prefix, total in self._level_loss_sums.items():
            count = self._level_loss_counts[prefix]
            if count:
                for level, value in enumerate((total / count).tolist()):
                    self.history.record(f"{prefix}_loss_level_{level}", value)

    def on_train_end(self, net, **kwargs):
        self._read_deferred_losses()  # an epoch cut short has no epoch end
        super().on_train_end(net, **kwargs)
        # Running sums may live on the GPU: drop them so pickles load anywhere.
        self.__dict__.pop("_level_loss_sums", None)
        self.__dict__.pop("_level_loss_counts", None)

    def fit_loop(self, X, y=None, epochs=None, **kwargs):
        """skorch's training loop, recording a user's interruption.

        skorch's ``partial_fit`` takes any ``KeyboardInterrupt`` out of this
        loop for "stop training" and goes on as after the last epoch. A
        callback's planned stop is a :class:`StopTraining`; any other
        ``KeyboardInterrupt`` (Ctrl-C) sets ``interrupted_`` to the number
        of the epoch it cut short (the last one begun), so that the
        callbacks ending training and the estimator can tell; it is None
        after a loop that was not interrupted.
        """
        self.interrupted_ = None
        try:
            return super().fit_loop(X, y, epochs, **kwargs)
        except StopTraining:
            raise
        except KeyboardInterrupt:
            self.interrupted_ = len(self.history)
            raise

    def initialize_optimizer(self, triggered_directly=None):
        """skorch's ``initialize_optimizer``, with :class:`EagerAdam` for
        ``torch.optim.Adam``.

        torch's Adam would import its compiler stack in a process's first
        fit (see ``_upstream.EagerAdam``). The ``optimizer`` parameter stays
        ``torch.optim.Adam``, so a saved model names torch's class.
        """
        if self.optimizer is not torch.optim.Adam or triggered_directly is not None:
            return super().initialize_optimizer(triggered_directly)
        args, kwargs = self.get_params_for_optimizer(
            "optimizer", self.get_all_learnable_params()
        )
        self.optimizer_ = EagerAdam(*args, **kwargs)
        return self

    def train_step_single(self, batch, **fit_params):
        """skorch's training step, minus a per-batch walk over every submodule.

        skorch calls ``module.train()`` on the module and the criterion before
        every batch; here that happens only when either is not in training
        mode already (after validation batches, say).
        """
        if not (self.module_.training and self.criterion_.training):
            set_training(self, True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    # ------------------------------------------------------------ persistence
    # skorch's NeuralNet.__getstate__ pickles module_, criterion_ and
    # optimizer_ into one opaque bytes blob that __setstate__ unpickles with a
    # plain pickle.Unpickler: skops cannot audit it, so skops.io.load(...,
    # trusted=[...]) would run any code hidden in it. Here the torch parts are
    # stored as numpy state dicts and rebuilt on load from their classes and
    # init parameters, which skops does audit. pickle gets the same state.

    def get_default_callbacks(self):
        # skorch's PrintLog holds the builtin print as its sink, a function a
        # skops file would ask its user to trust; this one prints without it.
        return [
            (name, LevelNamePrintLog if name == "print_log" else callback)
            for name, callback in super().get_default_callbacks()
        ]

    def __getstate__(self):
        state = self.__dict__.copy()
        # skorch's set_params setters (functools.partial objects): rebuilt on
        # load with the optimizers.
        state.pop("virtual_params_", None)
        # Tensors among the init parameters (module__input_mean, ...).
        tensor_attrs = [k for k, v in state.items() if isinstance(v, torch.Tensor)]
        for key in tensor_attrs:
            state[key] = state[key].detach().cpu().numpy()
        state["_tensor_attrs"] = tensor_attrs
        if getattr(self, "initialized_", False):
            torch_state = {}
            names = torch_component_names(self)
            for name in (*names["modules"], *names["criteria"], *names["optimizers"]):
                component = state.pop(name)
                torch_state[name] = {
                    "state_dict": _to_numpy(component.state_dict()),
                    "training": getattr(component, "training", None),
                }
            state["_torch_state"] = torch_state
        return state

    def __setstate__(self, state):
        state = dict(state)
        torch_state = state.pop("_torch_state", None)
        for key in state.pop("_tensor_attrs", ()):
            state[key] = torch.tensor(state[key])
        # On a machine without CUDA a GPU-trained model loads on the CPU
        # (skorch warns).
        map_location = get_map_location(state["device"])
        state["device"] = str(check_device(self, state["device"], map_location))
        self.__dict__.update(state)
        if torch_state is None:
            return
        with torch.random.fork_rng(devices=[]):  # rebuilding must not move the RNG
            self.initialize_module()
            self.initialize_criterion()
        names = torch_component_names(self)
        for name in (*names["modules"], *names["criteria"]):
            saved = torch_state[name]
            component = getattr(self, name)
            component.load_state_dict(_to_torch(saved["state_dict"]))
            component.to(self.device).train(saved["training"])
        self.virtual_params_ = {}
        initialize_optimizers(self)
        for name in names["optimizers"]:
            saved = torch_state[name]
            getattr(self, name).load_state_dict(_to_torch(saved["state_dict"]))


def _to_numpy(obj):
    """Tensors to numpy arrays, through dicts, lists and tuples."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().numpy()
    if isinstance(obj, dict):
        return {key: _to_numpy(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_numpy(value) for value in obj)
    return obj


def _to_torch(obj):
    """numpy arrays to CPU tensors, through dicts, lists and tuples."""
    if isinstance(obj, np.ndarray):
        return torch.tensor(obj)
    if isinstance(obj, dict):
        return {key: _to_torch(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_torch(value) for value in obj)
    return obj
