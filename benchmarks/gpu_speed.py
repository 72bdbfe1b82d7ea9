"""GPU training throughput of MultiGranularityClassifier (needs CUDA).

Trains the same network three ways on one CUDA device and prints a markdown
table of training samples per second and ratios, with the card's name:

- ``MultiGranularityClassifier(device="cuda", early_stopping=False, ...)``
  with the hand loop's loss (``HAND_LOOP_OBJECTIVE``: equal level weights, no
  label smoothing), given the data as numpy arrays (it moves them to the GPU
  once per fit);
- a hand-written PyTorch loop with the data held on the GPU (moved there once,
  before timing), ``torch.randperm`` on the device and tensor slicing, summed
  per-level cross-entropy, Adam;
- skorch's ``NeuralNetClassifier`` on its default data path (a ``DataLoader``
  over numpy arrays, one ``__getitem__`` per sample, each batch copied to the
  GPU), same trunk with one head on the finest level.

Data: 1M x 128 synthetic float32 rows, a three-level label tree with
10/100/1000 classes (see ``_speed_common.make_data``). Network: trunk
(512, 512), ReLU, no dropout, batch 8192, Adam lr 1e-3. Every method gets a
tiny warm-up fit first (CUDA context, cuBLAS handles); then one warm-up epoch
plus ``--epochs`` timed epochs (``torch.cuda.synchronize()`` around every
timing). Steady-state samples/s is n_samples / median time of the timed
epochs; for the estimator the epoch times come from its history (``dur``;
skorch reads the loss with ``.item()`` every batch, so they are synchronised).
The whole-fit rate (setup, host-to-device copy and all epochs) is shown too.

Run on a machine with a CUDA GPU (one to two minutes on an H100; skorch's
per-sample data path takes most of it)::

    python benchmarks/gpu_speed.py [--epochs 3] [--n-samples 1000000]

It exits with a message when CUDA is not available. ``--device cpu`` runs the
same code on the CPU, only to smoke-test the script with a small
``--n-samples``.

The report goes to stdout and ``<out>/gpu_speed.md`` (``--out``, default
``benchmarks/results``), the numbers and what produced them (the card
included) to ``<out>/gpu_speed.json``; a ``--device cpu`` smoke test writes
``gpu_speed_quick.*``.
"""

import argparse
import statistics
import sys
import time

import torch
from _common import RESULTS, tee_stdout, write_results
from _speed_common import (
    HAND_LOOP_OBJECTIVE,
    fit_skorch_peer,
    hand_fit,
    make_data,
    markdown_table,
)

from mgclassifier import MultiGranularityClassifier
from mgclassifier._network._net import MultiGranularityNet
from mgclassifier._training import _train

N_FEATURES, LEVELS = 128, (10, 100, 1000)
TRUNK, BATCH, LR = (512, 512), 8192, 1e-3
DEFAULT_LOSS = "estimator with its default loss (label smoothing, auxiliary weights)"


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_estimator(X, Y, epochs, device, objective=HAND_LOOP_OBJECTIVE):
    """Returns (per-epoch seconds, model); the estimator moves X itself."""
    model = MultiGranularityClassifier(
        hidden_layer_sizes=TRUNK,
        dropout=0.0,
        alpha_l2=0.0,
        early_stopping=False,
        max_epochs=epochs,
        batch_size=BATCH,
        lr=LR,
        device=str(device),
        random_state=0,
        **objective,
    ).fit(X, Y)
    return list(model.history_[:, "dur"]), model


def run_estimator_default_loss(X, Y, epochs, device):
    """The estimator's default loss: auxiliary level weights, label smoothing
    (float32 and a constant rate, as in the first row, so only the loss differs)."""
    return run_estimator(
        X,
        Y,
        epochs,
        device,
        objective={"precision": "float32", "lr_schedule": "constant"},
    )


def run_estimator_reading_every_loss(X, Y, epochs, device):
    """Ablation: skorch's default of reading each batch's loss (a GPU sync)."""
    MultiGranularityNet.defer_loss_read = False
    try:
        return run_estimator(X, Y, epochs, device)
    finally:
        MultiGranularityNet.defer_loss_read = "auto"


def run_hand(X, Y, epochs, device):
    """Data moved to the device once, before the timed loop."""
    X, Y = torch.as_tensor(X, device=device), torch.as_tensor(Y, device=device)
    sync(device)
    seconds = []
    hand_fit(
        X, Y, LEVELS, TRUNK, epochs, BATCH, lr=LR, device=device, epoch_seconds=seconds
    )
    return seconds, None


