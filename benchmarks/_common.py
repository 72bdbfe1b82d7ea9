"""Helpers shared by the benchmark scripts: peers' node scores, tables and
the results files (markdown plus a JSON record of what produced it)."""

import contextlib
import io
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from mgclassifier import LabelHierarchy
from mgclassifier._prediction._engine import PredictionEngine
from mgclassifier.metrics import (
    accuracy_per_level,
    hierarchical_average_precision,
    hierarchical_f1_score,
    mistake_severity,
)

# Metrics of a results row that are summarised as mean ± std over seeds.
METRIC_KEYS = ("fit_s", "acc", "hf1", "auprc", "severity", "valid")

REPOSITORY = Path(__file__).resolve().parents[1]
RESULTS = str(REPOSITORY / "benchmarks" / "results")
"""Default ``--out`` of every benchmark that writes results (wherever the
script is started from)."""

# CPU flags that decide whether precision="auto" trains in bfloat16 on a CPU.
BF16_FLAGS = ("avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def set_threads(n_threads):
    """Limit torch and the BLAS/OpenMP pools to ``n_threads`` (None: leave as is).

    Returns the ``threadpoolctl`` limiter (keep a reference) or None.
    """
    if n_threads is None:
        return None
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n_threads)
    return threadpool_limits(limits=n_threads)


def peak_memory_during(call, interval=0.001):
    """``(seconds, peak RSS above the RSS before, in bytes)`` of ``call()``.

    The resident set size is sampled by a thread every ``interval`` seconds
    (psutil), so a peak shorter than that may be missed.
    """
    import psutil

    process = psutil.Process()
    before = process.memory_info().rss
    peak, done = [before], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    call()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    return seconds, max(peak[0], process.memory_info().rss) - before


def warm_up_torch(X, Y):
    """Pay the process's one-time torch costs before anything is timed.

    A process's first fit once imported torch's compiler stack
    (``torch._dynamo``, ~800 modules, about a second) through torch's
    optimizer; fits no longer do (``_upstream.EagerAdam``,
    ``first_fit.py``), but a warm-up still spares the first timed fit what
    remains (the first allocations, thread pools starting). Returns the
    seconds a first fit pays on top: a one-epoch fit on 2000 rows of ``X``,
    ``Y`` in this process minus a second one's.
    """
    from mgclassifier import MultiGranularityClassifier

    # Rows spread over the whole set: a file sorted by label (ImCLEF07D's)
    # has a single coarse class in its first 2000 rows.
    rows = np.linspace(0, len(X) - 1, num=min(len(X), 2000)).astype(int)
    X, Y = X[rows], Y[rows]
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        MultiGranularityClassifier(max_epochs=1, random_state=0).fit(X, Y)
        seconds.append(time.perf_counter() - start)
    return seconds[0] - seconds[1]


def flat_level_proba(tree, leaf_classes, leaf_proba):
    """Per-level probabilities of a flat leaf classifier, summed up the tree.

    ``leaf_classes``/``leaf_proba`` are the flat model's ``classes_`` and
    ``predict_proba``; leaves it never saw get probability 0.
    """
    columns = np.searchsorted(tree.classes[-1], leaf_classes)
    full = np.zeros((len(leaf_proba), len(tree.classes[-1])))
    full[:, columns] = leaf_proba
    engine = PredictionEngine(tree)  # leaves are nodes: no repeated labels
    probas = engine.label_proba(engine.node_proba(torch.from_numpy(full)))
    return [proba.numpy() for proba in probas]


def valid_path_fraction(Y_pred, Y_train):
    """Fraction of predicted rows that are root-to-leaf paths seen in ``Y_train``."""
    paths = {tuple(row) for row in np.asarray(Y_train).tolist()}
    rows = np.asarray(Y_pred).tolist()
    return float(np.mean([tuple(row) in paths for row in rows]))


def evaluate(Y_test, Y_pred, probas, classes, Y_train=None):
    """One results row: accuracy per level, hierarchical F1, AU(PRC), severity.

    With ``Y_train`` the row also gets ``valid``, the fraction of predicted
    rows that are paths of the training hierarchy.
    """
    row = {
        "acc": accuracy_per_level(Y_test, Y_pred),
        "hf1": hierarchical_f1_score(Y_test, Y_pred),
        "auprc": np.nan
        if probas is None
        else hierarchical_average_precision(Y_test, probas, classes),
        "severity": mistake_severity(Y_test, Y_pred),
    }
    if Y_train is not None:
        row["valid"] = valid_path_fraction(Y_pred, Y_train)
    return row


