"""Time to a good model: whole default fits against their peers.

Run with::

    python benchmarks/time_to_accuracy.py --threads 1 --seeds 10

(``--quick``: one seed, subsampled data, at most 30 epochs; a smoke run.)

What a user waits for is the whole ``fit`` at the defaults, so every method
here is fitted end to end with its defaults, on the same data, in the same
process, every method once per seed before the next seed (so a change of
load on the machine hits all of them alike):

- ``MultiGranularityClassifier(random_state=seed)``;
- for reference, earlier sets of defaults (``EARLIER_DEFAULTS``): the
  batch-256 ones (batch 256, peak learning rate 3e-3, a 40-epoch budget,
  patience 5) everywhere, and on ImCLEF07A the first ones (trunk (1024,
  512), constant learning rate 1e-3, up to 200 epochs with patience 10,
  label smoothing 0.1, no coarse votes, float32);
- ``make_pipeline(StandardScaler(), MLPClassifier((512, 256),
  early_stopping=True))``, flat on the finest level;
- skorch's ``NeuralNetClassifier`` with the same MLP and an
  ``EarlyStopping(load_best=True)`` callback (``accuracy.EncodedSkorchMLP``);
- HiClass ``LocalClassifierPerParentNode`` with a scaled
  ``LogisticRegression`` (deterministic: fitted once).

A warm-up fit first pays torch's one-time cost of a process (about a second,
``_common.warm_up_torch``); the report states it, since a user's first fit in
a fresh process pays it too.

On ImCLEF07A (bundled train/test split) and the three synthetic hierarchies
of ``accuracy.py`` (5000 train / 2000 test rows, one data set per seed). The
table gives the whole-fit seconds, finest-level accuracy and AU(PRC) (mean ±
std over seeds) and the fit time relative to MLPClassifier's in the same run;
a plot of fine accuracy against fit time per method goes to
``<out>/time_to_accuracy.png``, the tables to ``<out>/time_to_accuracy.md``
and every run's numbers with what produced them to
``<out>/time_to_accuracy.json`` (``--quick`` and ``--imclef-only`` add
``_quick`` and ``_imclef`` to the names).
"""

import argparse
from pathlib import Path

import numpy as np
from _common import RESULTS, format_table, set_threads, warm_up_torch, write_results
from accuracy import (
    SYNTHETIC,
    EncodedSkorchMLP,
    load_imclef,
    run_methods,
    synthetic_data,
)
from hiclass import LocalClassifierPerParentNode
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mgclassifier import MultiGranularityClassifier

QUICK_EPOCHS = 30
OURS = "MultiGranularityClassifier() defaults"
MLP = "MLPClassifier (512, 256), early stopping, scaled, flat"
EARLIER_DEFAULTS = {
    "MultiGranularityClassifier, first defaults": dict(
        hidden_layer_sizes=(1024, 512),
        lr=1e-3,
        lr_schedule="constant",
        max_epochs=200,
        patience=10,
        label_smoothing=0.1,
        coarse_decoding_weight=0.0,
        precision="float32",
        batch_size=256,
        early_stopping=True,
        feature_scaling="standard",
    ),
    "MultiGranularityClassifier, batch-256 defaults": dict(
        hidden_layer_sizes=(1024,),
        batch_size=256,
        lr=3e-3,
        max_epochs=40,
        early_stopping=True,
        patience=5,
    ),
}
"""Earlier defaults, for reference (benchmarks/README.md, "Why the defaults"): the
first ones, before the time-to-model work, and the last ones before batch 512."""
FIRST_DEFAULTS_ON_IMCLEF_ONLY = "MultiGranularityClassifier, first defaults"
"""Its fits take ~30 s each; the synthetic tables leave it out."""


