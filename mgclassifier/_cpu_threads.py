"""torch's intra-op threads for the duration of one call (``n_threads``),
and the ``"auto"`` rule: as many threads as this process has CPUs that
other work leaves free.

Threads that meet at every parallel region wait for the slowest: one whose
CPU another process holds stalls the others, so on a CPU shared with other
work an extra thread can cost more than it brings. "auto" counts the CPUs
this process may run on, minus the CPU time other processes spent on them
(the kernel's accounting in ``/proc/stat``, less this process's own CPU
time) over the span since the last reading. Where that accounting cannot
be read (not Linux), "auto" is torch's own setting.
"""

import contextlib
import contextvars
import functools
import os
import resource
import threading
import time

import torch

MIN_SPAN_S = 0.1
"""The shortest span a reading of the load covers. The kernel counts CPU time
in clock ticks (10 ms on most systems), too coarse for shorter spans."""

OTHERS_MAX_SHARE = 0.25
"""A CPU counts as free while other work holds it at most this share of the
span: a thread there then still runs most of the time, where one on a CPU
held half the time stalls every parallel region for the scheduler's slices."""


_now = time.monotonic


def _usable_cpus():
    try:
        return frozenset(os.sched_getaffinity(0))
    except AttributeError:  # not Linux: the accounting below is absent too
        return frozenset(range(os.cpu_count() or 1))


def _read_load(cpus):
    """``(monotonic s, CPU s spent on cpus by everyone, own CPU s)``, or None
    where ``/proc/stat`` cannot be read."""
    busy_ticks = 0
    try:
        with open("/proc/stat") as stat:
            for line in stat:
                name, _, fields = line.partition(" ")
                if not (name.startswith("cpu") and name[3:].isdigit()):
                    continue
                if int(name[3:]) not in cpus:
                    continue
                ticks = [int(tick) for tick in fields.split()[:8]]
                busy_ticks += sum(ticks) - ticks[3] - ticks[4]  # not idle, iowait
    except (OSError, ValueError):
        return None
    own = resource.getrusage(resource.RUSAGE_SELF)
    return (
        _now(),
        busy_ticks / os.sysconf("SC_CLK_TCK"),
        own.ru_utime + own.ru_stime,
    )


class CpuLoad:
    """The CPUs of this process that other work leaves free.

    Each call to :meth:`free_cpus` reads the load over the span since the
    previous call. A span shorter than :data:`MIN_SPAN_S` keeps the previous
    answer; with ``wait=True`` and no previous answer it sleeps out the rest.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.cpus = _usable_cpus()
        self._last = _read_load(self.cpus)
        self._free = None

    def free_cpus(self, wait=False):
        """CPUs not held by other work, a float; None where unknown."""
        with self._lock:
            if self._last is None:
                return None
            span = _now() - self._last[0]
            if span < MIN_SPAN_S:
                # Too short to tell: the last answer, without reading the
                # accounting (a one-row prediction costs less than a read).
                if self._free is not None or not wait:
                    return self._free
                time.sleep(MIN_SPAN_S - span)
            now = _read_load(self.cpus)
            span = now[0] - self._last[0]
            others = (now[1] - self._last[1]) - (now[2] - self._last[2])
            self._free = len(self.cpus) - max(0.0, others / span)
            self._last = now
            return self._free


_LOAD = CpuLoad()


def auto_threads(cap, wait=False):
    """The thread count ``n_threads="auto"`` gives now, at most ``cap``.

    The CPUs that other work leaves free (a CPU counts as free while others
    hold it at most :data:`OTHERS_MAX_SHARE` of the time), at least 1 and at
    most ``cap`` (torch's setting when the call started: torch's default is
    the number of cores, or ``OMP_NUM_THREADS``); ``cap`` where the load
    is unknown.

    Examples
    --------
    >>> 1 <= auto_threads(2, wait=True) <= 2
    True
    """
    free = _LOAD.free_cpus(wait=wait)
    if free is None:
        return cap
    return max(1, min(cap, int(free + OTHERS_MAX_SHARE)))


_AUTO_CAP = contextvars.ContextVar("auto_cap", default=None)
"""Inside a ``torch_threads("auto")`` block: torch's setting when the block
began, the most threads "auto" gives there (the block lowers the setting)."""


def auto_cap():
    """The cap of the enclosing ``torch_threads("auto")`` block, else torch's
    setting now."""
    cap = _AUTO_CAP.get()
    return torch.get_num_threads() if cap is None else cap


def resolve_threads(n_threads, wait=False):
    """The thread count for a call: an int as given, "auto" by the load (at
    most torch's setting now), None for torch's setting as it is."""
    if n_threads == "auto":
        return auto_threads(torch.get_num_threads(), wait=wait)
    return n_threads


@contextlib.contextmanager
def torch_threads(n_threads, wait=False):
    """Run the block with ``torch.set_num_threads(n_threads)``, then restore.

    None leaves torch as it is; "auto" is :func:`auto_threads`. The setting
    is process-wide while the block runs (torch has no per-call one); the
    previous value comes back even when the block raises.

    Examples
    --------
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    cap = torch.get_num_threads()
    n_threads = resolve_threads(n_threads, wait=wait)
    if n_threads is None:
        yield
        return
    token = _AUTO_CAP.set(cap)
    if n_threads != cap:  # setting torch's threads costs microseconds
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != cap:
            torch.set_num_threads(cap)
        _AUTO_CAP.reset(token)


def in_torch_threads(method):
    """Decorate an estimator method to run under its ``n_threads``."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        with torch_threads(self.n_threads):
            return method(self, *args, **kwargs)

    return run
