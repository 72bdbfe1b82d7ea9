"""``distributed=True``: one model trained by several processes at once, with
PyTorch's ``DistributedDataParallel`` (DDP).

Every process runs the same script and calls ``fit(X, y)`` with the same
``X`` and ``y`` (``torchrun --nproc_per_node N script.py``). Each process
keeps only its share of the rows: every ``N``-th row from its rank on, the
same number for every process (``n // N``; up to ``N - 1`` last rows are left
out), so that every process runs the same number of batches (DDP's collective
calls need it). A numpy memory map or a dask array stays out of core (a
strided view); an in-memory array is copied row by row into the share only.

What the processes must agree on, and how:

- the label hierarchy and the parameters: every process checks all of ``X``
  and ``y`` and reads the tree and the ``"auto"`` values from the rows that
  are shared (``_config``), so every process raises the same error or
  resolves the same values;
- the input standardisation: each share's count, mean and sum of squared
  deviations (float64) are gathered and merged (Chan et al.'s update);
- ``batch_size`` is the global batch, split evenly over the processes (each
  takes ``batch_size // N`` rows a step);
- the weights: DDP broadcasts the first process's initial weights and
  averages the gradients of every step, so the weights stay identical; the
  first process's are broadcast once more after training, so every process
  holds bit-identical ones;
- early stopping and the divergence guard: each process holds out its own
  stratified share of rows; at every epoch's end the losses of every process
  are averaged (an all-reduce) before any callback reads them, so every
  process stops at the same epoch and restores the same best epoch;
- calibration: the path scores of every process's held-out rows are
  gathered, the temperature fitted on all of them and the first process's
  value broadcast.

skorch's ``DistributedHistory`` shares every batch's record through a
key-value store (a JSON round trip per batch); the per-level losses here are
summed on the device and read once an epoch, so one all-reduce of the epoch's
means does the same for a fraction of the traffic.
"""

import atexit
import inspect
from dataclasses import replace

import numpy as np
import scipy.sparse as sp
import torch
import torch.distributed as dist
from skorch.callbacks import Callback

from .._data import _out_of_core
from .._data._standardisation import (
    block_moments,
    merged_moments,
    standardisation_from_moments,
)


def start():
    """The :class:`DataParallel` of this process.

    Uses the initialized default process group, or initializes one from the
    environment ``torchrun`` sets (gloo for the CPU, NCCL for CUDA tensors);
    ``_config`` checked that one of them is there.
    """
    if not dist.is_initialized():
        backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
        atexit.register(_destroy_group)
    return DataParallel()


def _destroy_group():
    if dist.is_initialized():
        # The processes leave together: one that tore its group down while
        # the other still held the connections once aborted that other one
        # at exit ("terminate called without an active exception", gloo).
        try:
            dist.barrier()
        finally:
            dist.destroy_process_group()