def methods(quick, imclef):
    cap = {"max_epochs": QUICK_EPOCHS} if quick else {}
    mlp_cap = {"max_iter": QUICK_EPOCHS} if quick else {}
    listed = [
        (OURS, "path", lambda s: MultiGranularityClassifier(random_state=s, **cap), 1),
        (
            MLP,
            "flat",
            lambda s: make_pipeline(
                StandardScaler(),
                MLPClassifier(
                    (512, 256), early_stopping=True, random_state=s, **mlp_cap
                ),
            ),
            1,
        ),
        (
            "skorch NeuralNetClassifier MLP (512, 256), early stopping, flat",
            "flat",
            lambda s: EncodedSkorchMLP(
                max_epochs=QUICK_EPOCHS if quick else 200, random_state=s
            ),
            1,
        ),
        (
            "HiClass LCPPN + LogisticRegression (scaled)",
            "hiclass",
            lambda s: LocalClassifierPerParentNode(
                local_classifier=make_pipeline(
                    StandardScaler(), LogisticRegression(max_iter=1000)
                )
            ),
            0,
        ),
    ]
    listed[1:1] = [
        (
            name,
            "path",
            lambda s, p={**params, **cap}: MultiGranularityClassifier(
                random_state=s, **p
            ),
            1,
        )
        for name, params in EARLIER_DEFAULTS.items()
        if imclef or name != FIRST_DEFAULTS_ON_IMCLEF_ONLY
    ]
    return listed


def ratio_lines(rows):
    """Fit time and accuracy of every method relative to MLPClassifier's."""
    mlp = next(row for row in rows if row["method"] == MLP)
    lines = ["", "| method | fit s ÷ MLPClassifier's | fine acc − MLPClassifier's |"]
    lines.append("|---|---:|---:|")
    for row in rows:
        lines.append(
            f"| {row['method']} | {row['fit_s'] / mlp['fit_s']:.2f} "
            f"| {row['acc'][-1] - mlp['acc'][-1]:+.3f} |"
        )
    return "\n".join(lines)


def plot(results, path):
    """Fine accuracy against whole-fit time, one panel per data set.

    Each method keeps one colour in every panel (the synthetic panels lack
    the first defaults), and the legend lists every method.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    names = list(
        dict.fromkeys(row["method"] for rows in results.values() for row in rows)
    )
    colours = dict(zip(names, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 4))
    handles = {}
    for ax, (title, rows) in zip(np.atleast_1d(axes), results.items()):
        for row in rows:
            handles[row["method"]] = ax.errorbar(
                row["fit_s"],
                row["acc"][-1],
                xerr=row["std"].get("fit_s", 0),
                yerr=row["std"]["acc"][-1] if "acc" in row["std"] else 0,
                fmt="o",
                capsize=3,
                color=colours[row["method"]],
            )
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # labels would overlap
        ax.set_xlabel("whole fit (s, log scale)")
        ax.set_ylabel("fine-level accuracy")
        ax.set_title(title.split(":")[0], fontsize=10)
        ax.grid(alpha=0.3)
    fig.legend(
        [handles[name] for name in names], names, loc="lower center", ncol=2, fontsize=8
    )
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    fig.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--imclef-only", action="store_true", help="skip the synthetic hierarchies"
    )
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    _limits = set_threads(args.threads)  # noqa: F841  (keeps the limit active)
    seeds = list(range(1 if args.quick else args.seeds))
    results = {}
    imclef = load_imclef(args.quick)
    first_fit_s = warm_up_torch(imclef[0], imclef[1])
    results["ImCLEF07A"] = run_methods(
        methods(args.quick, imclef=True), lambda s: imclef, seeds, "ImCLEF07A: "
    )
    for name, params in () if args.imclef_only else SYNTHETIC.items():
        results[name] = run_methods(
            methods(args.quick, imclef=False),
            lambda s, p=params: synthetic_data(p, s, args.quick),
            seeds,
            f"{name.split(':')[0]}: ",
        )
    report = []
    for title, rows in results.items():
        report.append(format_table(rows, title=f"### {title} ({len(seeds)} seeds)"))
        report.append(ratio_lines(rows) + "\n")
    report.append(
        f"A first fit in a fresh process pays {first_fit_s:.2f} s of one-time "
        f"costs (torch's optimizer machinery), not counted above (`warm_up_torch`)."
    )
    text = "\n".join(report)
    print(text)
    suffix = ("_quick" if args.quick else "") + ("_imclef" if args.imclef_only else "")
    params = {
        **vars(args),
        "seeds": seeds,
        "synthetic": {} if args.imclef_only else SYNTHETIC,
        "earlier_defaults": EARLIER_DEFAULTS,
        "quick_epochs": QUICK_EPOCHS if args.quick else None,
        "first_fit_extra_s": first_fit_s,
    }
    write_results(f"time_to_accuracy{suffix}", text, results, params, args.out)
    plot(results, Path(args.out) / f"time_to_accuracy{suffix}.png")


if __name__ == "__main__":
    main()
