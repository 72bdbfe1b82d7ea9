"""Time to a good model: whole default fits against their peers.

Run with::

    python benchmarks/time_to_accuracy.py --seeds 5 --out benchmarks/results

(``--quick``: one seed, subsampled data, at most 30 epochs; a smoke run.)

What a user waits for is the whole ``fit`` at the defaults, so every method
here is fitted end to end with its defaults, on the same data, in the same
process, one after the other for each seed (so load on the machine hits all
of them alike):

- ``MultiGranularityClassifier(random_state=seed)``;
- the estimator's previous defaults (``PREVIOUS_DEFAULTS``: trunk (1024,
  512), constant learning rate 1e-3, up to 200 epochs with patience 10,
  label smoothing 0.1, no coarse votes, float32), for reference;
- ``make_pipeline(StandardScaler(), MLPClassifier((512, 256),
  early_stopping=True))``, flat on the finest level;
- skorch's ``NeuralNetClassifier`` with the same MLP and an
  ``EarlyStopping(load_best=True)`` callback (``accuracy.EncodedSkorchMLP``);
- HiClass ``LocalClassifierPerParentNode`` with a scaled
  ``LogisticRegression`` (deterministic: fitted once).

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
from _common import RESULTS, format_table, set_threads, write_results
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
PREVIOUS_DEFAULTS = dict(
    hidden_layer_sizes=(1024, 512),
    lr=1e-3,
    lr_schedule="constant",
    max_epochs=200,
    patience=10,
    label_smoothing=0.1,
    coarse_decoding_weight=0.0,
    precision="float32",
)
"""The defaults before the time-to-model work (CHANGELOG.md)."""


def methods(quick, with_previous):
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
    if with_previous:
        previous = {**PREVIOUS_DEFAULTS, **cap}
        listed.insert(
            1,
            (
                "MultiGranularityClassifier, previous defaults",
                "path",
                lambda s: MultiGranularityClassifier(random_state=s, **previous),
                1,
            ),
        )
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 4))
    for ax, (title, rows) in zip(np.atleast_1d(axes), results.items()):
        for row in rows:
            ax.errorbar(
                row["fit_s"],
                row["acc"][-1],
                xerr=row["std"].get("fit_s", 0),
                yerr=row["std"]["acc"][-1] if "acc" in row["std"] else 0,
                fmt="o",
                capsize=3,
                label=row["method"],
            )
        ax.set_xscale("log")
        ax.set_xlabel("whole fit (s, log scale)")
        ax.set_ylabel("fine-level accuracy")
        ax.set_title(title.split(":")[0], fontsize=10)
        ax.grid(alpha=0.3)
    handles, labels = np.atleast_1d(axes)[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8)
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
    results["ImCLEF07A"] = run_methods(
        methods(args.quick, with_previous=True), lambda s: imclef, seeds, "ImCLEF07A: "
    )
    for name, params in () if args.imclef_only else SYNTHETIC.items():
        results[name] = run_methods(
            methods(args.quick, with_previous=False),
            lambda s, p=params: synthetic_data(p, s, args.quick),
            seeds,
            f"{name.split(':')[0]}: ",
        )
    report = []
    for title, rows in results.items():
        report.append(format_table(rows, title=f"### {title} ({len(seeds)} seeds)"))
        report.append(ratio_lines(rows) + "\n")
    text = "\n".join(report)
    print(text)
    suffix = ("_quick" if args.quick else "") + ("_imclef" if args.imclef_only else "")
    params = {
        **vars(args),
        "seeds": seeds,
        "synthetic": {} if args.imclef_only else SYNTHETIC,
        "previous_defaults": PREVIOUS_DEFAULTS,
        "quick_epochs": QUICK_EPOCHS if args.quick else None,
    }
    write_results(f"time_to_accuracy{suffix}", text, results, params, args.out)
    plot(results, Path(args.out) / f"time_to_accuracy{suffix}.png")


if __name__ == "__main__":
    main()