def fit_flat_leaf_model(model, X_train, Y_train, X_test):
    """Fit ``model`` on the finest level; return fit time, paths and node scores."""
    tree, _ = LabelHierarchy.from_labels(Y_train)
    start = time.perf_counter()
    model.fit(X_train, Y_train[:, -1])
    seconds = time.perf_counter() - start
    leaf_pred = np.searchsorted(tree.classes[-1], model.predict(X_test))
    probas = None
    if hasattr(model, "predict_proba"):
        probas = flat_level_proba(tree, model.classes_, model.predict_proba(X_test))
    return seconds, tree.decode_leaves(leaf_pred), probas, tree.classes


def fit_path_model(model, X_train, Y_train, X_test, proba=True):
    """Fit ``model`` on all levels of ``Y_train``; return fit time, paths, scores.

    For models whose ``predict`` returns paths (the multi-granularity
    classifier, HiClass). With ``proba=True`` the node scores are the model's
    ``predict_proba`` (a list of per-level arrays in ``model.classes_``
    order), else None.
    """
    tree, _ = LabelHierarchy.from_labels(Y_train)
    start = time.perf_counter()
    model.fit(X_train, Y_train)
    seconds = time.perf_counter() - start
    Y_pred = np.asarray(model.predict(X_test))
    if not proba:
        return seconds, Y_pred, None, tree.classes
    return seconds, Y_pred, model.predict_proba(X_test), model.classes_


def summarize(method, runs):
    """Mean ± std over runs (one results row per seed) of one method.

    Returns one row with the means under the usual keys, their standard
    deviations under ``"std"`` and the number of runs under ``"n_runs"``.
    """
    row = {"method": method, "n_runs": len(runs), "std": {}}
    for key in METRIC_KEYS:
        if key not in runs[0]:
            continue
        values = np.array([np.asarray(run[key], dtype=float) for run in runs])
        row[key] = values.mean(axis=0)
        row["std"][key] = values.std(axis=0)
    return row


def mean_std(row, key, digits=3, index=None):
    """``"mean ± std"`` of ``row[key]`` (just the mean for a single run)."""
    value = row[key] if index is None else row[key][index]
    if np.isnan(value):
        return "n/a"
    text = f"{value:.{digits}f}"
    if row.get("n_runs", 1) > 1 and key in row.get("std", {}):
        std = row["std"][key] if index is None else row["std"][key][index]
        text += f" ± {std:.{digits}f}"
    return text


def format_table(rows, title=None):
    """Markdown table of result rows ``{"method", "fit_s", "acc", "hf1", ...}``.

    Rows from :func:`summarize` show ``mean ± std``; a ``valid`` column
    (fraction of predictions that are valid paths) is added when any row has
    it.
    """
    n_levels = max(len(row["acc"]) for row in rows)
    acc_head = "/".join(str(level + 1) for level in range(n_levels))
    show_valid = any("valid" in row for row in rows)
    show_runs = any(row.get("n_runs", 1) > 1 for row in rows)
    lines = [] if title is None else [title, ""]
    head = f"| method | fit s | acc level {acc_head} | hier. F1 | AU(PRC) | severity |"
    rule = "|---|---:|---|---:|---:|---:|"
    if show_valid:
        head, rule = head + " valid paths |", rule + "---:|"
    if show_runs:
        head, rule = head + " runs |", rule + "---:|"
    lines += [head, rule]
    for row in rows:
        acc = " / ".join(
            mean_std(row, "acc", index=level) for level in range(len(row["acc"]))
        )
        line = (
            f"| {row['method']} | {mean_std(row, 'fit_s', 1)} | {acc} "
            f"| {mean_std(row, 'hf1')} | {mean_std(row, 'auprc')} "
            f"| {mean_std(row, 'severity', 2)} |"
        )
        if show_valid:
            line += f" {mean_std(row, 'valid') if 'valid' in row else 'n/a'} |"
        if show_runs:
            line += f" {row.get('n_runs', 1)} |"
        lines.append(line)
    return "\n".join(lines)


