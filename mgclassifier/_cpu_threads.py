"""torch's intra-op threads for the duration of one call (``n_threads``)."""

import contextlib
import functools

import torch


@contextlib.contextmanager
def torch_threads(n_threads):
    """Run the block with ``torch.set_num_threads(n_threads)``, then restore.

    None leaves torch as it is. The setting is process-wide while the block
    runs (torch has no per-call one); the previous value comes back even when
    the block raises.

    Examples
    --------
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def in_torch_threads(method):
    """Decorate an estimator method to run under its ``n_threads``."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        with torch_threads(self.n_threads):
            return method(self, *args, **kwargs)

    return run
