"""Data-parallel training (distributed=True) on 1 and 2 processes, and what
checkpoint_dir costs, on the CPU.

Part 1, samples/s: torchrun launches ``--nproc`` processes (each one torch
thread, gloo) that fit one model on the same synthetic data with
``distributed=True``; samples/s is rows x epochs over the slowest process's
fit time. A plain fit (``distributed=False``, one process) is timed beside
it. Part 2, the default fit: whole fits with ``checkpoint_dir=None`` and with
a checkpoint directory, interleaved in one process, and the same default fit
timed by another interpreter on a second source tree (``--baseline-src``,
e.g. an export of the main branch) right after this tree's: the ratio says
whether the default fit got slower.

Run: ``python benchmarks/distributed.py --repeats 3``
(``--baseline-src /tmp/main-src`` adds the comparison with that tree).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from _common import RESULTS, cpu_model_name, write_results

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def make_data(n_samples, n_features, seed=0):
    from mgclassifier.datasets import make_hierarchical_classification

    X, Y = make_hierarchical_classification(
        n_samples=n_samples,
        n_features=n_features,
        branching=(4, 5),
        class_sep=3.0,
        random_state=seed,
    )
    return X.astype(np.float32), Y


def fit_params(args):
    return dict(
        hidden_layer_sizes=(args.width,),
        max_epochs=args.epochs,
        early_stopping=True,
        patience=args.epochs,  # every epoch runs: the same work on each setting
        batch_size=args.batch_size,
        random_state=0,
        n_threads=1,
    )


def worker(args):
    """One process of the torchrun job: fit, print its seconds as JSON.

    A warm-up fit on 2,000 rows comes first (not timed)."""
    import torch

    from mgclassifier import MultiGranularityClassifier

    torch.set_num_threads(1)
    X, Y = make_data(args.n_samples + 4000, args.n_features)  # one problem
    X, Y, X_test, Y_test = X[:-4000], Y[:-4000], X[-4000:], Y[-4000:]
    distributed = args.mode == "distributed"
    params = fit_params(args)
    if distributed:  # a baseline tree may not know the parameter
        params["distributed"] = True
    # The first fit of a process pays for torch's (and gloo's) start-up.
    MultiGranularityClassifier(**{**params, "max_epochs": 1}).fit(X[:2000], Y[:2000])
    clf = MultiGranularityClassifier(**params)
    start = time.perf_counter()
    clf.fit(X, Y)
    seconds = time.perf_counter() - start
    rank = torch.distributed.get_rank() if distributed else 0
    result = {
        "rank": rank,
        "seconds": seconds,
        "epochs": clf.n_epochs_,
        "accuracy": clf.score(X_test, Y_test),
    }
    with open(os.path.join(args.result_dir, f"rank{rank}.json"), "w") as file:
        json.dump(result, file)


def launch(args, mode, nproc, src=ROOT):
    """Run the workers; the slowest process's result."""
    script = [
        os.path.abspath(__file__),
        "--worker",
        mode,
        *("--n-samples", str(args.n_samples), "--n-features", str(args.n_features)),
        *("--width", str(args.width), "--epochs", str(args.epochs)),
        *("--batch-size", str(args.batch_size)),
    ]
    if mode == "distributed":
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            str(nproc),
            *script,
        ]
    else:
        command = [sys.executable, *script]
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as result_dir:
        subprocess.run(
            [*command, "--result-dir", result_dir],
            env=env,
            capture_output=True,
            timeout=1800,
            check=True,
        )
        results = []
        for name in sorted(os.listdir(result_dir)):
            with open(os.path.join(result_dir, name)) as file:
                results.append(json.load(file))
    assert len(results) == nproc, results
    return max(results, key=lambda result: result["seconds"])


