"""Prediction latency of the ONNX export under onnxruntime, on ImCLEF07A.

One process: ``MultiGranularityClassifier()`` at its defaults and the demo's
flat ``MLPClassifier((512, 256), early_stopping=True)`` are fitted on the
ImCLEF07A training split, the former is exported with
``mgclassifier.onnx.to_onnx`` and loaded into an onnxruntime session, and
then, for 1 row and for 1000 rows of the test split, these calls are timed:

- onnxruntime ``session.run`` (path labels and the three levels'
  probabilities in one call);
- our ``predict_proba`` (and ``predict``, which onnxruntime's call also
  covers);
- MLPClassifier's ``predict_proba`` (finest level only).

Each timing is the median of ``--repeats`` interleaved repetitions, each the
mean of enough calls to last about 0.2 s (``timeit``'s autorange). Before
timing, the ONNX outputs are checked against ``predict_proba`` and
``predict`` on the whole test split. Results go to ``<out>/onnx_latency.md``
and ``<out>/onnx_latency.json`` (commit, library versions, CPU model,
parameters).

``--n-neighbors k`` fits ours with ``n_neighbors=k`` (the training rows'
votes, part of the exported graph) and writes ``onnx_latency_neighbors<k>``.

Run it on one core with one thread::

    taskset -c 1 python benchmarks/onnx_latency.py --threads 1
"""

import argparse
import json
import os
import platform
import time

import numpy as np
import onnx
import onnxruntime
import onnxscript
import sklearn
import torch
from _common import RESULTS, cpu_model_name, set_threads, write_results
from _speed_common import markdown_table, time_calls
from sklearn.neural_network import MLPClassifier

import mgclassifier
from mgclassifier import MultiGranularityClassifier
from mgclassifier.datasets import load_imclef07a
from mgclassifier.onnx import to_onnx

SIZES = (1, 1000)


def fit_models(data, random_state, n_neighbors=0):
    ours = MultiGranularityClassifier(
        random_state=random_state, n_neighbors=n_neighbors
    )
    ours.fit(data.X_train, data.y_train)
    mlp = MLPClassifier((512, 256), early_stopping=True, random_state=random_state)
    mlp.fit(data.X_train, data.y_train[:, -1])
    return ours, mlp


def onnx_session(model, threads):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or 0  # 0: onnxruntime's default
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def check_outputs(ours, session, X, y_true):
    """Largest probability difference and label agreement on all of ``X``."""
    labels, *probas = session.run(None, {"X": X.astype(np.float32)})
    expected = ours.predict_proba(X)
    diff = max(float(np.abs(p - e).max()) for p, e in zip(probas, expected))
    return {
        "max_abs_proba_diff": diff,
        "labels_equal_predict": bool(np.array_equal(labels, ours.predict(X))),
        "onnx_fine_accuracy": float(np.mean(labels[:, -1] == y_true[:, -1])),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=RESULTS, help="output folder")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch, BLAS and onnxruntime threads (default: their own defaults)",
    )
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument(
        "--n-neighbors", type=int, default=0, help="ours with n_neighbors set"
    )
    args = parser.parse_args(argv)
    name = "onnx_latency" + (
        f"_neighbors{args.n_neighbors}" if args.n_neighbors else ""
    )
    limiter = set_threads(args.threads)  # noqa: F841  (keeps the limit alive)
    load = os.getloadavg()[0]

    data = load_imclef07a()
    ours, mlp = fit_models(data, args.random_state, args.n_neighbors)
    start = time.perf_counter()
    model = to_onnx(ours)
    export_s = time.perf_counter() - start
    session = onnx_session(model, args.threads)
    check = check_outputs(ours, session, data.X_test, data.y_test)
    print(json.dumps(check), flush=True)

    predictors = {
        "onnxruntime session.run (labels + probabilities)": lambda rows: session.run(
            None, {"X": rows}
        ),
        "MultiGranularityClassifier.predict_proba": ours.predict_proba,
        "MultiGranularityClassifier.predict": ours.predict,
        "MLPClassifier.predict_proba (finest level)": mlp.predict_proba,
    }
    X = data.X_test.astype(np.float32)
    median, samples = time_calls(predictors, X, SIZES, args.repeats)
    reference = {
        size: median["MultiGranularityClassifier.predict_proba", size] for size in SIZES
    }
    rows = [
        [
            name,
            f"{median[name, 1] * 1e6:.0f}",
            f"{median[name, 1] / reference[1]:.2f}",
            f"{median[name, 1000] * 1e3:.2f}",
            f"{median[name, 1000] / reference[1000]:.2f}",
        ]
        for name in predictors
    ]
    versions = {
        "python": platform.python_version(),
        "mgclassifier": mgclassifier.__version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "onnx": onnx.__version__,
        "onnxscript": onnxscript.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
    machine = (
        f"{cpu_model_name()}, {os.cpu_count()} CPUs visible, "
        f"{args.threads or 'default'} thread(s), load average {load:.1f} at start"
    )
    table = markdown_table(
        [
            "call",
            "1 row (µs)",
            "÷ our predict_proba",
            "1000 rows (ms)",
            "÷ our predict_proba",
        ],
        rows,
    )
    text = "\n".join(
        [
            "# ONNX export: prediction latency on ImCLEF07A",
            "",
            f"`python benchmarks/onnx_latency.py"
            f"{f' --threads {args.threads}' if args.threads else ''}"
            f"{f' --n-neighbors {args.n_neighbors}' if args.n_neighbors else ''}`: "
            f"{machine}; " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
            "",
            f"Models: `MultiGranularityClassifier(random_state={args.random_state}"
            f"{f', n_neighbors={args.n_neighbors}' if args.n_neighbors else ''})` "
            f"(trunk {ours.hidden_layer_sizes}, trained in {ours.precision_}, "
            f"predicting in float32), exported in {export_s:.1f} s to "
            f"{model.ByteSize() / 2**20:.1f} MiB; `MLPClassifier((512, 256), "
            f"early_stopping=True)` on the finest level. Median of {args.repeats} "
            f"interleaved repetitions.",
            "",
            table,
            "",
            f"ONNX outputs on the 1006 test rows: largest difference from "
            f"`predict_proba` {check['max_abs_proba_diff']:.1e}; labels equal "
            f"`predict`: {check['labels_equal_predict']}.",
        ]
    )
    print(text, flush=True)
    write_results(
        name,
        text,
        data={
            "load_average_at_start": load,
            "versions": versions,
            "export_s": export_s,
            "model_bytes": model.ByteSize(),
            "check": check,
            "median_s": {
                f"{name} | {size} rows": value for (name, size), value in median.items()
            },
            "samples_s": {
                f"{name} | {size} rows": values
                for (name, size), values in samples.items()
            },
        },
        params={
            "threads": args.threads,
            "repeats": args.repeats,
            "random_state": args.random_state,
            "n_neighbors": args.n_neighbors,
            "sizes": list(SIZES),
            "ours": {
                "hidden_layer_sizes": list(ours.hidden_layer_sizes),
                "precision_": ours.precision_,
            },
            "mlp": {"hidden_layer_sizes": [512, 256], "early_stopping": True},
        },
        out=args.out,
    )


if __name__ == "__main__":
    main()
