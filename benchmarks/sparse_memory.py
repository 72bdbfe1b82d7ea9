"""Peak memory of a TF-IDF text pipeline with 200,000 sparse features.

Generates a corpus of 20,000 documents whose words depend on a 3-level topic
hierarchy (5 / 25 / 100 topics), vectorises it with ``TfidfVectorizer``
(200,000 columns) and fits ``make_pipeline(TfidfVectorizer(),
MultiGranularityClassifier(hidden_layer_sizes=(64,)))``. The matrix stays
sparse all the way: densified it would need 20,000 x 200,000 x 4 bytes = 16 GB.
Prints the process's peak RSS (target: under 2 GB) and the test accuracy.

Run: ``python benchmarks/sparse_memory.py [--n-docs 20000] [--n-features 200000]``
(``--quick``: 2,000 documents and 20,000 features, a smoke run). The table
goes to stdout and ``<out>/sparse_memory.md`` (``--out``, default
``benchmarks/results``), the numbers and what produced them to
``<out>/sparse_memory.json`` (``sparse_memory_quick.*`` with ``--quick``).
"""

import argparse
import resource
import time

import numpy as np
from _common import RESULTS, write_results
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from mgclassifier import MultiGranularityClassifier
from mgclassifier.metrics import accuracy_per_level


def make_corpus(n_docs, vocabulary, branching=(5, 5, 4), words_per_doc=80, seed=0):
    """Documents drawn from leaf-topic word distributions; labels are paths."""
    rng = np.random.RandomState(seed)
    n_leaves = int(np.prod(branching))
    leaf = rng.randint(n_leaves, size=n_docs)
    digits = np.array(np.unravel_index(leaf, branching)).T
    # Each node of the tree owns a random slice of the vocabulary; a document
    # mixes words of its leaf, of its ancestors and of the whole vocabulary.
    docs = []
    for path in digits:
        words = [rng.randint(vocabulary, size=words_per_doc // 2)]
        for depth in range(len(branching)):
            node = hash(tuple(path[: depth + 1])) % 2**31
            node_words = np.random.RandomState(node).randint(vocabulary, size=300)
            words.append(rng.choice(node_words, size=words_per_doc // 6))
        docs.append(" ".join(f"w{w}" for w in np.concatenate(words)))
    depth = len(branching)
    Y = np.array(
        [["/".join(map(str, p[: d + 1])) for d in range(depth)] for p in digits]
    )
    return docs, Y


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-docs", type=int, default=20_000)
    parser.add_argument("--n-features", type=int, default=200_000)
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 2,000 x 20,000"
    )
    parser.add_argument("--out", default=RESULTS, help="output folder")
    args = parser.parse_args()
    if args.quick:
        args.n_docs, args.n_features = 2_000, 20_000

    docs, Y = make_corpus(args.n_docs, vocabulary=args.n_features)
    docs_train, docs_test, Y_train, Y_test = train_test_split(
        docs, Y, test_size=0.2, random_state=0
    )
    before = peak_rss_mb()
    pipe = make_pipeline(
        TfidfVectorizer(max_features=args.n_features, token_pattern=r"\S+"),
        MultiGranularityClassifier(hidden_layer_sizes=(64,), random_state=0),
    )
    start = time.perf_counter()
    pipe.fit(docs_train, Y_train)
    fit_s = time.perf_counter() - start
    accuracy = accuracy_per_level(Y_test, pipe.predict(docs_test))
    X = pipe[0].transform(docs_train)
    dense_gb = X.shape[0] * X.shape[1] * 4 / 1e9
    peak = peak_rss_mb()
    table = "\n".join(
        [
            "| n_docs | n_features | nnz | dense would need | peak RSS before fit | "
            "peak RSS | fit s | test acc per level |",
            "|---:|---:|---:|---:|---:|---:|---:|---|",
            f"| {args.n_docs} | {X.shape[1]} | {X.nnz} | {dense_gb:.1f} GB | "
            f"{before:.0f} MB | {peak:.0f} MB | {fit_s:.1f} | "
            f"{'/'.join(f'{a:.3f}' for a in accuracy)} |",
        ]
    )
    print(table)
    numbers = {
        "n_features_seen": X.shape[1],
        "nnz": X.nnz,
        "dense_gb": dense_gb,
        "peak_rss_before_fit_mb": before,
        "peak_rss_mb": peak,
        "fit_s": fit_s,
        "test_accuracy_per_level": accuracy,
    }
    name = "sparse_memory_quick" if args.quick else "sparse_memory"
    write_results(name, table, numbers, vars(args), args.out)


if __name__ == "__main__":
    main()
