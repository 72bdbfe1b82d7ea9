"""The real hierarchies of the benchmark suite, loaded the same way everywhere.

ImCLEF07A is bundled with the package; ImCLEF07D, Diatoms, the TREC
questions and 20 Newsgroups are read from a data folder (``--data-dir``, by default the
``shared/data`` folder beside the repository; see its README for origin and
format). Tabular sets come as float32 arrays, the text set as lists of
strings that a ``TfidfVectorizer`` turns into features inside the pipeline.
"""

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mgclassifier.datasets import load_imclef07a

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
"""Default data folder: ``shared/data`` beside the repository's folder."""

REAL_SETS = ("imclef07a", "imclef07d", "diatoms", "trec", "news20")
TEXT_SETS = ("trec", "news20")


@dataclass
class RealSet:
    """One train/test split; ``text`` says X holds strings, not features."""

    name: str
    X_train: object
    Y_train: np.ndarray
    X_test: object
    Y_test: np.ndarray
    text: bool = False


def load_real(name, data_dir=DATA_DIR):
    """Load the real data set ``name`` (one of ``REAL_SETS``)."""
    if name == "imclef07a":
        data = load_imclef07a()
        return RealSet(name, data.X_train, data.y_train, data.X_test, data.y_test)
    data_dir = Path(data_dir)
    if name in ("imclef07d", "diatoms"):
        path = data_dir / f"{name}.npz"
        if not path.exists():
            raise FileNotFoundError(
                f"{path} not found: pass --data-dir, the folder holding {path.name}"
            )
        with np.load(path) as arrays:
            return RealSet(
                name,
                arrays["X_train"].astype(np.float32),
                arrays["y_train"],
                arrays["X_test"].astype(np.float32),
                arrays["y_test"],
            )
    if name == "trec":
        train = _read_tsv(data_dir / "trec_train.tsv")
        test = _read_tsv(data_dir / "trec_test.tsv")
        return RealSet(name, train[0], train[1], test[0], test[1], text=True)
    if name == "news20":
        train = _read_news20(data_dir / "news20_train.tsv.gz")
        test = _read_news20(data_dir / "news20_test.tsv.gz")
        return RealSet(name, train[0], train[1], test[0], test[1], text=True)
    raise ValueError(f"unknown data set {name!r}; choose from {REAL_SETS}")


def _read_tsv(path):
    """Questions and their ``(coarse, fine)`` labels from a TREC file."""
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: pass --data-dir, the folder holding {path.name}"
        )
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    questions = [row["question"] for row in rows]
    labels = np.array([[row["coarse"], row["fine"]] for row in rows])
    return questions, labels


def _read_news20(path):
    """Posts and their 3-level labels from a gzipped 20 Newsgroups file."""
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: pass --data-dir, the folder holding {path.name}"
        )
    # Some posts are longer than the csv module's default field limit.
    csv.field_size_limit(2**31 - 1)
    with gzip.open(path, "rt", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    posts = [row["text"] for row in rows]
    labels = np.array([[row["level1"], row["level2"], row["level3"]] for row in rows])
    return posts, labels


def add_run_arguments(parser):
    """The options every real-data benchmark takes (``--seeds``, ``--threads``,
    ``--data-dir``, ``--quick``, ``--out``)."""
    from _common import RESULTS

    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--data-dir", default=str(DATA_DIR))
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument("--out", default=RESULTS)
