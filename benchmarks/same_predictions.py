"""Digests of every prediction method for fixed seeds: same code, same bytes.

A refactoring that must not change behaviour runs this before and after and
compares the two JSON files. Each case fits at a fixed ``random_state`` on
one CPU thread and hashes the bytes of ``predict``, ``predict_proba``,
``predict_node_proba`` and the fitted temperature; the cases cover dense and
sparse input, the held-out split (early stopping, calibration), warm start,
``partial_fit``, a custom trunk, a 1-D ``y``, a memory-mapped ``X``,
repeated labels and ``min_path_probability``.

Usage::

    python benchmarks/same_predictions.py --out before.json
    # ... change the code ...
    python benchmarks/same_predictions.py --out after.json --compare before.json
"""

import argparse
import hashlib
import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from mgclassifier import MultiGranularityClassifier
from mgclassifier.datasets import load_imclef07a, make_hierarchical_classification
from mgclassifier.trunks import ResidualMLP


def _digest(*arrays):
    sha = hashlib.sha256()
    for array in arrays:
        array = np.asarray(array)
        if array.dtype == object:
            sha.update(repr(array.tolist()).encode())
        else:
            sha.update(str(array.dtype).encode())
            sha.update(np.ascontiguousarray(array).tobytes())
    return sha.hexdigest()[:16]


def _as_list(proba):
    return proba if isinstance(proba, list) else [proba]


def _record(clf, X):
    return {
        "predict": _digest(clf.predict(X)),
        "predict_proba": _digest(*_as_list(clf.predict_proba(X))),
        "predict_proba_float64": _digest(
            *_as_list(clf.predict_proba(np.asarray(X, dtype=np.float64)))
        )
        if not sp.issparse(X)
        else None,
        "predict_node_proba": _digest(*clf.predict_node_proba(X)),
        "one_row": _digest(*_as_list(clf.predict_proba(X[:1]))),
        "temperature": float(clf.temperature_),
        "n_epochs": int(clf.n_epochs_),
    }


def _cases():
    X, _, Y, _ = load_imclef07a(return_X_y=True)
    X, Y = X[:3000], Y[:3000]
    small = dict(max_epochs=4, random_state=0, n_threads=1)
    yield "default", lambda: MultiGranularityClassifier(**small).fit(X, Y), X
    yield (
        "early_stopping_calibrated",
        lambda: MultiGranularityClassifier(
            early_stopping=True, patience=2, **small
        ).fit(X, Y),
        X,
    )

    def warm():
        clf = MultiGranularityClassifier(warm_start=True, **small).fit(X, Y)
        return clf.fit(X, Y)

    yield "warm_start", warm, X

    def partial():
        clf = MultiGranularityClassifier(**small)
        clf.partial_fit(X[:1500], Y[:1500], classes=np.unique(Y, axis=0))
        return clf.partial_fit(X[1500:], Y[1500:])

    yield "partial_fit", partial, X
    yield (
        "custom_trunk",
        lambda: MultiGranularityClassifier(
            module=ResidualMLP, module__width=64, **small
        ).fit(X, Y),
        X,
    )
    yield (
        "one_level",
        lambda: MultiGranularityClassifier(**small).fit(X, Y[:, -1]),
        X,
    )
    yield (
        "min_path_probability",
        lambda: MultiGranularityClassifier(min_path_probability=0.6, **small).fit(X, Y),
        X,
    )
    Xs = sp.random(
        2000, 3000, density=0.02, format="csr", random_state=0, dtype=np.float32
    )
    ys = np.asarray(Xs[:, :40].sum(axis=1)).ravel()
    Ys = np.column_stack(
        [ys > np.median(ys), np.digitize(ys, np.quantile(ys, [0.25, 0.5, 0.75]))]
    ).astype(str)
    Ys[:, 1] = np.char.add(Ys[:, 0], Ys[:, 1])
    yield (
        "sparse",
        lambda: MultiGranularityClassifier(**small).fit(Xs, Ys),
        Xs,
    )
    Xr, Yr = make_hierarchical_classification(
        n_samples=1500, branching=(3, 4), random_state=0
    )
    Yr = Yr.astype(object)
    Yr[Yr[:, 1] == Yr[0, 1], 1] = "shared"  # one label under one parent ...
    Yr[Yr[:, 1] == Yr[-1, 1], 1] = "shared"  # ... and under another: repeated
    yield (
        "repeated_labels",
        lambda: MultiGranularityClassifier(**small).fit(Xr, Yr),
        Xr,
    )
    folder = Path(tempfile.mkdtemp())
    np.save(folder / "X.npy", X)
    Xm = np.load(folder / "X.npy", mmap_mode="r")
    yield (
        "memory_map",
        lambda: MultiGranularityClassifier(**small).fit(Xm, Y),
        X,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--compare", help="a previous --out file to compare with")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")  # short fits warn of underfitting
    results = {}
    for name, fit, X in _cases():
        results[name] = _record(fit(), X)
        print(name, results[name]["predict_proba"], flush=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    if args.compare:
        before = json.loads(Path(args.compare).read_text())
        differing = [
            f"{case}.{key}"
            for case in before
            for key in before[case]
            if before[case][key] != results.get(case, {}).get(key)
        ]
        print("identical" if not differing else f"DIFFERENT: {differing}")
        sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
