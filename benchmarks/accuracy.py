"""Accuracy benchmark: MultiGranularityClassifier defaults against its peers.

Run with::

    python benchmarks/accuracy.py --threads 1 --seeds 5 --out benchmarks/results

(``--quick`` for a smoke run: one seed, subsampled data, at most 30 epochs.)

Three experiments, every method fitted with ``random_state=seed`` for each
seed; random methods are reported as mean ± std over the seeds, deterministic
ones (HiClass with logistic regression) are fitted once:

a. ImCLEF07A, bundled train/test split: ``MultiGranularityClassifier()``
   with its default parameters; ``MLPClassifier((512, 256),
   early_stopping=True)`` flat on the finest level; the same MLP in skorch
   (``NeuralNetClassifier``, Adam, lr 1e-3, batch 256, up to 200 epochs,
   ``EarlyStopping(load_best=True)`` on a 10% split, stratified when every
   class allows; standardised float32 features, label-encoded int64
   targets); ``RandomForestClassifier(300)`` flat on the finest level;
   HiClass ``LocalClassifierPerParentNode`` with ``LogisticRegression``
   (behind a ``StandardScaler``: unscaled, lbfgs does not converge in 1000
   iterations and the fit takes 6x longer) and with
   ``RandomForestClassifier(100)``. Flat models' leaf probabilities are
   summed up the tree for AU(PRC) (``_common.flat_level_proba``); HiClass
   gets no AU(PRC) (its ``predict_proba`` only scores the greedily chosen
   branch).
b. Synthetic hierarchies from ``make_hierarchical_classification`` (one data
   set per seed, 5000 train / 2000 test samples, split stratified on the
   leaf), the three shapes of ``SYNTHETIC``: a deep, narrow, imbalanced and
   noisy tree; a wide, shallow tree with small class separation; a
   mid-depth, skewed, noisy tree. Ours against the flat ``MLPClassifier``.
c. Ablation on ImCLEF07A (first 3 seeds): the defaults, then each
   regulariser changed on its own relative to the defaults read from
   ``MultiGranularityClassifier().get_params()``.

Tables go to stdout and ``<out>/accuracy.md``, every run's numbers and what
produced them to ``<out>/accuracy.json``; a bar plot of the finest-level
accuracy and AU(PRC) on ImCLEF07A to ``<out>/accuracy_imclef.png`` (with
``--quick``: ``accuracy_quick.*`` and ``accuracy_imclef_quick.png``). The
"valid paths" column is the fraction of predicted rows that are root-to-leaf
paths of the training hierarchy.
"""

import argparse
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import torch
from _common import (
    RESULTS,
    evaluate,
    fit_flat_leaf_model,
    fit_path_model,
    format_table,
    mean_std,
    set_threads,
    summarize,
    write_results,
)
from hiclass import LocalClassifierPerParentNode
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, LabelEncoder, StandardScaler
from sklearn.utils import check_random_state
from skorch import NeuralNetClassifier
from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit
from torch import nn

from mgclassifier import MultiGranularityClassifier
from mgclassifier.datasets import load_imclef07a, make_hierarchical_classification

QUICK_EPOCHS = 30  # cap on the epochs of every neural model with --quick
QUICK_IMCLEF_TRAIN = 2000  # training samples drawn from ImCLEF07A with --quick
N_ABLATION_SEEDS = 3

OURS = "MultiGranularityClassifier() defaults"
FLAT_MLP = "MLPClassifier (512, 256), early stopping, flat"
SYNTHETIC = {
    "deep/narrow: branching (2, 2, 2, 2), imbalance 1.0, label noise 0.05": dict(
        branching=(2, 2, 2, 2), imbalance=1.0, label_noise=0.05, class_sep=1.0
    ),
    "wide/shallow: branching (4, 12), class_sep 0.8": dict(
        branching=(4, 12), class_sep=0.8
    ),
    "mid-depth, skewed, noisy: branching (3, 4, 5), imbalance 1.0, label noise 0.1": (
        dict(branching=(3, 4, 5), imbalance=1.0, label_noise=0.1, class_sep=1.0)
    ),
}
SYNTHETIC_SETS = {name.split(":")[0]: params for name, params in SYNTHETIC.items()}
"""The synthetic hierarchies by their short names (what ``--sets`` takes)."""
SYNTHETIC_FEATURES = dict(n_features=40, n_informative=20)