def run_skorch(X, Y, epochs, device):
    net = fit_skorch_peer(X, Y[:, -1], TRUNK, epochs, BATCH, lr=LR, device=device)
    return list(net.history[:, "dur"]), net


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs")
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument(
        "--skorch-epochs",
        type=int,
        default=1,
        help="timed epochs of the (slow) skorch default path",
    )
    parser.add_argument("--skip-skorch", action="store_true")
    parser.add_argument(
        "--whole-fit-epochs",
        type=int,
        default=5,
        help="epochs of the end-to-end default fits (0 skips that section)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print where the time of the end-to-end default fit goes (cProfile)",
    )
    parser.add_argument("--device", default="cuda", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=RESULTS, help="output folder")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit(
            f"gpu_speed.py needs a CUDA GPU, but torch.cuda.is_available() is "
            f"False (torch {torch.__version__}, CUDA build: "
            f"{torch.version.cuda or 'none'}). Run it on a machine with a CUDA "
            f"GPU and a CUDA build of torch; benchmarks/speed.py is the CPU "
            f"benchmark."
        )
    with tee_stdout() as printed:
        numbers = run(args, device)
    name = "gpu_speed" if device.type == "cuda" else "gpu_speed_quick"
    write_results(name, printed.getvalue(), numbers, vars(args), args.out)


def run(args, device):
    """Print the report; return the numbers."""
    if device.type == "cuda":
        card = torch.cuda.get_device_name(device)
    else:
        card = f"CPU ({torch.get_num_threads()} threads; smoke test only)"
    n = args.n_samples
    print(
        f"# mgclassifier GPU throughput\n\n{card}; torch {torch.__version__}, "
        f"CUDA {torch.version.cuda}, float32 matmul precision "
        f"{torch.get_float32_matmul_precision()!r}\n",
        flush=True,
    )

    start = time.perf_counter()
    X, Y = make_data(n, N_FEATURES, LEVELS)
    print(f"data: {n} x {N_FEATURES} float32 in {time.perf_counter() - start:.1f} s")

    methods = {
        "MultiGranularityClassifier": (run_estimator, args.epochs),
        "hand-written torch loop (data on GPU)": (run_hand, args.epochs),
        "ablation: estimator reading the loss every batch": (
            run_estimator_reading_every_loss,
            args.epochs,
        ),
        DEFAULT_LOSS: (
            run_estimator_default_loss,
            args.epochs,
        ),
    }
    if not args.skip_skorch:
        methods["skorch NeuralNetClassifier (default path)"] = (
            run_skorch,
            args.skorch_epochs,
        )
    results = {}
    for name, (run, epochs) in methods.items():
        run(X[:4096], Y[:4096], 1, device)  # warm-up: CUDA context, kernels
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        sync(device)
        start = time.perf_counter()
        seconds, model = run(X, Y, 1 + epochs, device)
        sync(device)
        wall = time.perf_counter() - start
        del model
        peak = (
            torch.cuda.max_memory_allocated(device) / 2**30
            if device.type == "cuda"
            else float("nan")
        )
        results[name] = {
            "steady": n / statistics.median(seconds[1:]),
            "whole": n * (1 + epochs) / wall,
            "epochs": seconds,
            "wall": wall,
            "peak": peak,
        }
        print(
            f"{name}: epochs {', '.join(f'{s:.2f}' for s in seconds)} s; "
            f"fit {wall:.1f} s",
            flush=True,
        )

    estimator = results["MultiGranularityClassifier"]
    rows = [
        [
            name,
            f"{r['steady']:,.0f}",
            f"{estimator['steady'] / r['steady']:.2f}",
            f"{r['whole']:,.0f}",
            f"{estimator['whole'] / r['whole']:.2f}",
            f"{r['peak']:.2f}",
        ]
        for name, r in results.items()
    ]
    print(
        f"\n## Training throughput ({card}; {n} x {N_FEATURES}, levels {LEVELS}, "
        f"trunk {TRUNK}, batch {BATCH}; steady state = median of "
        f"{args.epochs} epochs after a warm-up epoch, skorch "
        f"{args.skorch_epochs})\n"
    )
    print(
        markdown_table(
            [
                "method",
                "samples/s (steady)",
                "estimator ÷ method (>1: estimator faster)",
                "samples/s (whole fit)",
                "estimator ÷ method",
                "peak GPU memory (GiB)",
            ],
            rows,
        )
    )
    hand = results["hand-written torch loop (data on GPU)"]
    default_loss = results[DEFAULT_LOSS]
    print(
        f"\nestimator / hand-written loop steady-state throughput: "
        f"**{estimator['steady'] / hand['steady']:.2f}** "
        f"(1.00 = as fast as the hand-written loop)\n"
        f"default loss / plain loss steady-state throughput: "
        f"**{default_loss['steady'] / estimator['steady']:.2f}**"
    )
    numbers = {"card": card, "training": results}
    if args.whole_fit_epochs:
        numbers["whole_fit"] = whole_fit_section(
            X, Y, args.whole_fit_epochs, device, card, args.profile
        )
    return numbers


