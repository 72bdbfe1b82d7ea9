"""A hyper-parameter search on a Dask cluster through joblib's "dask" backend."""

import os
import time

import numpy as np
import pytest
from _helpers import make_tree_data
from sklearn.model_selection import GridSearchCV

from mgclassifier import MultiGranularityClassifier
from mgclassifier.metrics import average_precision_scorer, fine_accuracy_scorer

joblib = pytest.importorskip("joblib")
distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow  # a two-process cluster and two searches: 10-20 s

# accuracy moves in steps of 1/n; average precision is continuous, so it shows
# any numerical difference between the two runs.
SCORING = {"accuracy": fine_accuracy_scorer, "ap": average_precision_scorer}
N_CANDIDATES, N_SPLITS = 2, 2


@pytest.fixture(scope="module")
def dask_client(request):
    start = time.perf_counter()
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    request.addfinalizer(cluster.close)
    client = distributed.Client(cluster)
    request.addfinalizer(client.close)  # finalizers run last-in, first-out
    print(
        f"\nLocalCluster (2 worker processes) up in {time.perf_counter() - start:.1f} s"
    )
    return client


def _search(n_jobs):
    estimator = MultiGranularityClassifier(
        hidden_layer_sizes=(16,),
        max_epochs=5,
        batch_size=32,
        lr=0.01,
        random_state=0,
    )
    return GridSearchCV(
        estimator,
        {"dropout": [0.0, 0.3]},
        cv=N_SPLITS,
        scoring=SCORING,
        refit="ap",
        n_jobs=n_jobs,
    )


def test_grid_search_on_dask_matches_sequential(dask_client):
    X, Y = make_tree_data(n_samples=120)
    start = time.perf_counter()

    sequential = _search(n_jobs=1).fit(X, Y)
    t_sequential = time.perf_counter() - start

    # Defined here, not at module level, so that they are pickled by value:
    # the workers cannot import this test module.
    def record_fits(dask_worker):
        """From now on, note the rows of each fit run in this worker."""
        import functools

        from mgclassifier import MultiGranularityClassifier as cls

        dask_worker.mgclassifier_fits = sizes = []
        original = cls.fit

        @functools.wraps(original)
        def fit(self, X, *args, **kwargs):
            sizes.append(len(X))
            return original(self, X, *args, **kwargs)

        cls.fit = fit

    def fits_recorded(dask_worker):
        return list(dask_worker.mgclassifier_fits)

    dask_client.run(record_fits)
    with (
        distributed.get_task_stream(dask_client) as task_stream,
        joblib.parallel_backend("dask"),
    ):
        on_dask = _search(n_jobs=-1).fit(X, Y)
    t_dask = time.perf_counter() - start - t_sequential
    print(f"sequential search {t_sequential:.1f} s, Dask search {t_dask:.1f} s")

    # Same folds, same seeds: every score is bit-for-bit the same.
    expected, got = sequential.cv_results_, on_dask.cv_results_
    assert set(got) == set(expected)
    for key in expected:
        if key.endswith("_time"):
            continue
        if key == "params":
            assert got[key] == expected[key]
        else:
            np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    assert on_dask.best_params_ == sequential.best_params_
    assert on_dask.best_score_ == sequential.best_score_
    assert len(set(expected["mean_test_ap"])) == N_CANDIDATES  # a real contest

    # The fits ran on the cluster's workers, in other processes: each worker
    # counted the fits it ran (one per candidate and fold, on fold-sized
    # data), and the client's task stream saw tasks on those workers only.
    fits = dask_client.run(fits_recorded)
    assert sum(len(sizes) for sizes in fits.values()) == N_CANDIDATES * N_SPLITS
    assert {size for sizes in fits.values() for size in sizes} == {len(X) // N_SPLITS}
    workers = set(dask_client.scheduler_info()["workers"])
    assert set(fits) == workers
    ran_on = {task["worker"] for task in task_stream.data}
    assert ran_on and ran_on <= workers
    print("fits per worker:", {w: len(sizes) for w, sizes in fits.items()})
    worker_pids = dask_client.run(os.getpid)
    assert len(set(worker_pids.values())) == 2
    assert os.getpid() not in worker_pids.values()

    duration = time.perf_counter() - start
    print(f"test body {duration:.1f} s")  # about 20 s on 2 busy cores
