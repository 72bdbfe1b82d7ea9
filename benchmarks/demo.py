"""Demo: MultiGranularityClassifier on ImCLEF07A, next to a flat MLPClassifier.

Trains both on the bundled training split with default parameters and prints
accuracy per level, hierarchical F1, AU(PRC), mistake severity and fit time on
the test split.

Run with ``make demo`` or ``python benchmarks/demo.py``.
"""

import time

from _common import evaluate, fit_flat_leaf_model, format_table
from sklearn.neural_network import MLPClassifier

from mgclassifier import MultiGranularityClassifier
from mgclassifier.datasets import load_imclef07a


def main(random_state=0):
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
    return rows


if __name__ == "__main__":
    main()
