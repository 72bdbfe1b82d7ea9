"""Tensors made from a caller's values, shared by the torch modules."""

import numpy as np
import torch


def as_buffer(value, dtype=None):
    """A tensor copy of ``value`` for ``register_buffer``.

    ``torch.as_tensor`` would share memory with the caller's array: writes
    into the buffer (a weight schedule, ``load_state_dict``) would then change
    the user's array, or crash on a read-only memory map (joblib).
    """
    if isinstance(value, torch.Tensor):
        return value.detach().clone().to(dtype)
    return torch.tensor(np.asarray(value), dtype=dtype)
