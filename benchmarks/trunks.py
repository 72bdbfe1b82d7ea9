"""Custom trunks (``module=``) and heads at different depths, measured.

Run with::

    python benchmarks/trunks.py --threads 1 --seeds 3

(``--quick``: one seed, 1000 training rows, 3 epochs; a smoke run.)

Three comparisons, each over ``--seeds`` values of ``random_state`` (0, 1,
...), with every other parameter at its default unless listed:

1. ImCLEF07A (test split): the default trunk (one hidden layer of 1024)
   against ``module=ResidualMLP`` (width 256, 2 pre-norm residual blocks of
   hidden width 512, dropout 0.2; ``mgclassifier.trunks``), at the default
   ``lr=3e-3`` and at ``lr=1e-3``.
2. ImCLEF07A: heads at different depths, on and off. The built-in trunk
   ``hidden_layer_sizes=(1024, 512)`` with all heads on the last layer (the
   default) against the two coarse levels' heads on the first layer
   (``head_layers=[0, 0, 1]``, as B-CNN attaches coarse heads earlier); and
   ``ResidualMLP`` (``lr=1e-3``) with all heads after the last block against
   the coarse heads after the first block (``module__level_blocks=(0, 0, 1)``,
   one tensor per level).
3. scikit-learn's ``load_digits`` (1797 8x8 images, 16 grey levels, scaled
   to [0, 1]), with a two-level grouping of the digits by shape: "loop"
   {0, 6, 8, 9}, "stroke" {1, 4, 7}, "curve" {2, 3, 5}. A stratified 70/30
   split (``random_state=0``); ``batch_size=64`` for both models.
   ``module=SmallCNN`` (two 3x3 convolution blocks of 16 and 32 filters,
   batch norm, global average pooling) on the (n, 1, 8, 8) images against
   the default MLP trunk on the 64 flattened pixels; the CNN also with
   ``max_epochs=80`` (it used all 30 epochs of the default budget).

Prints markdown tables and writes them to ``<out>/trunks.md`` (``--out``,
default ``benchmarks/results``), every run's numbers and what produced them
to ``<out>/trunks.json`` (``trunks_quick.*`` with ``--quick``).
"""

import argparse
import platform
import time

import numpy as np
import torch
from _common import (
    RESULTS,
    evaluate,
    fit_path_model,
    format_table,
    set_threads,
    summarize,
    warm_up_torch,
    write_results,
)
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from mgclassifier import MultiGranularityClassifier
from mgclassifier.datasets import load_imclef07a
from mgclassifier.trunks import ResidualMLP, SmallCNN

DIGIT_GROUPS = {0: "loop", 6: "loop", 8: "loop", 9: "loop", 1: "stroke", 4: "stroke"}
DIGIT_GROUPS.update({7: "stroke", 2: "curve", 3: "curve", 5: "curve"})


def digits_data():
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]  # (n, 1, 8, 8)
    Y = np.column_stack(
        [[DIGIT_GROUPS[d] for d in digits.target], digits.target.astype(str)]
    )
    return train_test_split(
        images, Y, test_size=0.3, stratify=digits.target, random_state=0
    )


