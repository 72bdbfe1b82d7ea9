"""Out-of-core training: peak anonymous memory and throughput.

Each case runs in a subprocess of its own, so that no case's heap counts
against the next; the model is ``MultiGranularityClassifier(
hidden_layer_sizes=(64,), batch_size=4096, max_epochs=1, random_state=0)``
on a two-level label tree (10 / 100 classes; a row is its fine class's
centre plus unit Gaussian noise):

1. **memmap**: a float32 ``.npy`` of ``--memmap-rows`` x 128 (default
   8.4M rows, 4.3 GB) written to a temporary folder in chunks, opened with
   ``np.load(path, mmap_mode="r")`` and fitted for one epoch, once with
   ``early_stopping=False`` (one pass over every row) and once with the
   default early stopping (10% held out: streamed validation batches and the
   calibration temperature on 20,000 held-out rows).
2. **reference**: the first ``--reference-rows`` (1M) rows of that file,
   fitted as an in-memory array (the file read into memory first) and as a
   memory map, with ``early_stopping=False``.
3. **dask**: a lazily generated ``dask.array`` of ``--dask-rows`` x 64
   (default 20M rows, 5.1 GB; 65,536-row chunks, each generated when it is
   read, dask's synchronous scheduler) fitted for one epoch with
   ``early_stopping=False``.

The out-of-core cases run under ``RLIMIT_DATA`` = ``--data-limit`` GiB (the
process's writable private memory, checked by the kernel on every
allocation: far less than X, so any copy of X would fail). Peak anonymous
memory is RssAnon from ``/proc/self/status``, sampled every 5 ms by a
background thread during ``fit``: unlike RSS (``VmHWM``, shown too) it leaves
out the memory map's page-cache pages, which belong to the kernel's file
cache and are dropped under memory pressure. A spike shorter than 5 ms can
be missed; the data limit cannot. The temporary folder is removed at the end.

Run (about 6 minutes on one core)::

    taskset -c 1 python benchmarks/out_of_core.py --out benchmarks/results

writes ``out_of_core.md`` and ``out_of_core.json`` to ``--out``. ``--quick``
runs every case on small arrays, to try the script.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

LEVELS = (10, 100)
MODEL = dict(hidden_layer_sizes=(64,), batch_size=4096, max_epochs=1, random_state=0)
CHUNK_ROWS = 65_536
SEED = 0


# ------------------------------------------------------------------ data
def make_labels(n_samples, seed=SEED):
    """Labels ``(n_samples, 2)`` (int16) of a 10 / 100 class tree."""
    rng = np.random.default_rng(seed)
    fine = rng.integers(LEVELS[1], size=n_samples).astype(np.int16)
    return np.column_stack([fine * LEVELS[0] // LEVELS[1], fine]).astype(np.int16)


def make_rows(fine, start, n_features, seed=SEED):
    """Features of the rows from ``start`` whose fine classes are ``fine``.

    Drawn from a generator seeded by the row offset, so every chunk is
    the same whenever (and in whatever order) it is generated.
    """
    centres = 1.5 * np.random.default_rng(seed).standard_normal(
        (LEVELS[1], n_features), dtype=np.float32
    )
    rng = np.random.default_rng([seed, start])
    rows = rng.standard_normal((len(fine), n_features), dtype=np.float32)
    rows += centres[fine]
    return rows


def write_memmap(path, Y, n_features):
    """A float32 ``.npy`` file of ``len(Y)`` rows, written a chunk at a time."""
    X = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.float32, shape=(len(Y), n_features)
    )
    for start in range(0, len(Y), CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, len(Y))
        X[start:stop] = make_rows(Y[start:stop, 1], start, n_features)
    X.flush()
    del X


def lazy_dask_array(Y, n_features):
    """A dask array generated chunk by chunk when read (never held whole)."""
    import dask.array as da

    starts = range(0, len(Y), CHUNK_ROWS)
    sizes = tuple(min(CHUNK_ROWS, len(Y) - start) for start in starts)

    def block(block_id=None):
        start = block_id[0] * CHUNK_ROWS
        return make_rows(Y[start : start + sizes[block_id[0]], 1], start, n_features)

    return da.map_blocks(
        block, chunks=(sizes, (n_features,)), dtype=np.float32, meta=np.empty((0, 0))
    )


# ---------------------------------------------------------------- memory
def proc_status(field):
    """A ``/proc/self/status`` field in bytes (its values are in kB)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


