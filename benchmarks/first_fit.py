"""A process's first fit against its later ones, in fresh processes.

Each run starts a fresh Python process that imports mgclassifier and fits the
same model three times on 5,700 rows of ImCLEF07A (10 epochs, no held-out
rows), recording each fit's seconds and the modules it imported. Runs of
the package as it is and of torch's own ``torch.optim.Adam`` (the optimizer
fits used before ``EagerAdam``; its first instance imports
``torch._dynamo``) alternate, so that both meet the same load on a shared
machine; ``MLPClassifier`` (10 iterations) is the reference a user compares
with. Besides the seconds, the count of modules a first fit imports is a
measure that no load disturbs.

Run: ``python benchmarks/first_fit.py --runs 5`` (torch's default threads;
``--threads 1`` for one; ``--quick``: 2 runs of 2,000 rows, 2 epochs).
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np
from _common import RESULTS, cpu_model_name, write_results

# The child: one process, three fits, one JSON line on stdout.
CHILD = r"""
import json, sys, time
variant, n_rows, epochs, threads = sys.argv[1:5]
n_rows, epochs = int(n_rows), int(epochs)
threads = None if threads == "default" else int(threads)
import numpy as np
from mgclassifier.datasets import load_imclef07a
if variant == "mlp":
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    import warnings
    warnings.simplefilter("ignore", ConvergenceWarning)
    def model():
        return MLPClassifier((512, 256), max_iter=epochs, random_state=0)
else:
    from mgclassifier import MultiGranularityClassifier
    if variant == "torch_adam":  # the optimizer fits used before EagerAdam
        from skorch import NeuralNet
        from mgclassifier._network._net import MultiGranularityNet
        MultiGranularityNet.initialize_optimizer = NeuralNet.initialize_optimizer
    def model():
        return MultiGranularityClassifier(
            max_epochs=epochs, early_stopping=False, random_state=0, n_threads=threads
        )
data = load_imclef07a()
X, Y = data.X_train[:n_rows], data.y_train[:n_rows]
if variant == "mlp":
    Y = Y[:, -1]
if threads is not None:
    from threadpoolctl import threadpool_limits
    limits = threadpool_limits(limits=threads)  # MLPClassifier's BLAS
    import torch
    torch.set_num_threads(threads)
fits = []
for _ in range(3):
    before = set(sys.modules)
    start = time.perf_counter()
    model().fit(X, Y)
    seconds = time.perf_counter() - start
    new = set(sys.modules) - before
    dynamo = "torch._dynamo" in new
    fits.append({"seconds": seconds, "modules": len(new), "dynamo": dynamo})
print(json.dumps(fits))
"""

VARIANTS = ("mgclassifier", "torch_adam", "mlp")
LABELS = {
    "mgclassifier": "MultiGranularityClassifier (EagerAdam)",
    "torch_adam": "MultiGranularityClassifier, torch.optim.Adam",
    "mlp": "MLPClassifier (512, 256)",
}


def run_child(variant, args):
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            variant,
            str(args.rows),
            str(args.epochs),
            str(args.threads),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(args):
    runs = {variant: [] for variant in VARIANTS}
    for _ in range(args.runs):  # interleaved: each variant meets the same load
        for variant in VARIANTS:
            runs[variant].append(run_child(variant, args))
    rows = []
    for variant, fits in runs.items():
        first = np.array([run[0]["seconds"] for run in fits])
        later = np.array([min(run[1]["seconds"], run[2]["seconds"]) for run in fits])
        extra = first - later
        modules = sorted({run[0]["modules"] for run in fits})
        dynamo = any(run[0]["dynamo"] for run in fits)
        rows.append(
            f"| {LABELS[variant]} | {np.median(first):.2f} | {np.median(later):.2f} | "
            f"{np.median(extra):+.2f} ({extra.min():+.2f} to {extra.max():+.2f}) | "
            f"{'/'.join(map(str, modules))} | {'yes' if dynamo else 'no'} |"
        )
    load = os.getloadavg()[0]
    report = "\n".join(
        [
            f"First fit in a fresh process against the faster of its second and "
            f"third, {args.rows} rows of ImCLEF07A, {args.epochs} epochs, "
            f"threads: {args.threads}; {cpu_model_name()}, {os.cpu_count()} "
            f"logical CPUs, load {load:.1f} at the end; median of {args.runs} "
            f"processes per row, interleaved:",
            "",
            "| model | first fit s | later fit s | first - later s (range) | "
            "modules the first fit imports | torch._dynamo among them |",
            "|---|---:|---:|---|---:|---|",
            *rows,
        ]
    )
    print(report)
    params = {
        "runs": args.runs,
        "rows": args.rows,
        "epochs": args.epochs,
        "threads": args.threads,
    }
    name = "first_fit" + (
        "" if args.threads == "default" else f"_threads{args.threads}"
    )
    write_results(
        name + "_quick" if args.quick else name,
        report,
        runs,
        params,
        args.out,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", type=int, default=5700)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument(
        "--threads",
        default="default",
        help="torch's and BLAS's threads in each process, or 'default'",
    )
    parser.add_argument("--out", default=RESULTS, help="folder for the results")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.rows, args.epochs = 2, 2000, 2
    main(args)
