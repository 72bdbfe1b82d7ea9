"""CPU speed and memory benchmark of MultiGranularityClassifier.

Everything runs in one process on the same synthetic data (float32 features,
a balanced three-level label tree, see ``_speed_common.make_data``) and is
printed as markdown tables of absolute numbers and ratios:

1. **Fit speed**: seconds per epoch (fit wall time / epochs, so per-fit setup
   is included) on 10k x 80 with a 8/25/63-class tree, trunk (512, 256),
   batch 200, Adam lr 1e-3, 10 epochs, no dropout, no early stopping, for

   a. ``MultiGranularityClassifier``;
   b. a hand-written PyTorch loop training the same multi-head network
      (tensors converted once, ``torch.randperm`` + slicing per epoch, summed
      per-level cross-entropy, Adam);
   c. skorch's ``NeuralNetClassifier`` (its default data path) with the same
      trunk and one head on the finest level;
   d. scikit-learn's ``MLPClassifier`` with the same trunk, on the finest
      level.

   Each is warmed up by a tiny fit; the repetitions are interleaved and the
   best of 3 is kept. Targets: estimator / hand loop <= 1.15 and
   estimator / MLPClassifier <= 0.6.
2. **Prediction latency** of ``predict_proba`` on 1 row and on 1000 rows for
   the models fitted in 1 (and a bare torch forward of the hand-trained
   network): median over interleaved repetitions, each the mean of enough
   calls to last about 0.2 s. Target: estimator <= MLPClassifier.
3. **Memory**: in a subprocess, peak resident memory added by one epoch of
   ``fit`` on 1M x 128 float32 (10/100/1000 classes, trunk (64,), batch
   8192) over the memory after creating the data, as a multiple of
   ``X.nbytes`` (target <= 2); the hand-written loop is measured the same way
   for reference.
4. **Scaling**: fit time (2 epochs, trunk (256,), batch 1024, 10/100/1000
   classes) for 10k, 100k and 1M rows x 128 features, estimator and hand
   loop; the log-log plot ``fit_time_vs_n_samples.png`` is written to
   ``--out`` (``fit_time_vs_n_samples_quick.png`` with ``--quick``).

``--quick`` shrinks the work (fewer latency repetitions in 2, 100k rows in
3, 10k/30k/100k rows in 4); part 1 is the same. ``--threads N`` limits torch
and BLAS threads (use 1 on a busy machine: multi-threaded torch then waits on
descheduled threads and every timing becomes noise). The tables are also written to
``<out>/speed.md``, the numbers and what produced them to ``<out>/speed.json``
(``speed_quick.*`` with ``--quick``; ``--out`` defaults to
``benchmarks/results``).

Run it on an otherwise idle machine::

    python benchmarks/speed.py [--quick] [--out benchmarks/results]

See ``benchmarks/gpu_speed.py`` for the CUDA throughput benchmark.
"""

import argparse
import functools
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings

import torch
from _common import RESULTS, peak_memory_during, write_results
from _speed_common import (
    HAND_LOOP_OBJECTIVE,
    fit_skorch_peer,
    hand_fit,
    make_data,
    markdown_table,
    time_calls,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from mgclassifier import MultiGranularityClassifier
from mgclassifier._devices import cpu_has_native_bfloat16
from mgclassifier._training import _train

FULL = {
    "fit_epochs": 10,
    "fit_repeats": 3,
    "latency_repeats": 15,
    "memory_rows": 1_000_000,
    "scaling_rows": (10_000, 100_000, 1_000_000),
}
QUICK = {
    "fit_epochs": 10,
    "fit_repeats": 3,
    "latency_repeats": 7,
    "memory_rows": 100_000,
    "scaling_rows": (10_000, 30_000, 100_000),
}

FIT_DATA = {"n_samples": 10_000, "n_features": 80, "level_sizes": (8, 25, 63)}
FIT_TRUNK, FIT_BATCH, LR = (512, 256), 200, 1e-3
BIG_LEVELS, BIG_FEATURES = (10, 100, 1000), 128
MEMORY_TRUNK, MEMORY_BATCH = (64,), 8192
SCALING_TRUNK, SCALING_BATCH, SCALING_EPOCHS = (256,), 1024, 2


# ------------------------------------------------------------ 5. calibration
def bench_calibration(config):
    """Share of a whole fit spent fitting the calibration temperature.

    1M x 128 rows (``memory_rows``), levels 10/100/1000 (1,110 outputs), trunk
    (256,), 2 epochs, batch 1024, early stopping on (its 10% split is what the
    temperature is fitted on), once with ``calibrate=True`` and once without.
    """
    n = config["memory_rows"]
    X, Y = make_data(n, BIG_FEATURES, BIG_LEVELS)
    spent = []
    original = _train.held_out_choices

    def timed_calibration(*args, **kwargs):
        start = time.perf_counter()
        value = original(*args, **kwargs)
        spent.append(time.perf_counter() - start)
        return value

    rows, seconds = [], {}
    _train.held_out_choices = timed_calibration
    try:
        for calibrate in (True, False):
            spent.clear()
            start = time.perf_counter()
            MultiGranularityClassifier(
                hidden_layer_sizes=SCALING_TRUNK,
                batch_size=SCALING_BATCH,
                max_epochs=SCALING_EPOCHS,
                calibrate=calibrate,
                random_state=0,
            ).fit(X, Y)
            seconds[calibrate] = time.perf_counter() - start
            rows.append(
                [
                    f"calibrate={calibrate}",
                    f"{seconds[calibrate]:.1f}",
                    f"{sum(spent):.2f}",  # nothing spent without calibrate
                ]
            )
    finally:
        _train.held_out_choices = original
    share = (seconds[True] - seconds[False]) / seconds[True]
    temperature_share = float(rows[0][2]) / seconds[True]
    numbers = {
        "n_samples": n,
        "fit_s": {"calibrate=True": seconds[True], "calibrate=False": seconds[False]},
        "temperature_fit_s": float(rows[0][2]),
        "temperature_share": temperature_share,
    }
    text = "\n".join(
        [
            f"## Calibration cost ({n} x {BIG_FEATURES}, levels {BIG_LEVELS}, trunk "
            f"{SCALING_TRUNK}, {SCALING_EPOCHS} epochs, batch {SCALING_BATCH}, "
            f"defaults otherwise)",
            "",
            markdown_table(["fit", "whole fit s", "temperature fit s"], rows),
            "",
            f"temperature fit / whole fit: **{temperature_share:.1%}** "
            f"({_target('target', temperature_share, 0.05)}); whole-fit "
            f"difference calibrate=True vs False: {share:+.1%} (run-to-run noise "
            f"included)",
        ]
    )
    return text, numbers


# ------------------------------------------------------------------ 1. fit
def fit_estimator(X, Y, epochs, trunk, batch_size, precision="auto"):
    return MultiGranularityClassifier(
        precision=precision,
        hidden_layer_sizes=trunk,
        dropout=0.0,
        early_stopping=False,
        max_epochs=epochs,
        batch_size=batch_size,
        lr=LR,
        alpha_l2=0.0,
        random_state=0,
        **HAND_LOOP_OBJECTIVE,
    ).fit(X, Y)


def fit_hand(X, Y, epochs, trunk, batch_size):
    level_sizes = [int(Y[:, level].max()) + 1 for level in range(Y.shape[1])]
    return hand_fit(X, Y, level_sizes, trunk, epochs, batch_size, lr=LR)


def fit_skorch(X, Y, epochs, trunk, batch_size):
    return fit_skorch_peer(X, Y[:, -1], trunk, epochs, batch_size, lr=LR)


def fit_mlp(X, Y, epochs, trunk, batch_size):
    model = MLPClassifier(
        hidden_layer_sizes=trunk,
        max_iter=epochs,
        batch_size=batch_size,
        solver="adam",
        learning_rate_init=LR,
        alpha=0.0,
        early_stopping=False,
        tol=0.0,
        n_iter_no_change=10**9,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, Y[:, -1])


FIT_METHODS = {
    "MultiGranularityClassifier": fit_estimator,
    "hand-written torch loop": fit_hand,
    "skorch NeuralNetClassifier": fit_skorch,
    "sklearn MLPClassifier": fit_mlp,
}
if cpu_has_native_bfloat16():
    # precision="auto" trains in bfloat16 here: float32 beside it, the
    # precision of CPUs without native bfloat16.
    FIT_METHODS["MultiGranularityClassifier, precision='float32'"] = functools.partial(
        fit_estimator, precision="float32"
    )


def bench_fit(config):
    """Best-of-n seconds per epoch of every method.

    Returns the markdown, the numbers, the fitted models and the data.
    """
    X, Y = make_data(**FIT_DATA)
    epochs, repeats = config["fit_epochs"], config["fit_repeats"]
    for fit in FIT_METHODS.values():  # warm-up: one tiny fit each
        fit(X[:500], Y[:500], 1, FIT_TRUNK, FIT_BATCH)
    seconds = {name: [] for name in FIT_METHODS}
    models = {}
    for _ in range(repeats):
        for name, fit in FIT_METHODS.items():
            gc.collect()
            start = time.perf_counter()
            models[name] = fit(X, Y, epochs, FIT_TRUNK, FIT_BATCH)
            seconds[name].append((time.perf_counter() - start) / epochs)
    best = {name: min(values) for name, values in seconds.items()}
    estimator = best["MultiGranularityClassifier"]
    rows = [
        [
            name,
            f"{best[name]:.3f}",
            " / ".join(f"{s:.3f}" for s in values),
            f"{estimator / best[name]:.2f}",
        ]
        for name, values in seconds.items()
    ]
    dur = models["MultiGranularityClassifier"].history_[:, "dur"]
    n, d = X.shape
    lines = [
        f"## 1. Fit speed (CPU, {n} x {d}, levels {FIT_DATA['level_sizes']}, "
        f"trunk {FIT_TRUNK}, batch {FIT_BATCH}, {epochs} epochs, "
        f"best of {repeats})",
        "",
        markdown_table(
            [
                "method",
                "best s/epoch",
                "each repetition",
                "estimator time ÷ method time",
            ],
            rows,
        ),
        "",
        f"Estimator per-epoch time from its history (`dur`, setup excluded, "
        f"last repetition): median {statistics.median(dur):.3f} s.",
        "",
        _target(
            "estimator / hand-written loop",
            estimator / best["hand-written torch loop"],
            1.15,
        ),
        _target(
            "estimator / MLPClassifier", estimator / best["sklearn MLPClassifier"], 0.6
        ),
    ]
    numbers = {
        "seconds_per_epoch": seconds,
        "best": best,
        "estimator_history_median_dur": statistics.median(dur),
    }
    return "\n".join(lines), numbers, models, X


def _target(label, value, limit):
    verdict = "met" if value <= limit else "NOT met"
    return f"- {label}: **{value:.2f}** (target <= {limit}: {verdict})"


# -------------------------------------------------------------- 2. latency
def bench_latency(config, models, X):
    """Median predict_proba latency for 1 and 1000 rows: markdown, numbers."""
    hand_model, mean, scale = models["hand-written torch loop"]

    def bare_forward(rows):
        with torch.inference_mode():
            return hand_model((torch.from_numpy(rows) - mean) / scale)

    predictors = {
        name: models[name].predict_proba
        for name in (
            "MultiGranularityClassifier",
            "sklearn MLPClassifier",
            "skorch NeuralNetClassifier",
        )
    }
    predictors["bare torch forward (logits)"] = bare_forward
    sizes = (1, 1000)
    median, _ = time_calls(predictors, X, sizes, config["latency_repeats"])
    estimator = {size: median["MultiGranularityClassifier", size] for size in sizes}
    rows = [
        [
            name,
            f"{median[name, 1] * 1e6:.0f}",
            f"{estimator[1] / median[name, 1]:.2f}",
            f"{median[name, 1000] * 1e3:.2f}",
            f"{estimator[1000] / median[name, 1000]:.2f}",
        ]
        for name in predictors
    ]
    mlp = {size: median["sklearn MLPClassifier", size] for size in sizes}
    lines = [
        f"## 2. predict_proba latency (models of 1; median of "
        f"{config['latency_repeats']} interleaved repetitions)",
        "",
        markdown_table(
            [
                "method",
                "1 row (µs)",
                "estimator time ÷ method time",
                "1000 rows (ms)",
                "estimator time ÷ method time",
            ],
            rows,
        ),
        "",
        _target("estimator / MLPClassifier, 1 row", estimator[1] / mlp[1], 1.0),
        _target(
            "estimator / MLPClassifier, 1000 rows", estimator[1000] / mlp[1000], 1.0
        ),
    ]
    numbers = {
        f"{name}, {size} rows": seconds for (name, size), seconds in median.items()
    }
    return "\n".join(lines), {"median_seconds": numbers}


# --------------------------------------------------------------- 3. memory
def memory_child(method, n_samples):
    """Run in a subprocess: peak RSS added by one epoch of fit; print JSON."""
    import psutil

    fit = fit_estimator if method == "estimator" else fit_hand
    process = psutil.Process()
    # A tiny fit first, so one-off costs (kernels paged in, thread pools,
    # allocator arenas) do not count against the data.
    before_warmup = process.memory_info().rss
    X, Y = make_data(2048, BIG_FEATURES, BIG_LEVELS)
    fit(X, Y, 1, MEMORY_TRUNK, MEMORY_BATCH)
    del X, Y
    gc.collect()
    warmup = process.memory_info().rss - before_warmup
    X, Y = make_data(n_samples, BIG_FEATURES, BIG_LEVELS)
    gc.collect()
    baseline = process.memory_info().rss
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    seconds, sampled = peak_memory_during(
        lambda: fit(X, Y, 1, MEMORY_TRUNK, MEMORY_BATCH), interval=0.002
    )
    maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    # ru_maxrss is the exact lifetime peak; it says something about the fit
    # only if the fit raised it above the peak reached before.
    exact = maxrss_after - baseline if maxrss_after > maxrss_before else None
    print(
        json.dumps(
            {
                "x_nbytes": X.nbytes,
                "sampled": sampled,
                "maxrss": exact,
                "seconds": seconds,
                "warmup": warmup,
            }
        )
    )


def bench_memory(config, threads=None):
    n = config["memory_rows"]
    rows, ratio, results = [], {}, {}
    for method, label in [
        ("estimator", "MultiGranularityClassifier"),
        ("hand", "hand-written torch loop"),
    ]:
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", method, str(n)]
            + ([] if threads is None else ["--threads", str(threads)]),
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        result = json.loads(out.strip().splitlines()[-1])
        added = max(result["sampled"], result["maxrss"] or 0)
        ratio[method] = added / result["x_nbytes"]
        results[label] = result
        rows.append(
            [
                label,
                f"{result['x_nbytes'] / 2**20:.0f}",
                f"{result['sampled'] / 2**20:.0f}",
                "n/a"
                if result["maxrss"] is None
                else f"{result['maxrss'] / 2**20:.0f}",
                f"{ratio[method]:.2f}",
                f"{result['seconds']:.1f}",
                f"{result['warmup'] / 2**20:.0f}",
            ]
        )
    lines = [
        f"## 3. Peak memory of a 1-epoch fit (subprocess, {n} x {BIG_FEATURES} "
        f"float32, levels {BIG_LEVELS}, trunk {MEMORY_TRUNK}, batch {MEMORY_BATCH})",
        "",
        markdown_table(
            [
                "method",
                "X.nbytes (MiB)",
                "added RSS, sampled (MiB)",
                "added ru_maxrss (MiB)",
                "added ÷ X.nbytes",
                "fit s",
                "one-off warm-up (MiB)",
            ],
            rows,
        ),
        "",
        "Added = peak resident memory during fit minus the resident memory "
        "after creating X and Y (psutil sampled every 2 ms; ru_maxrss when the "
        "fit raised the process's lifetime peak). A tiny fit runs first so that "
        "one-off costs (torch kernels paged in, thread pools) are not counted; "
        "they are shown as 'one-off warm-up'. One batch of logits is "
        f"{MEMORY_BATCH * sum(BIG_LEVELS) * 4 / 2**20:.0f} MiB and forward/backward "
        "hold a few such tensors: a cost that does not grow with n_samples, so "
        "judge the ratio at 1M rows, not with --quick.",
        "",
        _target("estimator peak added memory ÷ X.nbytes", ratio["estimator"], 2.0),
    ]
    return "\n".join(lines), {"n_samples": n, "ratio": ratio, "bytes": results}


# -------------------------------------------------------------- 4. scaling
def bench_scaling(config, out_dir, suffix=""):
    sizes = config["scaling_rows"]
    X, Y = make_data(max(sizes), BIG_FEATURES, BIG_LEVELS)
    methods = {
        "MultiGranularityClassifier": fit_estimator,
        "hand-written torch loop": fit_hand,
    }
    seconds = {name: [] for name in methods}
    for n in sizes:
        for name, fit in methods.items():
            gc.collect()
            start = time.perf_counter()
            fit(X[:n], Y[:n], SCALING_EPOCHS, SCALING_TRUNK, SCALING_BATCH)
            seconds[name].append(time.perf_counter() - start)
    rows = []
    for i, n in enumerate(sizes):
        est = seconds["MultiGranularityClassifier"][i]
        hand = seconds["hand-written torch loop"][i]
        rows.append(
            [
                f"{n:,}",
                f"{est:.2f}",
                f"{est / n * 1e6:.1f}",
                f"{hand:.2f}",
                f"{hand / n * 1e6:.1f}",
                f"{est / hand:.2f}",
            ]
        )
    path = os.path.join(out_dir, f"fit_time_vs_n_samples{suffix}.png")
    _plot_scaling(sizes, seconds, path)
    lines = [
        f"## 4. Fit time against n_samples (CPU, x {BIG_FEATURES} features, "
        f"levels {BIG_LEVELS}, trunk {SCALING_TRUNK}, batch {SCALING_BATCH}, "
        f"{SCALING_EPOCHS} epochs)",
        "",
        markdown_table(
            [
                "n_samples",
                "estimator s",
                "estimator s / 1M samples",
                "hand loop s",
                "hand loop s / 1M samples",
                "estimator time ÷ hand loop time",
            ],
            rows,
        ),
        "",
        f"Plot: `{path}`",
    ]
    return "\n".join(lines), {"n_samples": sizes, "fit_s": seconds}


def _plot_scaling(sizes, seconds, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name, values in seconds.items():
        ax.plot(sizes, values, "o-", label=name)
    first = seconds["MultiGranularityClassifier"][0]
    reference = [first * n / sizes[0] for n in sizes]
    ax.plot(sizes, reference, "--", color="grey", label="linear reference")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("n_samples")
    ax.set_ylabel(f"fit time, {SCALING_EPOCHS} epochs (s)")
    ax.set_title(f"CPU fit time, {BIG_FEATURES} features, trunk {SCALING_TRUNK}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ------------------------------------------------------------------ main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--out", default=RESULTS, help="output folder")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="limit torch and BLAS to this many threads (default: their own "
        "defaults); 1 gives meaningful numbers on a busy machine",
    )
    parser.add_argument(
        "--memory-child", nargs=2, metavar=("METHOD", "N"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    if args.memory_child:
        memory_child(args.memory_child[0], int(args.memory_child[1]))
        return
    config = QUICK if args.quick else FULL
    suffix = "_quick" if args.quick else ""
    os.makedirs(args.out, exist_ok=True)
    load = os.getloadavg()
    header = (
        f"# mgclassifier CPU speed benchmark{' (--quick)' if args.quick else ''}\n\n"
        f"torch {torch.__version__}, {torch.get_num_threads()} torch threads, "
        f"{os.cpu_count()} CPUs, load average {load[0]:.1f} at start"
    )
    if load[0] > max(0.5, 0.1 * (os.cpu_count() or 1)):
        header += (
            "\n\n**Warning**: the machine was busy when this started; on a busy "
            "machine multi-threaded torch waits on descheduled threads and every "
            "timing below can be several times too slow (try `--threads 1`)."
        )
    print(header + "\n", flush=True)
    sections, numbers = [header], {}
    fit_table, fit_numbers, models, X = bench_fit(config)
    for name, section in (
        ("fit", lambda: (fit_table, fit_numbers)),
        ("latency", lambda: bench_latency(config, models, X)),
        ("memory", lambda: bench_memory(config, args.threads)),
        ("scaling", lambda: bench_scaling(config, args.out, suffix)),
        ("calibration", lambda: bench_calibration(config)),
    ):
        text, numbers[name] = section()
        print(text + "\n", flush=True)
        sections.append(text)
    params = {**vars(args), "config": config, "load_average_at_start": load}
    write_results(f"speed{suffix}", "\n\n".join(sections), numbers, params, args.out)


if __name__ == "__main__":
    main()