class PeakSampler:
    """Largest RssAnon seen while the ``with`` block runs (sampled)."""

    def __init__(self, interval=0.005):
        self.interval = interval
        self.peak = 0
        self._done = threading.Event()

    def _run(self):
        while not self._done.is_set():
            self.peak = max(self.peak, proc_status("RssAnon"))
            time.sleep(self.interval)

    def __enter__(self):
        self.peak = proc_status("RssAnon")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, proc_status("RssAnon"))


# ----------------------------------------------------------------- cases
def run_case(spec):
    """In the subprocess: open the data, fit, return the figures."""
    if spec["data_limit_gib"]:
        limit = int(spec["data_limit_gib"] * 2**30)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    import torch

    from mgclassifier import MultiGranularityClassifier

    torch.set_num_threads(spec["threads"])
    Y = np.load(spec["labels"])[: spec["rows"]]
    if spec["source"] == "dask":
        import dask

        dask.config.set(scheduler="synchronous")
        X = lazy_dask_array(Y, spec["features"])
    else:
        X = np.load(spec["path"], mmap_mode="r")[: spec["rows"]]
        if spec["source"] == "ndarray":
            X = np.array(X)  # in memory, as the in-memory path gets it
    model = MultiGranularityClassifier(**MODEL, early_stopping=spec["early_stopping"])
    before = proc_status("RssAnon")
    start = time.perf_counter()
    with PeakSampler() as sampler:
        model.fit(X, Y)
    fit_s = time.perf_counter() - start
    batches = model.history_[-1]["batches"]
    trained = sum(batch.get("train_batch_size", 0) for batch in batches)
    epoch_s = model.history_[-1]["dur"]
    return {
        "rssanon_before_fit": before,
        "peak_rssanon": sampler.peak,
        "peak_rss_vmhwm": proc_status("VmHWM"),
        "fit_s": fit_s,
        "epoch_s": epoch_s,
        "rows_trained": trained,
        "samples_per_s_epoch": trained / epoch_s,
        "samples_per_s_fit": spec["rows"] / fit_s,
        "precision": model.precision_,
        "temperature": model.temperature_,
    }


def spawn(spec):
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


# --------------------------------------------------------------- reports
def mib(n_bytes):
    return f"{n_bytes / 2**20:,.0f}"


