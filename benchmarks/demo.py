"""Demo: MultiGranularityClassifier on ImCLEF07A, next to a flat MLPClassifier.

Trains both on the bundled training split with default parameters and prints
accuracy per level, hierarchical F1, AU(PRC), mistake severity and fit time on
the test split. Saves the training history and the coarse-level confusion
matrix of the multi-granularity model as PNG files (``--plots-dir``).

Run with ``make demo`` or ``python benchmarks/demo.py [--plots-dir demo_plots]``.
"""

import argparse
import pathlib
import time

from _common import evaluate, fit_flat_leaf_model, format_table
from sklearn.neural_network import MLPClassifier

from mgclassifier import MultiGranularityClassifier
from mgclassifier.datasets import load_imclef07a
from mgclassifier.plotting import LevelConfusionMatrixDisplay, TrainingHistoryDisplay


def save_plots(model, data, plots_dir):
    """Training history and level-1 confusion matrix, as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots_dir = pathlib.Path(plots_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)
    history = TrainingHistoryDisplay.from_estimator(model)
    history.figure_.savefig(plots_dir / "training_history.png", dpi=120)
    fig, ax = plt.subplots(figsize=(7, 6))
    LevelConfusionMatrixDisplay.from_estimator(
        model,
        data.X_test,
        data.y_test,
        level=0,
        normalize="true",
        ax=ax,
        values_format=".2f",
    )
    fig.savefig(plots_dir / "confusion_level_1.png", dpi=120)
    return sorted(str(path) for path in plots_dir.glob("*.png"))


def main(random_state=0, plots_dir="demo_plots"):
    data = load_imclef07a()
    rows = []

    model = MultiGranularityClassifier(random_state=random_state)
    start = time.perf_counter()
    model.fit(data.X_train, data.y_train)
    fit_s = time.perf_counter() - start
    row = evaluate(
        data.y_test,
        model.predict(data.X_test),
        model.predict_proba(data.X_test),
        model.classes_,
    )
    rows.append(
        {"method": "MultiGranularityClassifier() defaults", "fit_s": fit_s, **row}
    )

    mlp = MLPClassifier((512, 256), early_stopping=True, random_state=random_state)
    fit_s, Y_pred, probas, classes = fit_flat_leaf_model(
        mlp, data.X_train, data.y_train, data.X_test
    )
    rows.append(
        {
            "method": "MLPClassifier (512, 256), early stopping, flat on leaf",
            "fit_s": fit_s,
            **evaluate(data.y_test, Y_pred, probas, classes),
        }
    )
    print(
        format_table(
            rows,
            title=(
                f"ImCLEF07A test split ({len(data.y_test)} samples), "
                f"random_state={random_state}; multi-granularity model stopped at "
                f"epoch {model.best_epoch_} of {model.n_epochs_}"
            ),
        )
    )
    print("\nSaved:", ", ".join(save_plots(model, data, plots_dir)))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plots-dir", default="demo_plots")
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args()
    main(random_state=args.random_state, plots_dir=args.plots_dir)
