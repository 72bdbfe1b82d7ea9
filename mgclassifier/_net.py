"""skorch ``NeuralNet`` subclass: multi-head loss, L1 penalty, per-level history
and a prediction path without skorch's per-call ``DataLoader``."""

import numpy as np
import scipy.sparse as sp
import torch
from skorch import NeuralNet
from skorch.utils import get_map_location

from ._data import sparse_rows_to_torch

NUMPY_FORWARD_MAX_ROWS = 64
"""Up to this many dense CPU rows, inference runs in numpy (no torch thread-pool
wake-up, which dominates small calls); larger chunks use torch's faster kernels."""


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
    **kwargs
        Passed to :class:`skorch.NeuralNet`.
    """

    def __init__(self, *args, alpha_l1=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.alpha_l1 = alpha_l1

    def get_loss(self, y_pred, y_true, X=None, training=False):
        codes, sample_weight = y_true
        loss, per_level = self.criterion_(
            y_pred, codes, sample_weight, training=training
        )
        # Summed as tensors and read once per epoch: no GPU sync per batch.
        prefix = "train" if training else "valid"
        self._level_loss_sums[prefix] += per_level * len(codes)
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
        super().on_epoch_end(net, **kwargs)
        for prefix, total in self._level_loss_sums.items():
            count = self._level_loss_counts[prefix]
            if count:
                for level, value in enumerate((total / count).tolist()):
                    self.history.record(f"{prefix}_loss_level_{level}", value)

    def on_train_end(self, net, **kwargs):
        super().on_train_end(net, **kwargs)
        # Running sums may live on the GPU: drop them so pickles load anywhere.
        self.__dict__.pop("_level_loss_sums", None)
        self.__dict__.pop("_level_loss_counts", None)

    def predict_logits(self, X, chunk_size=8192):
        """Concatenated per-level logits for a 2-D array, as float64 numpy.

        One chunk of rows at a time: small dense chunks on the CPU go through
        the module's numpy twin (``MultiHeadMLP.numpy_forward``), other inputs
        through the module in inference mode (sparse rows stay sparse). It
        does not touch the module's train/eval mode, so concurrent calls from
        several threads are safe.
        """
        with torch.inference_mode():
            chunks = [
                self._forward_rows(X[start : start + chunk_size])
                for start in range(0, X.shape[0], chunk_size)
            ]
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    def _forward_rows(self, rows):
        small = rows.shape[0] <= NUMPY_FORWARD_MAX_ROWS
        if small and not sp.issparse(rows) and torch.device(self.device).type == "cpu":
            return self.module_.numpy_forward(rows).astype(np.float64)
        if sp.issparse(rows):
            rows = sparse_rows_to_torch(rows, self.device)
        logits = self.module_(torch.as_tensor(rows, device=self.device))
        return logits.cpu().numpy().astype(np.float64)

    # ------------------------------------------------------------ persistence
    # skorch's NeuralNet.__getstate__ pickles module_, criterion_ and
    # optimizer_ into one opaque bytes blob that __setstate__ unpickles with a
    # plain pickle.Unpickler: skops cannot audit it, so skops.io.load(...,
    # trusted=[...]) would run any code hidden in it. Here the torch parts are
    # stored as numpy state dicts and rebuilt on load from their classes and
    # init parameters, which skops does audit. pickle gets the same state.

    def _torch_component_names(self):
        return [
            f"{name}_" for name in (*self._modules, *self._criteria, *self._optimizers)
        ]

    def __getstate__(self):
        state = self.__dict__.copy()
        # Tensors among the init parameters (module__input_mean, ...).
        tensor_attrs = [k for k, v in state.items() if isinstance(v, torch.Tensor)]
        for key in tensor_attrs:
            state[key] = state[key].detach().cpu().numpy()
        state["_tensor_attrs"] = tensor_attrs
        if getattr(self, "initialized_", False):
            torch_state = {}
            for name in self._torch_component_names():
                component = state.pop(name)
                torch_state[name] = {
                    "state_dict": _to_numpy(component.state_dict()),
                    "training": getattr(component, "training", None),
                }
            state["_torch_state"] = torch_state
        return state

    def __setstate__(self, state):
        if "__cuda_dependent_attributes__" in state:  # skorch's own format
            super().__setstate__(state)
            self.device = str(self.device)
            return
        state = dict(state)
        torch_state = state.pop("_torch_state", None)
        for key in state.pop("_tensor_attrs", ()):
            state[key] = torch.tensor(state[key])
        # On a machine without CUDA a GPU-trained model loads on the CPU
        # (skorch warns).
        map_location = get_map_location(state["device"])
        state["device"] = str(self._check_device(state["device"], map_location))
        self.__dict__.update(state)
        if torch_state is None:
            return
        with torch.random.fork_rng(devices=[]):  # rebuilding must not move the RNG
            self.initialize_module()
            self.initialize_criterion()
        for name in (*self._modules, *self._criteria):
            saved = torch_state[f"{name}_"]
            component = getattr(self, f"{name}_")
            component.load_state_dict(_to_torch(saved["state_dict"]))
            component.to(self.device).train(saved["training"])
        self.initialize_optimizer()
        for name in self._optimizers:
            saved = torch_state[f"{name}_"]
            getattr(self, f"{name}_").load_state_dict(_to_torch(saved["state_dict"]))


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