def run(methods, X_train, Y_train, X_test, Y_test, seeds, flatten=()):
    rows = []
    for name, make in methods:
        runs = []
        for seed in seeds:
            Xtr, Xte = X_train, X_test
            if name in flatten:
                Xtr, Xte = Xtr.reshape(len(Xtr), -1), Xte.reshape(len(Xte), -1)
            model = make(seed)
            seconds, Y_pred, probas, classes = fit_path_model(model, Xtr, Y_train, Xte)
            row = evaluate(Y_test, Y_pred, probas, classes)
            row["fit_s"] = seconds
            row["epochs"] = model.n_epochs_
            runs.append(row)
            print(
                f"  {name} seed {seed}: {seconds:.1f} s, {model.n_epochs_} epochs, "
                f"fine acc {row['acc'][-1]:.4f}",
                flush=True,
            )
        summary = summarize(name, runs)
        epochs = [r["epochs"] for r in runs]
        summary["method"] = f"{name} ({np.mean(epochs):.0f} epochs)"
        rows.append({**summary, "runs": runs})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=RESULTS, help="output folder")
    args = parser.parse_args()
    limiter = set_threads(args.threads)  # noqa: F841 (kept alive)
    seeds = range(1 if args.quick else args.seeds)
    extra = dict(max_epochs=3) if args.quick else {}
    start = time.perf_counter()

    data = load_imclef07a()
    X_train, Y_train = data.X_train, data.y_train
    if args.quick:
        X_train, Y_train = X_train[:1000], Y_train[:1000]
    warm_up_torch(X_train, Y_train)  # the first fit would pay ~1 s more

    def mg(**params):
        return lambda seed: MultiGranularityClassifier(
            random_state=seed, **{**extra, **params}
        )

    tables, results = [], {}
    print("1. ImCLEF07A: residual MLP trunk vs the default trunk", flush=True)
    rows = run(
        [
            ("default trunk, hidden (1024,)", mg()),
            (
                "module=ResidualMLP (width 256, 2 blocks)",
                mg(module=ResidualMLP, module__width=256, module__n_blocks=2),
            ),
            (
                "module=ResidualMLP (width 256, 2 blocks), lr=1e-3",
                mg(module=ResidualMLP, module__width=256, lr=1e-3),
            ),
        ],
        X_train,
        Y_train,
        data.X_test,
        data.y_test,
        seeds,
    )
    tables.append(format_table(rows, "**ImCLEF07A: trunks** (test split)"))
    results["ImCLEF07A: trunks"] = rows

    print("2. ImCLEF07A: heads at different depths", flush=True)
    rows = run(
        [
            ("(1024, 512), all heads on layer 2", mg(hidden_layer_sizes=(1024, 512))),
            (
                "(1024, 512), head_layers=[0, 0, 1]",
                mg(hidden_layer_sizes=(1024, 512), head_layers=[0, 0, 1]),
            ),
            (
                "ResidualMLP, lr=1e-3, all heads after block 2",
                mg(module=ResidualMLP, module__width=256, lr=1e-3),
            ),
            (
                "ResidualMLP, lr=1e-3, level_blocks=(0, 0, 1)",
                mg(
                    module=ResidualMLP,
                    module__width=256,
                    module__level_blocks=(0, 0, 1),
                    lr=1e-3,
                ),
            ),
        ],
        X_train,
        Y_train,
        data.X_test,
        data.y_test,
        seeds,
    )
    tables.append(format_table(rows, "**ImCLEF07A: heads at depths** (test split)"))
    results["ImCLEF07A: heads at depths"] = rows

    print("3. digits: small CNN vs MLP on the flattened pixels", flush=True)
    Xd_train, Xd_test, Yd_train, Yd_test = digits_data()
    rows = run(
        [
            ("MLP trunk (1024,) on 64 pixels", mg(batch_size=64)),
            ("module=SmallCNN (16/32 filters)", mg(module=SmallCNN, batch_size=64)),
            (
                "module=SmallCNN (16/32 filters), max_epochs=80",
                mg(module=SmallCNN, batch_size=64, **{"max_epochs": 80, **extra}),
            ),
        ],
        Xd_train,
        Yd_train,
        Xd_test,
        Yd_test,
        seeds,
        flatten={"MLP trunk (1024,) on 64 pixels"},
    )
    tables.append(
        format_table(
            rows, "**digits (8x8), loop/stroke/curve -> digit** (30% test split)"
        )
    )
    results["digits"] = rows

    minutes = (time.perf_counter() - start) / 60
    header = (
        f"`python benchmarks/trunks.py --threads {args.threads} --seeds {len(seeds)}"
        f"{' --quick' if args.quick else ''}`: torch {torch.__version__}, "
        f"{platform.machine()}, {torch.get_num_threads()} torch thread(s); "
        f"total {minutes:.1f} min."
    )
    text = "\n\n".join([header, *tables]) + "\n"
    print(text)
    params = {**vars(args), "seeds": list(seeds), "quick_params": extra}
    results["wall_s"] = minutes * 60
    name = "trunks_quick" if args.quick else "trunks"
    write_results(name, text, results, params, args.out)


if __name__ == "__main__":
    main()
