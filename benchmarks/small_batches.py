"""Dropout masks shared by groups of rows in small batches, against one mask a row.

Run with::

    python benchmarks/small_batches.py --seeds 8

(``--quick``: one seed; a smoke run.)

``batch_size="auto"`` gives batches of 128 to 255 rows from about 1,450 to
4,100 training rows; there CPU training cuts each batch into four groups of
32 rows or more, each sharing one dropout mask
(``mgclassifier._network._grouped_dropout``). This fits the defaults and the
defaults with one mask a row (``suite.OneMaskARow``) back to back, the same
seeds, on Diatoms (2,065 training rows, batch 128) and on the three
synthetic hierarchies of ``accuracy.py`` at 1,500 training rows and 600
test rows (batch 128), with ``MLPClassifier`` as the time reference. Tables
go to stdout and ``<out>/small_batches.md``, the numbers and what produced
them to ``<out>/small_batches.json``.
"""

import argparse

from _common import format_table, set_threads, warm_up_torch, write_results
from _real_data import add_run_arguments, load_real
from accuracy import SYNTHETIC, run_methods, synthetic_data
from suite import QUICK_EPOCHS, OneMaskARow, mlp

from mgclassifier import MultiGranularityClassifier

SMALL_SYNTHETIC_ROWS = 1_500
"""Training rows of the synthetic sets here (``synthetic_data``'s quick size)."""


def methods(quick):
    """``(name, kind, factory(seed), random?)`` rows, as ``accuracy.run_methods``
    takes them."""
    cap = {"max_epochs": QUICK_EPOCHS} if quick else {}
    return [
        (
            "MultiGranularityClassifier() defaults",
            "path",
            lambda s: MultiGranularityClassifier(random_state=s, **cap),
            True,
        ),
        (
            "defaults, one dropout mask a row",
            "path",
            lambda s: OneMaskARow(random_state=s, **cap),
            True,
        ),
        (
            "MLPClassifier (512, 256), early stopping, scaled",
            "flat",
            mlp(quick, True),
            True,
        ),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    _limits = set_threads(args.threads)  # noqa: F841  (keeps the limit active)
    seeds = list(range(1 if args.quick else args.seeds))
    diatoms = load_real("diatoms", args.data_dir)
    warm_up_torch(diatoms.X_train, diatoms.Y_train)
    sets = {
        "diatoms": lambda s: (
            diatoms.X_train,
            diatoms.Y_train,
            diatoms.X_test,
            diatoms.Y_test,
        )
    }
    for name, params in SYNTHETIC.items():
        short = name.split(":")[0]
        sets[f"{short} ({SMALL_SYNTHETIC_ROWS} rows)"] = lambda s, params=params: (
            synthetic_data(params, s, quick=True)
        )
    results, report = {}, []
    for name, data_for_seed in sets.items():
        results[name] = run_methods(
            methods(args.quick), data_for_seed, seeds, f"{name}: "
        )
        report.append(
            format_table(results[name], title=f"### {name} ({len(seeds)} seeds)")
        )
    text = "\n\n".join(report)
    print(text)
    name = "small_batches_quick" if args.quick else "small_batches"
    write_results(name, text, results, {**vars(args), "seeds": seeds}, args.out)


if __name__ == "__main__":
    main()
