"""Text taxonomies: TF-IDF features through the sparse input path.

Run with::

    python benchmarks/sparse_text.py --threads 1 --seeds 5

(``--quick``: a 2,000-document corpus, TREC subsampled, one seed; a smoke
run.) Two data sets, each vectorised once with ``TfidfVectorizer()`` fitted
on its training split, so every method sees the same matrix:

- the TREC questions (``shared/data``, 5,452 train / 500 test, 6 / 50
  classes; ``--data-dir``);
- a generated corpus (``sparse_memory.make_corpus``) of 12,500 documents,
  10,000 for training, a 3-level topic tree (5 / 25 / 100), a 20,000-word
  vocabulary and about 150 distinct words per document.

Four measurements, every method in the same process:

1. **First layer**: one epoch (batches of 512 rows, width 1024) of the
   first layer's forward and backward, as ``torch.sparse.mm`` on COO
   batches (the path before the sparse input layer), on CSR batches, and as
   ``embedding_bag`` over the non-zeros (``SparseInputLinear``).
2. **Epoch**: samples/s of a training epoch at the defaults, for trunk
   widths 1024, 512 and 256 (``--widths``); with it the seconds of one Adam
   step over the first layer's weights, the cost a wide input adds, and one
   epoch of the first layer's training steps with dense gradients and fused
   Adam against sparse gradients and ``SparseAdam``.
3. **Whole fit** at the defaults against ``LogisticRegression()`` (and with
   ``C=10``) on the same matrix: wall-clock, fine accuracy, AU(PRC), peak
   memory added during the fit (RSS sampled every 5 ms), pickled size.
4. **predict_proba** of 10,000 rows (TREC: its 500 test rows tiled)
   against ``LogisticRegression.predict_proba``, median of interleaved
   calls.

Tables go to stdout and ``<out>/sparse_text.md``, the numbers and what
produced them to ``<out>/sparse_text.json`` (``sparse_text_quick.*`` with
``--quick``).
"""

import argparse
import pickle
import statistics
import threading
import time
import warnings

import numpy as np
import psutil
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from _common import (
    RESULTS,
    flat_level_proba,
    set_threads,
    warm_up_torch,
    write_results,
)
from _real_data import DATA_DIR, load_real
from _speed_common import markdown_table
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sparse_memory import make_corpus

from mgclassifier import LabelHierarchy, MultiGranularityClassifier
from mgclassifier._data._datasets import sparse_rows_to_torch
from mgclassifier.metrics import hierarchical_average_precision

BATCH = 512
WIDTH = 1024


def load_sets(quick, data_dir):
    """``{name: (X_train, Y_train, X_test, Y_test)}`` as TF-IDF matrices."""
    n_docs = 2_500 if quick else 12_500
    docs, Y = make_corpus(n_docs, vocabulary=20_000, words_per_doc=180)
    n_train = n_docs * 4 // 5
    texts = {
        "generated 3-level corpus": (
            docs[:n_train],
            Y[:n_train],
            docs[n_train:],
            Y[n_train:],
        )
    }
    trec = load_real("trec", data_dir)
    keep = 1_500 if quick else len(trec.X_train)
    texts["TREC questions"] = (
        trec.X_train[:keep],
        trec.Y_train[:keep],
        trec.X_test,
        trec.Y_test,
    )
    sets = {}
    for name, (train, Y_train, test, Y_test) in texts.items():
        vectorizer = TfidfVectorizer().fit(train)
        X_train = vectorizer.transform(train).astype(np.float32)
        X_test = vectorizer.transform(test).astype(np.float32)
        sets[name] = (X_train, Y_train, X_test, Y_test)
    return sets


# ----------------------------------------------------------- 1. first layer
def first_layer_epoch(X, kind, width=WIDTH):
    """Seconds of one epoch of the first layer's forward and backward."""
    rng = np.random.RandomState(0)
    order = rng.permutation(X.shape[0])
    n_features = X.shape[1]
    if kind == "embedding_bag":
        weight = torch.randn(n_features, width, requires_grad=True)
    else:
        weight = torch.randn(width, n_features, requires_grad=True)
    start = time.perf_counter()
    for first in range(0, len(order), BATCH):
        rows = X[order[first : first + BATCH]]
        weight.grad = None
        if kind == "embedding_bag":
            h = _first_layer(sparse_rows_to_torch(rows, "cpu"), weight)
        else:
            batch = _torch_sparse(rows, kind)
            h = torch.sparse.mm(batch, weight.t())
        h.relu().sum().backward()
    return time.perf_counter() - start