# --------------------------------------------------------------- peers
class SoftmaxMLP(nn.Module):
    """Linear/ReLU MLP with a softmax output (skorch's NLLLoss takes its log)."""

    def __init__(self, n_features, n_classes, hidden_layer_sizes=(512, 256)):
        super().__init__()
        layers, width = [], n_features
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers += [nn.Linear(width, n_classes), nn.Softmax(dim=-1)]
        self.layers = nn.Sequential(*layers)

    def forward(self, X):
        return self.layers(X)


class EncodedSkorchMLP(ClassifierMixin, BaseEstimator):
    """skorch MLP on standardised float32 features and LabelEncoder'd int64 targets.

    ``fit`` seeds torch's global generator (weights, shuffling) with
    ``random_state``; the early-stopping split is seeded with it too.
    """

    def __init__(self, max_epochs=200, random_state=None):
        self.max_epochs = max_epochs
        self.random_state = random_state

    def fit(self, X, y):
        self.encoder_ = LabelEncoder()
        codes = self.encoder_.fit_transform(y).astype(np.int64)
        self.classes_ = self.encoder_.classes_
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        stratify = np.bincount(codes).min() >= 2  # as the estimator does
        net = NeuralNetClassifier(
            SoftmaxMLP,
            module__n_features=X.shape[1],
            module__n_classes=len(self.classes_),
            optimizer=torch.optim.Adam,
            lr=1e-3,
            max_epochs=self.max_epochs,
            batch_size=256,
            iterator_train__shuffle=True,
            train_split=ValidSplit(0.1, stratified=stratify, random_state=seed),
            callbacks=[EarlyStopping(load_best=True)],
            verbose=0,
        )
        self.pipeline_ = make_pipeline(
            StandardScaler(),
            FunctionTransformer(lambda Z: np.asarray(Z, dtype=np.float32)),
            net,
        )
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.pipeline_.fit(X, codes)
        self.n_epochs_ = len(net.history)
        return self

    def predict(self, X):
        return self.encoder_.inverse_transform(self.pipeline_.predict(X))

    def predict_proba(self, X):
        return self.pipeline_.predict_proba(X)


def ours(seed, quick, **params):
    """``MultiGranularityClassifier`` with its defaults (plus ``params``)."""
    model = MultiGranularityClassifier(random_state=seed, **params)
    if quick:
        model.set_params(max_epochs=min(model.max_epochs, QUICK_EPOCHS))
    return model


def flat_mlp(seed, quick):
    """The flat ``MLPClassifier((512, 256), early_stopping=True)`` peer."""
    extra = {"max_iter": QUICK_EPOCHS} if quick else {}
    return MLPClassifier((512, 256), early_stopping=True, random_state=seed, **extra)


def ours_factory(quick):
    return lambda seed: ours(seed, quick)


def mlp_factory(quick):
    return lambda seed: flat_mlp(seed, quick)


