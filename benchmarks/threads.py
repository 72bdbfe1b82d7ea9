"""Default fit on ImCLEF07A with n_threads=1 against 2, idle and beside a busy process.

On a small machine whose cores other work shares, torch's threads can wait
on each other (a descheduled thread holds up every parallel region). This
times whole default fits (``MultiGranularityClassifier(n_threads=k)``) with
one and two torch threads, interleaved, first on the machine as it is, then
with one extra process spinning on a core (started here and ended by its
PID). The load average at each phase is recorded: on a shared machine "idle"
means "without our busy process".

Run: ``python benchmarks/threads.py --repeats 3`` (``--quick``: 1 repeat).
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np
from _common import RESULTS, cpu_model_name, warm_up_torch, write_results

from mgclassifier import MultiGranularityClassifier
from mgclassifier.datasets import load_imclef07a


def timed_fits(data, thread_counts, repeats, seed):
    """``{n_threads: [seconds, ...]}``, the counts interleaved per repeat."""
    seconds = {n: [] for n in thread_counts}
    for _ in range(repeats):
        for n in thread_counts:
            clf = MultiGranularityClassifier(random_state=seed, n_threads=n)
            start = time.perf_counter()
            clf.fit(data.X_train, data.y_train)
            seconds[n].append(time.perf_counter() - start)
    return seconds


def main(args):
    data = load_imclef07a()
    warm_up_torch(data.X_train, data.y_train)  # the first fit pays ~1 s more
    thread_counts = (1, 2)
    results, rows = {}, []
    for phase in args.phases:
        spinner = None
        if phase == "busy":
            spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            time.sleep(1.0)
        try:
            load = os.getloadavg()[0]
            seconds = timed_fits(data, thread_counts, args.repeats, args.random_state)
        finally:
            if spinner is not None:
                spinner.kill()  # ours, by its PID
                spinner.wait()
        results[phase] = {"load_1min": load, "seconds": seconds}
        for n, values in seconds.items():
            rows.append(
                f"| {phase} (load {load:.1f}) | {n} | {np.median(values):.2f} | "
                f"{min(values):.2f}-{max(values):.2f} | "
                f"{np.median(values) / np.median(seconds[1]):.2f}x |"
            )
    report = "\n".join(
        [
            f"Default fit on ImCLEF07A, {cpu_model_name()}, {os.cpu_count()} "
            f"logical CPUs, {args.repeats} fits per cell (interleaved):",
            "",
            "| machine | n_threads | median s | range s | vs 1 thread |",
            "|---|---:|---:|---|---:|",
            *rows,
        ]
    )
    print(report)
    name = "threads_quick" if args.quick else "threads_" + "_".join(args.phases)
    params = {
        "repeats": args.repeats,
        "random_state": args.random_state,
        "phases": list(args.phases),
    }
    write_results(name, report, results, params, args.out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--out", default=RESULTS, help="folder for the results")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--phases", nargs="+", choices=("idle", "busy"), default=("idle", "busy")
    )
    args = parser.parse_args()
    if args.quick:
        args.repeats = 1
    main(args)