# ------------------------------------------------------------- results files
def write_results(name, markdown, data=None, params=None, out=RESULTS):
    """Write ``<out>/<name>.md`` and, beside it, ``<out>/<name>.json``.

    The markdown is the report as printed. The JSON holds what produced it
    (:func:`provenance`: command line, ``params``, commit, library versions,
    CPU and GPU) and, under ``"results"``, ``data``: the measured numbers in
    whatever structure the benchmark keeps them (numpy values become plain
    numbers, NaN and infinities ``null``).

    Returns the two paths.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    md_path, json_path = out / f"{name}.md", out / f"{name}.json"
    record = {**provenance(params), "results": data}
    md_path.write_text(markdown.rstrip("\n") + "\n")
    json_path.write_text(json.dumps(_jsonable(record), indent=2) + "\n")
    print(f"wrote {md_path} and {json_path}", file=sys.stderr)
    return md_path, json_path


def provenance(params=None):
    """What a result depends on besides the code's inputs, as a dict.

    The command line, the benchmark's ``params``, the commit checked out (and
    whether tracked files outside ``benchmarks/results`` had uncommitted
    changes), the versions of Python and the libraries, the CPU (model,
    logical CPUs usable, the bfloat16 flags of ``BF16_FLAGS``, torch's CPU
    capability and threads) and the GPU, if torch sees one.
    """
    import sklearn
    import skorch
    import torch

    import mgclassifier

    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "skorch": skorch.__version__,
        "mgclassifier": mgclassifier.__version__,
    }
    for module in ("scipy", "hiclass"):  # when the benchmark used them
        if module in sys.modules:
            versions[module] = getattr(sys.modules[module], "__version__", None)
    return {
        "command": shlex.join(["python", *sys.argv]),
        "params": params or {},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git": _git_state(),
        "versions": versions,
        "cpu": _cpu_info(torch),
        "gpu": _gpu_info(torch),
    }


def _git_state():
    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=REPOSITORY, capture_output=True, text=True
        )

    head = git("rev-parse", "HEAD")
    if head.returncode != 0:  # not a git checkout (e.g. an unpacked archive)
        return {"commit": None, "dirty": None}
    # The results files a run rewrites do not make the checkout dirty.
    changes = git(
        "status", "--porcelain", "--untracked-files=no", "--", ":!benchmarks/results"
    )
    return {"commit": head.stdout.strip(), "dirty": bool(changes.stdout.strip())}


def cpu_model_name():
    """The CPU's model name (from /proc/cpuinfo on Linux), for report headers."""
    import torch

    return _cpu_info(torch)["model"]


def _cpu_info(torch):
    model, flags = platform.processor() or platform.machine(), set()
    with contextlib.suppress(OSError):  # /proc/cpuinfo: Linux only
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    info = {
        "model": model,
        "machine": platform.machine(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "bf16_flags": {flag: flag in flags for flag in BF16_FLAGS},
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch_threads": torch.get_num_threads(),
    }
    with contextlib.suppress(OSError, ValueError, IndexError):
        meminfo = Path("/proc/meminfo").read_text().split("\n", 1)[0]
        info["memory_gib"] = round(int(meminfo.split()[1]) / 2**20, 1)  # kB
    return info


def _gpu_info(torch):
    if not torch.cuda.is_available():
        return None
    return {
        "names": [
            torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())
        ],
        "cuda": torch.version.cuda,
    }


def _jsonable(value):
    """``value`` with numpy types, tuples, sets and paths made JSON types."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [_jsonable(item) for item in items]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Path):
        return str(value)
    return repr(value)  # classes, estimators: their name is what is worth keeping


@contextlib.contextmanager
def tee_stdout():
    """Print as usual and also collect what is printed; yields the buffer.

    For the benchmarks whose report is what they print.
    """
    buffer, stdout = io.StringIO(), sys.stdout

    class Tee(io.TextIOBase):
        def write(self, text):
            stdout.write(text)
            return buffer.write(text)

        def flush(self):
            stdout.flush()

    with contextlib.redirect_stdout(Tee()):
        yield buffer
