"""``n_threads="auto"``: torch's threads follow the CPUs other work leaves free."""

import os

import pytest
import torch
from _helpers import tiny_classifier

from mgclassifier import _cpu_threads
from mgclassifier._cpu_threads import CpuLoad, auto_threads, torch_threads


class FakeAccounting:
    """Readings of ``_read_load`` for two CPUs: each ``step(span, others,
    own)`` advances the clock by ``span`` seconds, during which other work
    used ``others`` CPUs and this process ``own`` CPUs."""

    def __init__(self):
        self.now, self.busy, self.own = 100.0, 0.0, 0.0

    def step(self, span, others, own=0.0):
        self.now += span
        self.busy += span * (others + own)
        self.own += span * own

    def __call__(self, cpus):
        return self.now, self.busy, self.own


@pytest.fixture
def accounting(monkeypatch):
    fake = FakeAccounting()
    monkeypatch.setattr(_cpu_threads, "_read_load", fake)
    monkeypatch.setattr(_cpu_threads, "_now", lambda: fake.now)
    monkeypatch.setattr(_cpu_threads, "_usable_cpus", lambda: frozenset({0, 1}))
    load = CpuLoad()
    monkeypatch.setattr(_cpu_threads, "_LOAD", load)
    return fake


@pytest.mark.parametrize(
    "others, own, expected",
    [
        (0.0, 0.0, 2),  # idle
        (0.0, 2.0, 2),  # our own two threads busy: still ours
        (1.0, 0.0, 1),  # one process spinning
        (0.67, 1.33, 1),  # the same, while our two threads share with it
        (0.2, 1.0, 2),  # light background work
        (0.5, 1.0, 1),  # a CPU held half the time is not free
        (2.0, 0.0, 1),  # both busy: one thread at least
    ],
)
def test_auto_counts_the_cpus_other_work_leaves_free(accounting, others, own, expected):
    accounting.step(1.0, others, own)
    assert auto_threads(cap=2) == expected
    assert auto_threads(cap=1) == 1  # never above the cap


def test_a_short_span_keeps_the_last_answer(accounting):
    accounting.step(1.0, others=1.0)
    assert auto_threads(cap=2) == 1
    accounting.step(0.01, others=0.0)  # 10 ms: too short to tell
    assert auto_threads(cap=2) == 1
    accounting.step(0.2, others=0.0)
    assert auto_threads(cap=2) == 2


def test_without_the_kernels_accounting_auto_is_torchs_setting(monkeypatch):
    monkeypatch.setattr(_cpu_threads, "_read_load", lambda cpus: None)
    monkeypatch.setattr(_cpu_threads, "_LOAD", CpuLoad())
    assert auto_threads(cap=3) == 3


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="reads Linux's /proc/stat")
def test_the_real_accounting_reads_a_plausible_load():
    load = CpuLoad()
    free = load.free_cpus(wait=True)
    # Other work uses between none and all of the usable CPUs (the kernel's
    # tick counts may round by a tick per CPU over the 0.1 s span).
    assert -0.5 <= free <= len(load.cpus) + 0.5


class ScriptedLoad:
    """Stands in for the CPU load: each reading gives the next free count."""

    def __init__(self, free):
        self.free = list(free)

    def free_cpus(self, wait=False):
        return self.free.pop(0)


def test_a_fit_follows_the_load_epoch_by_epoch(monkeypatch, tree_data):
    from _trunks import ThreadSpy

    X, Y = tree_data
    # When fit begins the CPUs are idle, then each epoch's end reads: one
    # busy process, idle, busy (the last, after training, changes nothing).
    monkeypatch.setattr(_cpu_threads, "_LOAD", ScriptedLoad([2.0, 1.0, 2.0, 1.0, 2.0]))
    ThreadSpy.seen = []
    clf = tiny_classifier(
        module=ThreadSpy, max_epochs=4, n_threads="auto", early_stopping=False
    )
    with torch_threads(2):  # torch's setting when fit begins: the cap
        clf.fit(X, Y, sample_weight=None)
        assert torch.get_num_threads() == 2  # restored
    batches = -(-len(X) // clf.batch_size_)
    # The trunk's probe of its width, then each epoch's batches: epoch e runs
    # on what the reading after epoch e - 1 said.
    assert (
        ThreadSpy.seen[1:]
        == [2] * batches + [1] * batches + [2] * batches + [1] * batches
    )


def test_auto_is_the_default_and_an_int_or_none_still_rules(tree_data):
    from _trunks import ThreadSpy

    assert tiny_classifier().get_params()["n_threads"] == "auto"
    X, Y = tree_data
    before = torch.get_num_threads()  # 1: conftest's session setting
    ThreadSpy.seen = []
    tiny_classifier(module=ThreadSpy, max_epochs=1).fit(X, Y)
    # "auto" never goes above torch's setting when fit began.
    assert set(ThreadSpy.seen) == {before}
    assert torch.get_num_threads() == before