def samples_per_second(args):
    rows, data = [], {}
    settings = [("plain", 1), *(("distributed", n) for n in args.nproc)]
    for _ in range(args.repeats):
        for mode, nproc in settings:
            result = launch(args, mode, nproc)
            rate = args.n_samples * result["epochs"] / result["seconds"]
            data.setdefault(f"{mode}-{nproc}", []).append({**result, "rate": rate})
    for key, runs in data.items():
        rates = [run["rate"] for run in runs]
        rows.append(
            f"| {key} | {np.median(rates):,.0f} | {min(rates):,.0f}-{max(rates):,.0f} "
            f"| {np.median([run['seconds'] for run in runs]):.2f} "
            f"| {np.median([run['accuracy'] for run in runs]):.3f} |"
        )
    table = [
        f"Fit of {args.n_samples:,} x {args.n_features} rows, trunk ({args.width},), "
        f"{args.epochs} epochs, global batch {args.batch_size}, early-stopping "
        f"split 10%, one torch thread per process, gloo; {cpu_model_name()}, "
        f"{os.cpu_count()} logical CPUs; {args.repeats} runs per row:",
        "",
        "| processes | samples/s (median) | range | fit s | fine accuracy |",
        "|---|---:|---|---:|---:|",
        *rows,
    ]
    return "\n".join(table), data


def checkpoint_cost(args):
    """Default fits with and without checkpoint_dir, interleaved."""
    from mgclassifier import MultiGranularityClassifier

    X, Y = make_data(args.n_samples, args.n_features)
    params = fit_params(args)
    MultiGranularityClassifier(**{**params, "max_epochs": 1}).fit(X, Y)  # warm-up
    seconds = {"checkpoint_dir=None": [], "checkpoint_dir=<tmp>": []}
    for _ in range(args.repeats):
        for key in seconds:
            with tempfile.TemporaryDirectory() as directory:
                clf = MultiGranularityClassifier(
                    checkpoint_dir=directory if "tmp" in key else None, **params
                )
                start = time.perf_counter()
                clf.fit(X, Y)
                seconds[key].append(time.perf_counter() - start)
    return _ratio_rows(seconds, "checkpoint_dir=None"), seconds


def default_fit_against(args):
    """This tree's default fit against --baseline-src's, interleaved processes."""
    seconds = {"this tree": [], "baseline": []}
    for _ in range(args.repeats):
        seconds["this tree"].append(launch(args, "plain", 1)["seconds"])
        seconds["baseline"].append(
            launch(args, "plain", 1, src=args.baseline_src)["seconds"]
        )
    return _ratio_rows(seconds, "baseline", label="default fit, "), seconds


def _ratio_rows(seconds, reference, label=""):
    """Table rows: median, range and median over the ``reference``'s."""
    base = np.median(seconds[reference])
    return [
        f"| {label}{key} | {np.median(values):.2f} | "
        f"{min(values):.2f}-{max(values):.2f} | {np.median(values) / base:.3f}x |"
        for key, values in seconds.items()
    ]


def main(args):
    report, data = samples_per_second(args)
    rows, cost = checkpoint_cost(args)
    data["checkpoint_cost"] = cost
    if args.baseline_src:
        more, against = default_fit_against(args)
        rows += more
        data["default_fit_against_baseline"] = against
    report += "\n\n" + "\n".join(
        [
            "Whole fits in one process (same data and parameters), interleaved:",
            "",
            "| fit | median s | range s | ratio |",
            "|---|---:|---|---:|",
            *rows,
        ]
    )
    print(report)
    write_results("distributed", report, data, vars(args), args.out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=("plain", "distributed"), dest="mode")
    parser.add_argument("--n-samples", type=int, default=40_000)
    parser.add_argument("--n-features", type=int, default=64)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--nproc", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-src", default=None)
    parser.add_argument("--result-dir", help="where a worker writes its result")
    parser.add_argument("--out", default=RESULTS, help="folder for the results")
    args = parser.parse_args()
    if args.mode:
        worker(args)
    else:
        main(args)
