"""distributed=True: one model trained by several processes with DDP (gloo, CPU)."""

import os
import pickle
import signal
import subprocess
import sys
from datetime import timedelta

import numpy as np
import pytest
import torch
import torch.distributed as dist
from _data_parallel_params import PARAMS, held_out_data, training_data
from _helpers import TINY_BUDGETS, make_tree_data

import mgclassifier
from mgclassifier import MultiGranularityClassifier
from mgclassifier._data._out_of_core import OutOfCoreArray
from mgclassifier._training._distributed import DataParallel

pytestmark = TINY_BUDGETS

TESTS = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(mgclassifier.__file__)))


@pytest.fixture
def one_process_group(tmp_path):
    """A gloo process group of one process (this one), destroyed afterwards."""
    dist.init_process_group(
        "gloo",
        init_method=f"file://{tmp_path / 'rendezvous'}",
        rank=0,
        world_size=1,
        timeout=timedelta(seconds=60),
    )
    yield
    dist.destroy_process_group()


def test_a_one_process_group_gives_the_plain_fit(one_process_group):
    X, Y = make_tree_data(n_samples=300)
    params = dict(PARAMS, max_epochs=4)
    plain = MultiGranularityClassifier(**params).fit(X, Y)
    parallel = MultiGranularityClassifier(distributed=True, **params).fit(X, Y)
    for a, b in zip(parallel.predict_proba(X), plain.predict_proba(X)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert parallel.temperature_ == pytest.approx(plain.temperature_, rel=1e-4)
    # No DDP callback stays in the fitted net (it pickles as any other).
    names = [name for name, _ in parallel.net_.callbacks_]
    assert "ddp" not in names and "loss_sync" not in names
    pickle.loads(pickle.dumps(parallel)).predict(X)


def test_a_memory_map_trains_out_of_core_in_a_process_group(
    one_process_group, tmp_path
):
    X, Y = make_tree_data(n_samples=300)
    np.save(tmp_path / "X.npy", X.astype(np.float32))
    X_map = np.load(tmp_path / "X.npy", mmap_mode="r")
    params = dict(PARAMS, max_epochs=3)
    plain = MultiGranularityClassifier(**params).fit(X_map, Y)
    parallel = MultiGranularityClassifier(distributed=True, **params).fit(X_map, Y)
    np.testing.assert_allclose(
        parallel.predict_proba(X)[-1], plain.predict_proba(X)[-1], atol=1e-5
    )


def test_distributed_fits_from_scratch_only(one_process_group, tmp_path):
    X, Y = make_tree_data(n_samples=100)
    with pytest.raises(ValueError, match="from scratch"):
        MultiGranularityClassifier(
            distributed=True, checkpoint_dir=tmp_path, **PARAMS
        ).fit(X, Y)


def test_distributed_refuses_target_accuracy(one_process_group):
    # Every process would choose its own threshold on its own held-out rows.
    X, Y = make_tree_data(n_samples=100)
    with pytest.raises(ValueError, match="target_accuracy"):
        MultiGranularityClassifier(distributed=True, target_accuracy=0.9, **PARAMS).fit(
            X, Y
        )


def test_distributed_without_a_process_group_says_how_to_launch(monkeypatch):
    for name in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    X, Y = make_tree_data(n_samples=100)
    with pytest.raises(ValueError, match="torchrun --nproc_per_node"):
        MultiGranularityClassifier(distributed=True, **PARAMS).fit(X, Y)


def test_each_process_keeps_only_its_rows_and_a_memory_map_stays_one(tmp_path):
    X, Y = make_tree_data(n_samples=11)
    path = tmp_path / "X.npy"
    np.save(path, X.astype(np.float32))
    X_map = OutOfCoreArray(np.load(path, mmap_mode="r"))  # as validated
    codes = np.arange(9)[:, None]  # the tree is read from the shared rows
    shares = []
    for rank in range(3):
        parallel = object.__new__(DataParallel)
        parallel.rank, parallel.size = rank, 3
        share, codes_share, w_share, scaling = parallel.share(
            X_map, codes, np.arange(11.0), "none"
        )
        assert scaling is None  # "standard" gathers every process's moments
        # A strided view: nothing read.
        assert isinstance(share, OutOfCoreArray) and isinstance(share.data, np.memmap)
        assert len(share) == len(codes_share) == len(w_share) == 3
        np.testing.assert_array_equal(w_share, np.arange(rank, 9, 3))
        np.testing.assert_array_equal(codes_share[:, 0], np.arange(rank, 9, 3))
        shares.append(share[0:3])
    # 11 // 3 rows each; the last 2 left out.
    np.testing.assert_array_equal(
        np.sort(np.concatenate(shares), axis=0),
        np.sort(X[:9].astype(np.float32), axis=0),
    )


@pytest.mark.slow  # two processes, each importing torch and fitting: ~10-30 s
def test_two_processes_fit_one_model_as_good_as_one_process(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([PACKAGE_ROOT, os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",  # a free port of its own
        "--nproc_per_node",
        "2",
        os.path.join(TESTS, "_data_parallel_fit.py"),
        str(tmp_path),
    ]
    launcher = subprocess.Popen(
        command,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        output, _ = launcher.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(launcher.pid, signal.SIGKILL)  # the launcher and its workers
        launcher.communicate()
        pytest.fail("the two-process fit did not end in 240 s")
    assert launcher.returncode == 0, output.decode()[-3000:]
    results = []
    for rank in range(2):
        with open(tmp_path / f"rank{rank}.pkl", "rb") as file:
            results.append(pickle.load(file))
    first, second = (result["model"] for result in results)

    # Every process ends with the same model (weights, epochs, temperature).
    X_test, Y_test = held_out_data()
    for a, b in zip(first.predict_proba(X_test), second.predict_proba(X_test)):
        np.testing.assert_array_equal(a, b)
    assert first.best_epoch_ == second.best_epoch_
    assert first.temperature_ == second.temperature_
    assert first.history_[:, "valid_loss"] == second.history_[:, "valid_loss"]

    # It predicts in this ordinary process, pickled and through skops.
    sio = pytest.importorskip("skops.io")
    restored = sio.loads(
        sio.dumps(first), trusted=sio.get_untrusted_types(data=sio.dumps(first))
    )
    np.testing.assert_array_equal(restored.predict(X_test), first.predict(X_test))

    # As good as one process on the same rows: the same global batch and
    # schedule, but other batches, held-out rows and dropout masks.
    X, Y = training_data()
    with torch.random.fork_rng():
        single = MultiGranularityClassifier(**PARAMS).fit(X, Y)
    parallel_score, single_score = (
        first.score(X_test, Y_test),
        single.score(X_test, Y_test),
    )
    print(
        f"\naccuracy: 2 processes {parallel_score:.3f}, 1 process {single_score:.3f}; "
        f"fit {results[0]['seconds']:.1f} s on 2 processes"
    )
    assert single_score > 0.9
    assert abs(parallel_score - single_score) < 0.03