def _first_layer(batch, weight, sparse_gradients=False):
    """``batch @ weight`` over a CSR batch's non-zeros, as ``SparseInputLinear``
    computes it (``_module.sparse_rows_times``), with the choice of sparse
    gradients that the library does not offer."""
    return F.embedding_bag(
        batch.col_indices(),
        weight,
        batch.crow_indices()[:-1],
        mode="sum",
        per_sample_weights=batch.values(),
        sparse=sparse_gradients,
    )


def _torch_sparse(rows, kind):
    coo = rows.tocoo()
    indices = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    tensor = torch.sparse_coo_tensor(
        indices, torch.from_numpy(coo.data), coo.shape
    ).coalesce()
    return tensor if kind == "COO sparse.mm" else tensor.to_sparse_csr()


# ------------------------------------------------------------------ 2. epoch
def epoch_rate(X, Y, width):
    """Samples/s of a default training epoch (mean of 3 epochs after one)."""
    # Four epochs on purpose: the underfitting warning would only be noise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MultiGranularityClassifier(
            hidden_layer_sizes=(width,),
            max_epochs=4,
            early_stopping=False,
            calibrate=False,
            random_state=0,
        ).fit(X, Y)
    seconds = statistics.mean(clf.history_[1:, "dur"])
    return X.shape[0] / seconds


def adam_step_seconds(n_features, width, repeats=10):
    """One fused Adam step (with weight decay) over a first layer's weights."""
    weight = torch.nn.Parameter(torch.randn(n_features, width))
    weight.grad = torch.randn_like(weight)
    optimizer = torch.optim.Adam([weight], weight_decay=1e-4, fused=True)
    optimizer.step()
    start = time.perf_counter()
    for _ in range(repeats):
        optimizer.step()
    return (time.perf_counter() - start) / repeats


def optimizer_epoch(X, sparse_gradients, width=512):
    """Seconds of one epoch of the first layer's training steps (batches of 512).

    Dense gradients with fused Adam (what the estimator does) against
    ``embedding_bag(sparse=True)`` gradients with ``torch.optim.SparseAdam``,
    which updates only the rows a batch touches.
    """
    weight = torch.nn.Parameter(torch.randn(X.shape[1], width) * 0.01)
    if sparse_gradients:
        optimizer = torch.optim.SparseAdam([weight])
    else:
        optimizer = torch.optim.Adam([weight], fused=True)
    order = np.random.RandomState(0).permutation(X.shape[0])
    start = time.perf_counter()
    for first in range(0, len(order), BATCH):
        batch = sparse_rows_to_torch(X[order[first : first + BATCH]], "cpu")
        optimizer.zero_grad()
        _first_layer(batch, weight, sparse_gradients).relu().sum().backward()
        optimizer.step()
    return time.perf_counter() - start


# -------------------------------------------------------------- 3. whole fit
class PeakMemory:
    """Largest RSS increase of this process while the ``with`` block runs."""

    def __enter__(self):
        self._process = psutil.Process()
        self._start = self._process.memory_info().rss
        self.peak = self._start
        self._running = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while self._running:
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc):
        self._running = False
        self._thread.join()
        self.added_mb = (self.peak - self._start) / 2**20


def whole_fit(model, X, Y, X_test, Y_test, flat):
    """Fit time, fine accuracy, AU(PRC), memory added, pickled MB."""
    with PeakMemory() as memory:
        start = time.perf_counter()
        model.fit(X, Y[:, -1] if flat else Y)
        seconds = time.perf_counter() - start
    if flat:
        tree, _ = LabelHierarchy.from_labels(Y)
        pred = model.predict(X_test)
        probas = flat_level_proba(tree, model.classes_, model.predict_proba(X_test))
        classes = tree.classes
    else:
        pred = model.predict(X_test)[:, -1]
        probas, classes = model.predict_proba(X_test), model.classes_
    return {
        "fit_s": seconds,
        "acc": float(np.mean(pred == Y_test[:, -1])),
        "auprc": hierarchical_average_precision(Y_test, probas, classes),
        "fit_memory_mb": memory.added_mb,
        "pickle_mb": len(pickle.dumps(model)) / 2**20,
    }


