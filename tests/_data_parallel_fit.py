"""One process of a data-parallel fit, as torchrun launches it (test helper).

``python -m torch.distributed.run --standalone --nproc_per_node 2
tests/_data_parallel_fit.py OUT_DIR``: every process fits the same data with
``distributed=True`` and pickles its fitted model to ``OUT_DIR/rank<r>.pkl``.
"""

import pickle
import sys
import time

import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _data_parallel_params import PARAMS, training_data  # noqa: E402

from mgclassifier import MultiGranularityClassifier  # noqa: E402


def main(out_dir):
    torch.set_num_threads(1)
    X, Y = training_data()
    start = time.perf_counter()
    clf = MultiGranularityClassifier(distributed=True, **PARAMS).fit(X, Y)
    seconds = time.perf_counter() - start
    rank = torch.distributed.get_rank()
    with open(f"{out_dir}/rank{rank}.pkl", "wb") as file:
        pickle.dump({"model": clf, "seconds": seconds}, file)


if __name__ == "__main__":  # not when pytest imports it for its doctests
    main(sys.argv[1])
