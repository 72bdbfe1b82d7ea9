"""
==========================================
Calibration and the reliability diagram
==========================================

A probability of 0.8 should be right 80% of the time. With ``calibrate=True``
(the default) :class:`~mgclassifier.MultiGranularityClassifier` fits one
temperature on the rows early stopping holds out, so its probabilities can be
compared across samples and thresholded. The reliability diagram shows, level
by level, how often predictions of each confidence were right.
"""

# %%
import matplotlib.pyplot as plt
import pandas as pd

from mgclassifier import MultiGranularityClassifier
from mgclassifier.datasets import load_imclef07a
from mgclassifier.metrics import (
    brier_score_per_level,
    expected_calibration_error_per_level,
    log_loss_per_level,
)
from mgclassifier.plotting import ReliabilityDiagramDisplay

data = load_imclef07a()

# %%
# With and without the temperature
# --------------------------------
# The temperature is fitted on the rows early stopping holds out, so both
# models hold 10% of the rows out (``early_stopping=True``; at the default
# ``"auto"`` it is only on above 10,000 rows). Both train with the plain
# cross-entropy (``label_smoothing=0``): the default label smoothing of 0.05
# already keeps this network close to calibrated (the temperature it then
# gets on ImCLEF07A is about 1.04), so the temperature has more to correct
# here. The network is the same: the temperature only rescales its scores.
models = {}
for calibrate in (False, True):
    models[calibrate] = MultiGranularityClassifier(
        early_stopping=True, label_smoothing=0.0, calibrate=calibrate, random_state=0
    ).fit(data.X_train, data.y_train)
print("temperature:", round(models[True].temperature_, 3))

# %%
# Calibration per level
# ---------------------
# Expected calibration error (the mean gap between confidence and accuracy,
# weighted by the rows in each confidence bin), Brier score and log-loss, one
# number per level on the test split; lower is better.
rows = []
for calibrate, model in models.items():
    proba = model.predict_proba(data.X_test)
    for name, metric in [
        ("ECE", expected_calibration_error_per_level),
        ("Brier", brier_score_per_level),
        ("log-loss", log_loss_per_level),
    ]:
        per_level = metric(data.y_test, proba, model.classes_)
        rows.append(
            {"calibrate": calibrate, "metric": name}
            | {f"level {i + 1}": round(v, 4) for i, v in enumerate(per_level)}
        )
pd.DataFrame(rows).set_index(["metric", "calibrate"]).sort_index()

# %%
# The reliability diagrams
# ------------------------
# Each curve is one level: the accuracy of the predictions whose confidence
# fell in each bin, against that confidence. The diagonal is perfect
# calibration; below it the model is over-confident.
fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), sharey=True)
for ax, (calibrate, model) in zip(axes, models.items()):
    ReliabilityDiagramDisplay.from_estimator(model, data.X_test, data.y_test, ax=ax)
    ax.set_title(f"calibrate={calibrate}")
fig.tight_layout()