# --------------------------------------------------------- 4. predict_proba
def predict_seconds(models, X, repeats=5):
    """Median seconds of ``predict_proba(X)`` per model, calls interleaved."""
    samples = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            model.predict_proba(X)
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def mean_std(values, digits=3):
    values = np.asarray(values, dtype=float)
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--widths", type=int, nargs="+", default=[1024, 512, 256])
    parser.add_argument("--data-dir", default=str(DATA_DIR))
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument("--out", default=RESULTS, help="output folder")
    args = parser.parse_args()
    if args.quick:
        args.seeds = 1
    _limiter = set_threads(args.threads)  # noqa: F841 (kept alive)
    sets = load_sets(args.quick, args.data_dir)
    first_X, first_Y = next(iter(sets.values()))[:2]
    warm_up_torch(first_X, first_Y)

    report, numbers = [], {}
    for name, (X, Y, X_test, Y_test) in sets.items():
        nnz = X.nnz / X.shape[0]
        numbers[name] = entry = {
            "shape": X.shape,
            "nnz_per_row": nnz,
            "first_layer_epoch_s": {
                kind: first_layer_epoch(X, kind)
                for kind in ("COO sparse.mm", "CSR sparse.mm", "embedding_bag")
            },
            "epoch_samples_per_s": {w: epoch_rate(X, Y, w) for w in args.widths},
            "adam_step_s": {w: adam_step_seconds(X.shape[1], w) for w in args.widths},
            "first_layer_training_epoch_s": {
                kind: optimizer_epoch(X, kind == "sparse gradients, SparseAdam")
                for kind in (
                    "dense gradients, fused Adam",
                    "sparse gradients, SparseAdam",
                )
            },
        }
        runs = {"ours": [], "LogisticRegression()": [], "LogisticRegression(C=10)": []}
        fitted = {}
        for seed in range(args.seeds):
            models = {
                "ours": (MultiGranularityClassifier(random_state=seed), False),
                "LogisticRegression()": (LogisticRegression(max_iter=1000), True),
                "LogisticRegression(C=10)": (
                    LogisticRegression(C=10, max_iter=1000),
                    True,
                ),
            }
            for method, (model, flat) in models.items():
                if flat and seed > 0:  # deterministic: fitted once
                    continue
                runs[method].append(whole_fit(model, X, Y, X_test, Y_test, flat))
                fitted[method] = model
        entry["whole_fit"] = runs
        tiles = -(-10_000 // X_test.shape[0])
        rows = sp.vstack([X_test] * tiles).tocsr()[:10_000]
        entry["predict_proba_10k_s"] = predict_seconds(fitted, rows)

        first = entry["first_layer_epoch_s"]
        report += [
            f"### {name}: {X.shape[0]} x {X.shape[1]}, {nnz:.0f} non-zeros a row",
            "",
            markdown_table(
                ["first layer, one epoch", "s", "÷ embedding_bag"],
                [
                    [kind, f"{s:.2f}", f"{s / first['embedding_bag']:.1f}"]
                    for kind, s in first.items()
                ],
            ),
            "",
            markdown_table(
                ["first layer (512 units) training steps, one epoch", "s"],
                [
                    [kind, f"{seconds:.2f}"]
                    for kind, seconds in entry["first_layer_training_epoch_s"].items()
                ],
            ),
            "",
            markdown_table(
                ["trunk width", "epoch samples/s", "Adam step over first layer, ms"],
                [
                    [
                        w,
                        f"{entry['epoch_samples_per_s'][w]:.0f}",
                        f"{1e3 * entry['adam_step_s'][w]:.1f}",
                    ]
                    for w in args.widths
                ],
            ),
            "",
        ]
        lr_s = statistics.mean(r["fit_s"] for r in runs["LogisticRegression()"])
        predict = entry["predict_proba_10k_s"]
        rows_out = []
        for method, method_runs in runs.items():
            column = {key: [r[key] for r in method_runs] for key in method_runs[0]}
            rows_out.append(
                [
                    method,
                    len(method_runs),
                    mean_std(column["fit_s"], 2),
                    f"{statistics.mean(column['fit_s']) / lr_s:.1f}",
                    mean_std(column["acc"]),
                    mean_std(column["auprc"]),
                    f"{statistics.mean(column['fit_memory_mb']):.0f}",
                    f"{column['pickle_mb'][-1]:.1f}",
                    f"{1e3 * predict[method]:.0f}",
                ]
            )
        report += [
            markdown_table(
                [
                    "method",
                    "runs",
                    "fit s",
                    "÷ LogisticRegression()",
                    "fine acc",
                    "AU(PRC)",
                    "fit memory MB",
                    "pickle MB",
                    "predict_proba 10k rows ms",
                ],
                rows_out,
            ),
            "",
        ]
    text = "\n".join(report)
    print(text)
    name = "sparse_text_quick" if args.quick else "sparse_text"
    write_results(name, text, numbers, vars(args), args.out)


if __name__ == "__main__":
    main()
