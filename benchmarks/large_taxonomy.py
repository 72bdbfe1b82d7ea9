"""Prediction on large taxonomies: thousands of leaves, against MLPClassifier.

For each synthetic hierarchy (``make_hierarchical_classification``, 32
features: 10 x 20 x 25 = 5,000 leaves and 20 x 40 x 25 = 20,000 leaves),
``MultiGranularityClassifier(hidden_layer_sizes=(256,), max_epochs=2)`` and
``MLPClassifier((256,), max_iter=2)`` on the leaves are fitted on the same
rows, and then ``predict`` and ``predict_proba`` are timed on other rows,
all float32:

- the first call in a process: each model is pickled, and a fresh Python
  process loads it and makes one call (so whatever a first call sets up is
  in it), and then a second one; the peak of its resident memory during
  the first call, above what it held before, is recorded (sampled every
  millisecond);
- repeated calls: in this process, the median of ``--repeats`` interleaved
  rounds of the four calls, each made twice in a row and timed the second
  time, in wall-clock time and in this process's
  CPU time (the steadier one on a shared machine: with one thread it is
  the wall-clock time of an idle one).

Before timing, ``predict`` is checked against the argmax of
``predict_node_proba``'s path probabilities on all the prediction rows.
Results go to ``<out>/large_taxonomy.md`` and ``.json`` (commit, versions,
CPU, parameters). ``--quick``: the 5,000-leaf hierarchy only, 5,000 rows.

Run it on one thread (the machine may be shared)::

    python benchmarks/large_taxonomy.py --threads 1
"""

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _common import (
    RESULTS,
    cpu_model_name,
    peak_memory_during,
    set_threads,
    write_results,
)
from _speed_common import markdown_table
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from mgclassifier import MultiGranularityClassifier
from mgclassifier.datasets import make_hierarchical_classification

FULL = {"branchings": [(10, 20, 25), (20, 40, 25)], "n_rows": 20_000}
QUICK = {"branchings": [(10, 20, 25)], "n_rows": 5_000}
CALLS = ("predict", "predict_proba")
N_FEATURES = 32


def make_data(branching, n_rows, random_state):
    """float32 training and prediction rows of a hierarchy, ``n_rows`` each."""
    X, Y = make_hierarchical_classification(
        2 * n_rows,
        n_features=N_FEATURES,
        branching=branching,
        random_state=random_state,
    )
    X = X.astype(np.float32)
    return X[:n_rows], Y[:n_rows], X[n_rows:]


def fit_models(X, Y, random_state):
    ours = MultiGranularityClassifier(
        hidden_layer_sizes=(256,), max_epochs=2, random_state=random_state
    )
    start = time.perf_counter()
    ours.fit(X, Y)
    ours_s = time.perf_counter() - start
    mlp = MLPClassifier((256,), max_iter=2, random_state=random_state)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 2 epochs, on purpose
        mlp.fit(X, Y[:, -1])
    return {"ours": ours, "MLPClassifier": mlp}, {
        "ours": ours_s,
        "MLPClassifier": time.perf_counter() - start,
    }


def worker(model_path, rows_path, method, threads):
    """A first and a second call in this fresh process; prints a JSON record."""
    limiter = set_threads(threads)  # noqa: F841  (keeps the limit alive)
    with open(model_path, "rb") as file:
        model = pickle.load(file)
    X = np.load(rows_path)
    seconds, peak = peak_memory_during(lambda: getattr(model, method)(X))
    start = time.perf_counter()
    getattr(model, method)(X)
    second = time.perf_counter() - start
    print(json.dumps({"first_s": seconds, "second_s": second, "peak_rss_bytes": peak}))


def first_calls(models, X, threads, folder):
    """``{(model, call): record}`` of a first call, each in a new process."""
    rows_path = Path(folder) / "rows.npy"
    np.save(rows_path, X)
    records = {}
    for name, model in models.items():
        model_path = Path(folder) / f"{name}.pkl"
        model_path.write_bytes(pickle.dumps(model))
        for method in CALLS:
            command = [
                sys.executable,
                __file__,
                "--worker",
                str(model_path),
                str(rows_path),
                method,
                "--threads",
                str(threads),
            ]
            output = subprocess.run(command, capture_output=True, text=True, check=True)
            records[name, method] = json.loads(output.stdout.strip().splitlines()[-1])
    return records


def repeated_calls(models, X, repeats):
    """Median wall-clock, CPU and system CPU seconds of each call over
    ``repeats`` interleaved rounds, and every sample.

    CPU time (this process's) is the steadier measure on a shared machine:
    with one thread it equals the wall-clock time of an idle one. The
    system part of it is the kernel's work for the call, mostly the page
    faults of the fresh memory a result needs (on the virtual machines
    measured, the part that varied most from call to call).
    """
    samples = {(name, method): [] for name in models for method in CALLS}
    for _ in range(repeats):
        for name, method in samples:
            # The call just made is timed again: what a call costs that
            # follows itself, not whatever another model's call left behind
            # (freeing a result of hundreds of MB made the next call of
            # either library up to twice as slow here).
            getattr(models[name], method)(X)
            start, cpu, kernel = time.perf_counter(), time.process_time(), os.times()
            getattr(models[name], method)(X)
            wall = time.perf_counter() - start
            system = os.times().system - kernel.system
            samples[name, method].append((wall, time.process_time() - cpu, system))
    medians = {
        key: tuple(statistics.median(column) for column in zip(*values))
        for key, values in samples.items()
    }
    return medians, samples


def check_predict(ours, X):
    """Whether ``predict`` is the best path of ``predict_node_proba``."""
    leaf = ours.predict_node_proba(X)[-1].argmax(axis=1)
    return bool(np.array_equal(ours.predict(X), ours.hierarchy_.decode_leaves(leaf)))