def timed(sync_device, function, *args, **kwargs):
    """(seconds, result) of one call, with the device synchronised around it."""
    sync(sync_device)
    start = time.perf_counter()
    result = function(*args, **kwargs)
    sync(sync_device)
    return time.perf_counter() - start, result


def whole_fit_section(X, Y, epochs, device, card, profile=False):
    """End to end at the defaults: what a user waits for.

    The estimator with its defaults (early stopping with its 10% validation
    split, calibration, dropout, label smoothing, ``precision="auto"``, the
    one-cycle schedule) except the network size, batch and epoch budget of
    this benchmark, given numpy arrays; against the hand-written loop's whole
    run from numpy arrays (host-to-device copy and standardisation included).
    Rates are n_samples x epochs / wall time for both: every row is seen once
    per epoch (the estimator trains on 90% and validates on 10%). Prints the
    tables; returns the numbers.
    """
    n = len(X)
    calibration = []
    original = _train.held_out_choices

    def timed_calibration(*args, **kwargs):
        seconds, value = timed(device, original, *args, **kwargs)
        calibration.append(seconds)
        return value

    _train.held_out_choices = timed_calibration
    rows, fits, numbers = [], {}, {}
    try:
        for precision in ("auto", "float32"):
            model = MultiGranularityClassifier(
                hidden_layer_sizes=TRUNK,
                batch_size=BATCH,
                max_epochs=epochs,
                device=str(device),
                precision=precision,
                random_state=0,
            )
            model.set_params(max_epochs=1).fit(X[:4096], Y[:4096])  # warm-up
            calibration.clear()
            wall, model = timed(device, model.set_params(max_epochs=epochs).fit, X, Y)
            fits[precision] = model
            numbers[f"estimator defaults, precision={precision!r}"] = {
                "precision_used": model.precision_,
                "fit_s": wall,
                "epochs_s": sum(model.history_[:, "dur"]),
                "n_epochs": model.n_epochs_,
                "calibration_s": sum(calibration),
            }
            rows.append(
                [
                    f"estimator defaults, precision={precision!r} ({model.precision_})",
                    f"{wall:.2f}",
                    f"{sum(model.history_[:, 'dur']):.2f}",
                    f"{n * model.n_epochs_ / wall:,.0f}",
                    f"{sum(calibration):.3f} ({sum(calibration) / wall:.1%})",
                ]
            )
    finally:
        _train.held_out_choices = original
    hand_fit(X[:4096], Y[:4096], LEVELS, TRUNK, 1, BATCH, lr=LR, device=device)
    hand_wall, _ = timed(
        device, hand_fit, X, Y, LEVELS, TRUNK, epochs, BATCH, lr=LR, device=device
    )
    rows.append(
        [
            "hand-written loop from numpy (copy to GPU included)",
            f"{hand_wall:.2f}",
            "",
            f"{n * epochs / hand_wall:,.0f}",
            "",
        ]
    )
    print(
        f"\n## Whole fit at the defaults ({card}; {n} x {N_FEATURES}, levels "
        f"{LEVELS}, trunk {TRUNK}, batch {BATCH}, {epochs} epochs)\n"
    )
    print(
        markdown_table(
            ["method", "fit s", "epochs s", "samples/s (whole fit)", "calibration s"],
            rows,
        )
    )
    model = fits["auto"]
    hand_rate = n * epochs / hand_wall
    print(
        f"\nwhole default fit / hand loop's whole run: "
        f"**{float(rows[0][3].replace(',', '')) / hand_rate:.2f}** (target >= 0.8)"
    )
    rows = X[:100_000]
    model.predict_proba(rows)  # warm-up
    seconds = [timed(device, model.predict_proba, rows)[0] for _ in range(5)]
    # float64 input gets float64 probabilities: twice the bytes to copy back.
    rows64 = rows.astype("float64")
    seconds64 = [timed(device, model.predict_proba, rows64)[0] for _ in range(5)]
    predict = [timed(device, model.predict, rows)[0] for _ in range(5)]
    print(
        f"predict_proba of {len(rows)} float32 rows (float32 probabilities): "
        f"median {statistics.median(seconds):.3f} s (target <= 0.1); of float64 "
        f"rows (float64 probabilities): {statistics.median(seconds64):.3f} s; "
        f"predict: {statistics.median(predict):.3f} s"
    )
    numbers["hand-written loop from numpy"] = {"fit_s": hand_wall}
    numbers["predict_proba_s"] = {"rows": len(rows), "times": seconds}
    numbers["predict_proba_float64_s"] = {"rows": len(rows), "times": seconds64}
    numbers["predict_s"] = {"rows": len(rows), "times": predict}
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        model.fit(X, Y)
        sync(device)
        profiler.disable()
        print("\nWhere the default fit's time goes (cumulative seconds):\n")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
