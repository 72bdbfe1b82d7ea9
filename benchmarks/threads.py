"""Default fit on ImCLEF07A at n_threads="auto" (the default), 1 and every
count up to the cores, idle and beside a busy process.

On a small machine whose cores other work shares, torch's threads can wait
on each other (a descheduled thread holds up every parallel region). This
times whole default fits (``MultiGranularityClassifier(n_threads=k)``) for
each setting, interleaved, first on the machine as it is, then with one
extra process spinning on a core (started here and ended by its PID). The
load average at each phase is recorded: on a shared machine "idle" means
"without our busy process". The thread counts "auto" chose (at the start of
each fit and after each epoch) are recorded too. ``--cpus N`` runs the whole
benchmark on the first N CPUs (as ``taskset`` would), the busy process
included.

Run: ``python benchmarks/threads.py --repeats 3`` (``--quick``: 1 repeat).
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np
from _common import RESULTS, cpu_model_name, warm_up_torch, write_results

from mgclassifier import MultiGranularityClassifier, _cpu_threads
from mgclassifier._network import _callbacks
from mgclassifier.datasets import load_imclef07a


def timed_fits(data, settings, repeats, seed):
    """``({setting: [seconds, ...]}, [counts "auto" chose])``, the settings
    interleaved per repeat."""
    seconds = {n: [] for n in settings}
    chosen = []
    auto_threads = _cpu_threads.auto_threads

    def recording(*args, **kwargs):
        chosen.append(auto_threads(*args, **kwargs))
        return chosen[-1]

    # Where fit starts, and where each epoch ends.
    _cpu_threads.auto_threads = _callbacks.auto_threads = recording
    try:
        for _ in range(repeats):
            for n in settings:
                clf = MultiGranularityClassifier(random_state=seed, n_threads=n)
                start = time.perf_counter()
                clf.fit(data.X_train, data.y_train)
                seconds[n].append(time.perf_counter() - start)
    finally:
        _cpu_threads.auto_threads = _callbacks.auto_threads = auto_threads
    return seconds, chosen


def main(args):
    if args.cpus is not None:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cpus])
    cores = len(os.sched_getaffinity(0))
    data = load_imclef07a()
    warm_up_torch(data.X_train, data.y_train)  # the first fit pays ~1 s more
    settings = ("auto", *range(1, cores + 1))
    results, rows = {}, []
    for phase in args.phases:
        spinner = None
        if phase == "busy":
            spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            time.sleep(1.0)
        try:
            load = os.getloadavg()[0]
            seconds, chosen = timed_fits(
                data, settings, args.repeats, args.random_state
            )
        finally:
            if spinner is not None:
                spinner.kill()  # ours, by its PID
                spinner.wait()
        medians = {n: float(np.median(values)) for n, values in seconds.items()}
        best = min(medians[n] for n in settings if n != "auto")
        results[phase] = {
            "load_1min": load,
            "seconds": {str(n): values for n, values in seconds.items()},
            "auto_chose": chosen,
        }
        counts = ", ".join(f"{n}: {chosen.count(n)}" for n in sorted(set(chosen)))
        for n, values in seconds.items():
            rows.append(
                f"| {phase} (load {load:.1f}) | {n} | {medians[n]:.2f} | "
                f"{min(values):.2f}-{max(values):.2f} | "
                f"{medians[n] / best:.2f}x |"
                + (f" {counts} |" if n == "auto" else " |")
            )
    report = "\n".join(
        [
            f"Default fit on ImCLEF07A, {cpu_model_name()}, {cores} usable of "
            f"{os.cpu_count()} logical CPUs, {args.repeats} fits per cell "
            f"(interleaved):",
            "",
            "| machine | n_threads | median s | range s | ÷ best count's | "
            "counts auto chose (fit starts and epoch ends) |",
            "|---|---:|---:|---|---:|---|",
            *rows,
        ]
    )
    print(report)
    name = "threads_quick" if args.quick else "threads_" + "_".join(args.phases)
    if args.cpus is not None:
        name += f"_{args.cpus}cpus"
    params = {
        "repeats": args.repeats,
        "random_state": args.random_state,
        "phases": list(args.phases),
        "cpus": cores,
    }
    write_results(name, report, results, params, args.out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--out", default=RESULTS, help="folder for the results")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cpus", type=int, default=None, help="run on N CPUs")
    parser.add_argument(
        "--phases", nargs="+", choices=("idle", "busy"), default=("idle", "busy")
    )
    args = parser.parse_args()
    if args.quick:
        args.repeats = 1
    main(args)