def markdown(results, args, info):
    model = ", ".join(f"{key}={value!r}" for key, value in MODEL.items())
    lines = [
        "# Out-of-core training",
        "",
        f"{info['cpu']['model']}, {info['cpu']['usable_cpus']} core(s) "
        f"allowed, {args.threads} torch thread(s), "
        f"{info['cpu'].get('memory_gib')} GiB RAM; "
        + ", ".join(f"{k} {v}" for k, v in info["versions"].items())
        + f"; commit {info['git']['commit']}"
        + (" (with uncommitted changes)" if info["git"]["dirty"] else ""),
        "",
        f"Model: `MultiGranularityClassifier({model})`, levels {LEVELS}, one "
        f"epoch; precision "
        f"{results[0]['result']['precision']}. Peak RssAnon sampled every 5 ms "
        f"during `fit` (the whole process: torch, labels and all); "
        f"out-of-core cases under RLIMIT_DATA = {args.data_limit} GiB.",
        "",
        "| case | X | X GiB | early stopping | fit s | epoch s | samples/s (epoch) "
        "| samples/s (whole fit) | RssAnon before fit MiB | **peak RssAnon MiB** "
        "| peak RSS (VmHWM) MiB |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in results:
        spec, result = case["spec"], case["result"]
        lines.append(
            f"| {case['name']} | {spec['rows']:,} x {spec['features']} "
            f"{spec['source']} | {spec['rows'] * spec['features'] * 4 / 2**30:.2f} "
            f"| {'10% held out' if spec['early_stopping'] else 'off'} "
            f"| {result['fit_s']:.1f} | {result['epoch_s']:.1f} "
            f"| {result['samples_per_s_epoch']:,.0f} "
            f"| {result['samples_per_s_fit']:,.0f} "
            f"| {mib(result['rssanon_before_fit'])} "
            f"| **{mib(result['peak_rssanon'])}** | {mib(result['peak_rss_vmhwm'])} |"
        )
    lines += [
        "",
        "samples/s (epoch): rows trained / the epoch's duration in `history_`; "
        "(whole fit): all rows / `fit` wall time (the checking and statistics "
        "pass, the validation pass and calibration included).",
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memmap-rows", type=int, default=8_400_000)
    parser.add_argument("--reference-rows", type=int, default=1_000_000)
    parser.add_argument("--dask-rows", type=int, default=20_000_000)
    parser.add_argument(
        "--data-limit",
        type=float,
        default=2.0,
        help="RLIMIT_DATA of the out-of-core cases, GiB",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--out",
        default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"),
        help="output folder",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(run_case(json.loads(args.child))))
        return
    if args.quick:
        args.memmap_rows, args.reference_rows, args.dask_rows = (
            300_000,
            100_000,
            300_000,
        )

    folder = tempfile.mkdtemp(prefix="mgclassifier-out-of-core-")
    results = []
    try:
        labels = os.path.join(folder, "Y.npy")
        np.save(labels, make_labels(max(args.memmap_rows, args.dask_rows)))
        path = os.path.join(folder, "X.npy")
        start = time.perf_counter()
        write_memmap(path, np.load(labels)[: args.memmap_rows], 128)
        print(
            f"wrote {os.path.getsize(path) / 1e9:.1f} GB in "
            f"{time.perf_counter() - start:.0f} s",
            flush=True,
        )
        common = dict(labels=labels, path=path, threads=args.threads)
        limit = args.data_limit  # the in-memory reference runs without one
        # name: source, rows, features, early stopping, RLIMIT_DATA (GiB)
        cases = {
            "memmap, one epoch": ("memmap", args.memmap_rows, 128, False, limit),
            "memmap, one epoch, early stopping": (
                "memmap",
                args.memmap_rows,
                128,
                True,
                limit,
            ),
            "reference: in memory": ("ndarray", args.reference_rows, 128, False, None),
            "reference: memmap": ("memmap", args.reference_rows, 128, False, limit),
            "dask, lazily generated": ("dask", args.dask_rows, 64, False, limit),
        }
        keys = ("source", "rows", "features", "early_stopping", "data_limit_gib")
        for name, values in cases.items():
            spec = {**common, **dict(zip(keys, values))}
            result = spawn(spec)
            results.append({"name": name, "spec": spec, "result": result})
            print(
                f"{name}: fit {result['fit_s']:.1f} s, "
                f"{result['samples_per_s_epoch']:,.0f} samples/s, peak RssAnon "
                f"{mib(result['peak_rssanon'])} MiB",
                flush=True,
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    # Imported here, not at the top: the measured child processes stay lean.
    import dask
    from _common import provenance, write_results

    for case in results:  # temporary paths mean nothing afterwards
        for key in ("labels", "path"):
            case["spec"].pop(key, None)
    params = {**vars(args), "model": MODEL, "levels": LEVELS}
    info = provenance(params)
    info["versions"]["dask"] = dask.__version__
    report = markdown(results, args, info)
    print(report)
    name = "out_of_core_quick" if args.quick else "out_of_core"
    write_results(name, report, data={"cases": results}, params=params, out=args.out)


if __name__ == "__main__":
    main()