def run_hierarchy(branching, n_rows, args, folder):
    X_train, Y_train, X = make_data(branching, n_rows, args.random_state)
    models, fit_s = fit_models(X_train, Y_train, args.random_state)
    ours = models["ours"]
    record = {
        "branching": list(branching),
        "n_leaves": int(np.prod(branching)),
        "n_logits": int(sum(ours.hierarchy_.n_nodes)),
        "fit_s": fit_s,
        "predict_is_argmax_of_proba": check_predict(ours, X),
    }
    record["first"] = first_calls(models, X, args.threads, folder)
    record["repeated"], record["samples"] = repeated_calls(models, X, args.repeats)
    # The float32 logits that predict reads: every level's, with coarse votes.
    record["logits_bytes"] = 4 * len(X) * record["n_logits"]
    return record


def table_rows(record):
    rows = []
    for method in CALLS:
        mlp_first = record["first"]["MLPClassifier", method]["first_s"]
        mlp_wall, mlp_cpu, _ = record["repeated"]["MLPClassifier", method]
        for name in ("ours", "MLPClassifier"):
            first = record["first"][name, method]
            wall, cpu, system = record["repeated"][name, method]
            rows.append(
                [
                    f"{record['n_leaves']:,}",
                    f"{name} `{method}`",
                    f"{first['first_s']:.2f}",
                    f"{first['second_s']:.2f}",
                    f"{wall:.2f}",
                    f"{cpu:.2f}",
                    f"{system:.2f}",
                    f"{wall / mlp_wall:.2f}",
                    f"{cpu / mlp_cpu:.2f}",
                    f"{first['first_s'] / mlp_first:.2f}",
                    f"{first['peak_rss_bytes'] / 2**20:,.0f}",
                    f"{first['peak_rss_bytes'] / record['logits_bytes']:.2f}",
                ]
            )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=RESULTS, help="output folder")
    parser.add_argument("--threads", type=int, default=1, help="torch/BLAS threads")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="5,000 leaves only")
    parser.add_argument(
        "--max-leaves", type=int, default=None, help="skip larger hierarchies"
    )
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(*args.worker, args.threads)
    limiter = set_threads(args.threads)  # noqa: F841  (keeps the limit alive)
    config = QUICK if args.quick else FULL
    load = os.getloadavg()[0]
    records, rows = [], []
    with tempfile.TemporaryDirectory() as folder:
        for branching in config["branchings"]:
            if args.max_leaves and np.prod(branching) > args.max_leaves:
                continue
            record = run_hierarchy(branching, config["n_rows"], args, folder)
            print(
                json.dumps({k: record[k] for k in ("branching", "fit_s")}), flush=True
            )
            records.append(record)
            rows += table_rows(record)
    table = markdown_table(
        [
            "leaves",
            "call",
            "first call (s)",
            "second call, same process (s)",
            "repeated (s)",
            "repeated, CPU (s)",
            "of which system (s)",
            "÷ MLP, repeated",
            "÷ MLP, repeated CPU",
            "÷ MLP, first",
            "peak RSS, first call (MiB)",
            "÷ float32 logits",
        ],
        rows,
    )
    n_rows = config["n_rows"]
    suffix = (" --quick" if args.quick else "") + (
        f" --max-leaves {args.max_leaves}" if args.max_leaves else ""
    )
    text = "\n".join(
        [
            f"# Large taxonomies: prediction time and memory{suffix}",
            "",
            f"`python benchmarks/large_taxonomy.py --threads {args.threads}{suffix}`: "
            f"{cpu_model_name()}, {os.cpu_count()} CPUs visible, {args.threads} "
            f"thread(s), load average {load:.1f} at start.",
            "",
            f"{N_FEATURES} features, {n_rows:,} training rows and {n_rows:,} other "
            f"rows predicted (float32); `MultiGranularityClassifier("
            f"hidden_layer_sizes=(256,), max_epochs=2)` at its other defaults "
            f"(coarse votes 0.25) and `MLPClassifier((256,), max_iter=2)` on the "
            f"leaves. First call: one call in a fresh process that loaded the "
            f"pickled model, then a second call there; repeated: median of "
            f"{args.repeats} interleaved rounds, each call made twice in a row and "
            f"timed the second time. Peak RSS: above the "
            f"process's RSS before the call; CPU: this process's CPU time, "
            f"of which system: the kernel's (mostly page faults of fresh "
            f"memory for the result); "
            f"÷ float32 logits: over {n_rows:,} rows x every level's logits x 4 "
            f"bytes.",
            "",
            table,
            "",
            "`predict` equals the best path of `predict_node_proba`: "
            + ", ".join(
                f"{r['n_leaves']:,} leaves {r['predict_is_argmax_of_proba']}"
                for r in records
            )
            + ".",
        ]
    )
    print(text, flush=True)
    write_results(
        f"large_taxonomy{'_quick' if args.quick else ''}",
        text,
        data={
            "load_average_at_start": load,
            "hierarchies": [
                {
                    **record,
                    "first": {f"{n} | {m}": v for (n, m), v in record["first"].items()},
                    "repeated": {
                        f"{n} | {m}": v for (n, m), v in record["repeated"].items()
                    },
                    "samples": {
                        f"{n} | {m}": v for (n, m), v in record["samples"].items()
                    },
                }
                for record in records
            ],
        },
        params={
            "threads": args.threads,
            "repeats": args.repeats,
            "random_state": args.random_state,
            "quick": args.quick,
            "max_leaves": args.max_leaves,
            **config,
        },
        out=args.out,
    )
    return None


if __name__ == "__main__":
    main()