class DataParallel:
    """This process's part in a data-parallel fit (the default process group)."""

    def __init__(self):
        self.rank = dist.get_rank()
        self.size = dist.get_world_size()

    # ---------------------------------------------------------------- data
    def share(self, X, codes, sample_weight, feature_scaling):
        """This process's rows of the validated ``X``, ``codes`` and
        ``sample_weight``, and the standardisation of every process's rows.

        A share is every ``size``-th row from the process's rank on, ``n //
        size`` of them (``codes`` may stop at the last row shared). The
        standardisation is None unless ``feature_scaling`` is "standard".
        """
        n_shared = X.shape[0] // self.size * self.size
        rows = slice(self.rank, n_shared, self.size)
        X = _rows(X, rows)
        return (
            X,
            codes[rows],
            None if sample_weight is None else sample_weight[rows],
            self.standardisation(X) if feature_scaling == "standard" else None,
        )

    def local_config(self, config):
        """``config`` for this process: ``batch_size`` is the global batch,
        split over the processes (each takes ``batch_size // size`` rows a
        step)."""
        batch_size = max(1, config.training.batch_size // self.size)
        training = replace(config.training, batch_size=batch_size)
        return replace(config, training=training)

    def standardisation(self, X):
        """``(mean, scale)`` of all shares' rows, or None for inputs that are
        not flat floats (image arrays, token ids: never standardised)."""
        if getattr(X, "ndim", 2) != 2 or not (
            sp.issparse(X) or np.issubdtype(X.dtype, np.floating)
        ):
            return None
        count, mean, m2 = block_moments(X)
        local = torch.cat([torch.tensor([float(count)], dtype=torch.float64), mean, m2])
        gathered = [torch.empty_like(local) for _ in range(self.size)]
        dist.all_gather(gathered, local)
        n_features = mean.numel()
        count, mean, m2 = merged_moments(  # in rank order: the same everywhere
            (
                (part[0].item(), part[1 : 1 + n_features], part[1 + n_features :])
                for part in gathered
            ),
            n_features,
        )
        mean, scale = standardisation_from_moments(mean, m2 / count)
        if sp.issparse(X):  # sparse input is scaled, never centred
            return torch.zeros(n_features), scale
        return mean, scale

    # ------------------------------------------------------------ training
    def fit(self, net, dataset, seed):
        """Train the (uninitialized) net on this process's ``dataset`` with DDP."""
        callbacks = net.callbacks
        sync = EpochLossSync(self)
        forward = DataParallelForward(self, seed)
        # First: DDP broadcasts the first process's weights before any other
        # callback copies them (weight averaging), and the divergence guard
        # and early stopping read the averaged losses.
        net.callbacks = [("ddp", forward), ("loss_sync", sync), *(callbacks or [])]
        if self.rank != 0:
            net.verbose = 0  # one process prints
        try:
            net.fit(dataset, None)
        finally:
            if forward.__dict__.get("plain_") is not None:  # a batch that raised
                net.module_ = forward.plain_
            net.callbacks = callbacks
            net.callbacks_ = [
                (name, callback)
                for name, callback in getattr(net, "callbacks_", [])
                if callback is not sync and callback is not forward
            ]
        with torch.no_grad():  # bit-identical on every process
            for tensor in net.module_.state_dict().values():
                dist.broadcast(tensor, src=0)
        return net

    def gathered(self, scores, leaf_codes):
        """Every process's held-out path scores and leaf codes, in rank order
        (the temperature is fitted on all of them)."""
        gathered = [None] * self.size
        dist.all_gather_object(gathered, (scores.cpu(), leaf_codes.cpu()))
        device = scores.device
        return (
            torch.cat([part[0] for part in gathered]).to(device),
            torch.cat([part[1] for part in gathered]).to(device),
        )

    def first_process(self, value):
        """The first process's ``value``, on every process."""
        chosen = [value]
        dist.broadcast_object_list(chosen, src=0)
        return chosen[0]


def _rows(X, rows):
    """The ``rows`` (a strided slice) of a validated ``X``: a memory map or a
    dask array stays out of core, a chunked store is read."""
    if isinstance(X, _out_of_core.OutOfCoreArray):
        part = X.data[rows]
        if _out_of_core.is_out_of_core(part):
            return _out_of_core.OutOfCoreArray(part)
        return np.asarray(part, dtype=np.float32)
    if sp.issparse(X):
        return X[rows]
    return np.ascontiguousarray(X[rows])


class EpochLossSync(Callback):
    """Average the epoch's losses over the processes before any callback reads them.

    Every process holds as many training and held-out rows as the others, so
    the mean of the processes' means is the mean over all rows. The ``_best``
    flags are set again from the averaged values.
    """

    def __init__(self, parallel):
        self.parallel = parallel

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        keys = sorted(
            key
            for key, value in row.items()
            if key.endswith("_loss") or "_loss_level_" in key
            if isinstance(value, (int, float))
        )
        values = torch.tensor([float(row[key]) for key in keys], dtype=torch.float64)
        dist.all_reduce(values)
        values /= self.parallel.size
        for key, value in zip(keys, values.tolist()):
            net.history.record(key, value)
            best = f"{key}_best"
            if best in row:
                earlier = [past[key] for past in net.history[:-1] if key in past]
                net.history.record(best, not earlier or value < min(earlier))


# The buffers (the standardisation) are the same on every process: no
# broadcast before every forward pass (torch 2.13 renamed the option).
_NO_BUFFER_SYNC_PER_FORWARD = (
    {"forward_sync_buffers": False}
    if "forward_sync_buffers"
    in inspect.signature(torch.nn.parallel.DistributedDataParallel).parameters
    else {"broadcast_buffers": False}
)


class DataParallelForward(Callback):
    """Training batches go through a ``DistributedDataParallel`` wrapper.

    The net's ``module_`` stays the plain module (for validation, callbacks
    and the fitted model); only during a training batch is it the DDP wrapper,
    whose forward prepares the gradient all-reduce of the backward pass.
    Every process but the first draws its own dropout masks (the first keeps
    the random stream of a fit on one process).
    """

    def __init__(self, parallel, seed):
        self.parallel = parallel
        self.seed = seed

    def on_train_begin(self, net, **kwargs):
        if self.parallel.rank:
            torch.manual_seed(self.seed + 1_000_003 * self.parallel.rank)
        device = torch.device(net.device)
        self.ddp_ = torch.nn.parallel.DistributedDataParallel(
            net.module_,
            device_ids=[device] if device.type == "cuda" else None,
            **_NO_BUFFER_SYNC_PER_FORWARD,
        )
        self.plain_ = None

    def on_batch_begin(self, net, training=False, **kwargs):
        if training:
            self.plain_, net.module_ = net.module_, self.ddp_

    def on_batch_end(self, net, training=False, **kwargs):
        if training and self.plain_ is not None:
            net.module_, self.plain_ = self.plain_, None

    def on_train_end(self, net, **kwargs):
        if self.plain_ is not None:  # a batch that raised
            net.module_, self.plain_ = self.plain_, None
        self.ddp_ = None