def imclef_methods(quick):
    """``(name, how it is fitted, factory(seed), random?)`` of part (a)."""
    epochs = QUICK_EPOCHS if quick else 200
    return [
        (OURS, "path", ours_factory(quick), 1),
        (FLAT_MLP, "flat", mlp_factory(quick), 1),
        (
            "skorch NeuralNetClassifier MLP (512, 256), flat",
            "flat",
            lambda s: EncodedSkorchMLP(max_epochs=epochs, random_state=s),
            1,
        ),
        (
            "RandomForestClassifier(300), flat",
            "flat",
            lambda s: RandomForestClassifier(300, random_state=s),
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
        (
            "HiClass LCPPN + RandomForestClassifier(100)",
            "hiclass",
            lambda s: LocalClassifierPerParentNode(
                local_classifier=RandomForestClassifier(100, random_state=s)
            ),
            1,
        ),
    ]


# ------------------------------------------------------------ running
def log(message):
    print(message, file=sys.stderr, flush=True)


def fit_one(kind, model, data):
    """Fit ``model`` and return its results row (plus ``n_epochs`` for ours)."""
    X_train, Y_train, X_test, Y_test = data
    if kind == "flat":
        fit_s, Y_pred, probas, classes = fit_flat_leaf_model(
            model, X_train, Y_train, X_test
        )
    else:
        fit_s, Y_pred, probas, classes = fit_path_model(
            model, X_train, Y_train, X_test, proba=kind == "path"
        )
    row = {"fit_s": fit_s, **evaluate(Y_test, Y_pred, probas, classes, Y_train)}
    if hasattr(model, "n_epochs_"):
        row["n_epochs"] = model.n_epochs_
    return row


def run_methods(methods, data_for_seed, seeds, label=""):
    """Summarised rows of ``methods``; random ones over ``seeds``, others once.

    Seeds in the outer loop: every method is fitted once per seed before the
    next seed, so a change of load on the machine hits all methods alike.
    """
    runs = {name: [] for name, *_ in methods}
    for seed in seeds:
        data = data_for_seed(seed)
        for name, kind, factory, is_random in methods:
            if not is_random and seed != seeds[0]:
                continue
            row = fit_one(kind, factory(seed), data)
            log(
                f"{label}{name} seed {seed}: fit {row['fit_s']:.1f}s, "
                f"fine acc {row['acc'][-1]:.3f}"
            )
            runs[name].append(row)
    return [{**summarize(name, runs[name]), "runs": runs[name]} for name, *_ in methods]


def load_imclef(quick):
    data = load_imclef07a()
    X_train, Y_train = data.X_train, data.y_train
    if quick:
        X_train, _, Y_train, _ = train_test_split(
            X_train,
            Y_train,
            train_size=QUICK_IMCLEF_TRAIN,
            random_state=0,
            stratify=None,
        )
    return X_train, Y_train, data.X_test, data.y_test


def synthetic_data(params, seed, quick):
    n_train, n_test = (1500, 600) if quick else (5000, 2000)
    X, Y = make_hierarchical_classification(
        n_train + n_test, **SYNTHETIC_FEATURES, **params, random_state=seed
    )
    _, counts = np.unique(Y[:, -1], return_counts=True)
    X_train, X_test, Y_train, Y_test = train_test_split(
        X,
        Y,
        train_size=n_train,
        test_size=n_test,
        random_state=seed,
        stratify=Y[:, -1] if counts.min() >= 2 else None,
    )
    return X_train, Y_train, X_test, Y_test


# ------------------------------------------------------------ ablation
def ablation_variants(defaults, n_levels, n_epochs):
    """``(label, params)`` pairs: each regulariser changed alone from the defaults.

    Every toggle moves a parameter away from whatever its default is, so the
    table stays meaningful when the defaults change.
    """
    fine_only = [0.0] * (n_levels - 1) + [1.0]

    def toggle(name, off, on):
        value = defaults[name]
        equal = value == off if not isinstance(off, list) else _same(value, off)
        new = on if equal else off
        return f"{name}: {value!r} -> {new!r}", {name: new}

    variants = [
        toggle("dropout", 0.0, 0.5),
        toggle("label_smoothing", 0.0, 0.1),
        toggle("level_weights", fine_only, None),
        toggle("consistency", 1.0, 0.0),
        toggle("alpha_l2", 0.0, 1e-4),
        toggle("alpha_l1", 1e-5, 0.0),
        (
            f"calibrate: {defaults['calibrate']!r} -> {not defaults['calibrate']!r}",
            {"calibrate": not defaults["calibrate"]},
        ),
        toggle("coarse_decoding_weight", 1.0, 0.0),
    ]
    if defaults["early_stopping"] is True:
        variants.append(
            (
                f"early_stopping: True -> False, max_epochs={n_epochs} "
                f"(defaults' mean n_epochs_)",
                {"early_stopping": False, "max_epochs": n_epochs},
            )
        )
    else:
        variants.append(
            (
                f"early_stopping: {defaults['early_stopping']!r} -> True",
                {"early_stopping": True},
            )
        )
    variants.append(level_weight_schedule_params(defaults, n_levels, n_epochs))
    return variants


def _same(value, target):
    """Whether ``level_weights`` ``value`` (list, None or a name) is ``target``."""
    if value is None or isinstance(value, str):
        return False
    return np.allclose(np.asarray(value, dtype=float), target)


def level_weight_schedule_params(defaults, n_levels, n_epochs):
    """``(label, params)`` of a B-CNN style level-weight schedule run.

    Coarse levels first, then equal weights, then the finest level, switching
    at a third and two thirds of the defaults' mean number of epochs (the
    estimator's ``level_weight_schedule`` parameter); with a schedule as the
    default, the variant turns it off.
    """
    if defaults.get("level_weight_schedule") is not None:
        current = defaults["level_weight_schedule"]
        return f"level_weight_schedule: {current!r} -> None", {
            "level_weight_schedule": None
        }
    third = max(2, n_epochs // 3)
    schedule = {
        1: [1.0] * (n_levels - 1) + [0.1],
        third: [1.0] * n_levels,
        2 * third: [0.1] * (n_levels - 1) + [1.0],
    }
    label = f"level_weight_schedule: None -> {schedule!r}"
    return label, {"level_weight_schedule": schedule}


def run_ablation(data, seeds, quick, default_runs=()):
    """Ablation rows; ``default_runs`` are already fitted defaults, one per seed.

    A fit with an int ``random_state`` is reproducible on the CPU, so the
    defaults' runs of part (a) are reused for the seeds they cover.
    """
    defaults = MultiGranularityClassifier().get_params()
    n_levels = data[1].shape[1]
    runs = list(default_runs)[: len(seeds)]
    for seed in seeds[len(runs) :]:
        runs.append(fit_one("path", ours(seed, quick), data))
    n_epochs = int(round(np.mean([run["n_epochs"] for run in runs])))
    log(f"ablation defaults: mean n_epochs_ {n_epochs}")
    rows = [{**summarize("defaults", runs), "runs": runs}]
    for label, params in ablation_variants(defaults, n_levels, n_epochs):
        variant_runs = []
        for seed in seeds:
            variant_runs.append(fit_one("path", ours(seed, quick, **params), data))
        log(f"ablation {label}: fine acc {variant_runs[-1]['acc'][-1]:.3f}")
        rows.append({**summarize(label, variant_runs), "runs": variant_runs})
    return rows, n_epochs


def format_ablation_table(rows, title):
    lines = [
        title,
        "",
        "| variant | acc fine | AU(PRC) | hier. F1 | severity | fit s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['method']} | {mean_std(row, 'acc', index=-1)} "
            f"| {mean_std(row, 'auprc')} | {mean_std(row, 'hf1')} "
            f"| {mean_std(row, 'severity', 2)} | {mean_std(row, 'fit_s', 1)} |"
        )
    return "\n".join(lines)


# ------------------------------------------------------------ plotting
def plot_imclef(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [row["method"] for row in rows]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(11, 5))
    bars = [(-0.2, "acc", "fine accuracy"), (0.2, "auprc", "AU(PRC)")]
    for offset, key, label in bars:
        means = [row[key][-1] if key == "acc" else row[key] for row in rows]
        stds = [
            (row["std"][key][-1] if key == "acc" else row["std"][key])
            if row["n_runs"] > 1
            else 0.0
            for row in rows
        ]
        ax.bar(x + offset, means, 0.4, yerr=stds, capsize=3, label=label)
    ax.set_xticks(
        x,
        [textwrap.fill(name, 26, break_long_words=False) for name in names],
        fontsize=7,
    )
    low = np.nanmin([row["acc"][-1] for row in rows] + [row["auprc"] for row in rows])
    ax.set_ylim(max(0.0, low - 0.05), 1.0)
    ax.set_title("ImCLEF07A test split (mean ± std over seeds; HiClass: no AU(PRC))")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------- main
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 1 seed, subsampled data, at most 30 epochs",
    )
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch/BLAS threads (default: leave torch's default)",
    )
    parser.add_argument("--out", default=RESULTS, help="output folder")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    limiter = set_threads(args.threads)  # noqa: F841 (keeps the limits active)
    seeds = list(range(1 if args.quick else args.seeds))
    mode = " (--quick: subsampled, <= 30 epochs)" if args.quick else ""
    start = time.perf_counter()
    sections, results = [], {}

    # a. ImCLEF07A
    imclef = load_imclef(args.quick)
    imclef_rows = run_methods(imclef_methods(args.quick), lambda s: imclef, seeds)
    results["ImCLEF07A"] = imclef_rows
    sections.append(
        format_table(
            imclef_rows,
            title=(
                f"### ImCLEF07A{mode}: {len(imclef[1])} train / {len(imclef[3])} "
                f"test samples, seeds {seeds}"
            ),
        )
    )
    print(sections[-1] + "\n", flush=True)

    # b. synthetic hierarchies
    for shape, params in SYNTHETIC.items():
        methods = [
            (OURS, "path", ours_factory(args.quick), 1),
            (FLAT_MLP, "flat", mlp_factory(args.quick), 1),
        ]
        rows = run_methods(
            methods,
            lambda s, params=params: synthetic_data(params, s, args.quick),
            seeds,
            label=f"[{shape}] ",
        )
        results[shape] = rows
        n_train, n_test = (1500, 600) if args.quick else (5000, 2000)
        sections.append(
            format_table(
                rows,
                title=(
                    f"### Synthetic{mode}, {shape}; {n_train} train / {n_test} test, "
                    f"{SYNTHETIC_FEATURES}; data set and models seeded by {seeds}"
                ),
            )
        )
        print(sections[-1] + "\n", flush=True)

    # c. ablation
    ablation_seeds = seeds[:N_ABLATION_SEEDS]
    rows, n_epochs = run_ablation(
        imclef, ablation_seeds, args.quick, default_runs=imclef_rows[0]["runs"]
    )
    results["ablation"] = rows
    title = (
        f"### Ablation on ImCLEF07A{mode}, seeds {ablation_seeds}: each change "
        f"alone, relative to MultiGranularityClassifier() defaults"
    )
    sections.append(format_ablation_table(rows, title))
    print(sections[-1] + "\n", flush=True)

    # d. save
    wall = time.perf_counter() - start
    threads = args.threads if args.threads else torch.get_num_threads()
    header = (
        f"# Accuracy benchmark\n\n`python benchmarks/accuracy.py"
        f"{' --quick' if args.quick else ''} --seeds {args.seeds}"
        f"{f' --threads {args.threads}' if args.threads else ''}`; "
        f"{threads} torch thread(s), total wall time {wall / 60:.1f} min.\n"
    )
    suffix = "_quick" if args.quick else ""
    params = {
        **vars(args),
        "seeds": seeds,
        "ablation_seeds": ablation_seeds,
        "torch_threads": threads,
        "synthetic": SYNTHETIC,
        "synthetic_features": SYNTHETIC_FEATURES,
        "quick_epochs": QUICK_EPOCHS if args.quick else None,
        "quick_imclef_train": QUICK_IMCLEF_TRAIN if args.quick else None,
    }
    results["wall_s"] = wall
    write_results(
        f"accuracy{suffix}",
        header + "\n" + "\n\n".join(sections),
        results,
        params,
        args.out,
    )
    plot_path = Path(args.out) / f"accuracy_imclef{suffix}.png"
    plot_imclef(imclef_rows, plot_path)
    print(f"wall time {wall / 60:.1f} min; plot {plot_path}")


if __name__ == "__main__":
    main()
