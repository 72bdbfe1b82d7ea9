"""
=================================================
Training history and per-level confusion matrices
=================================================

Two views of a fit: how the loss of each level fell, epoch by epoch, on the
training rows and on the rows early stopping held out; and, level by level,
which classes the model confuses on the test split.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from mgclassifier import MultiGranularityClassifier
from mgclassifier.datasets import load_imclef07a
from mgclassifier.plotting import LevelConfusionMatrixDisplay, TrainingHistoryDisplay

data = load_imclef07a()

# %%
# A fit with early stopping
# -------------------------
# ``early_stopping=True`` holds 10% of the rows out; training stops after
# ``patience`` epochs without improvement and keeps the best epoch's weights.
clf = MultiGranularityClassifier(early_stopping=True, max_epochs=40, random_state=0)
clf.fit(data.X_train, data.y_train)
print(f"trained {clf.n_epochs_} epochs, kept epoch {clf.best_epoch_}")

# %%
# The training history
# --------------------
# One curve per level and split; the best epoch is marked. The finest level
# has the most classes and the highest loss.
fig, ax = plt.subplots(figsize=(7, 4.5))
TrainingHistoryDisplay.from_estimator(clf, ax=ax)
fig.tight_layout()

# %%
# The coarsest level
# ------------------
# Rows are the true classes, columns the predicted ones, each row normalised
# to 1: the diagonal is each class's recall.
fig, ax = plt.subplots(figsize=(6.5, 5.5))
LevelConfusionMatrixDisplay.from_estimator(
    clf, data.X_test, data.y_test, level=0, normalize="true", values_format=".2f", ax=ax
)
ax.set_title("level 1 (8 classes)")
fig.tight_layout()

# %%
# The finest level
# ----------------
# 63 classes are too many to label each cell; the matrix still shows where
# the mistakes go. The labels are paths (``"6/2/0"``), so leaves under one
# parent sit next to each other, and mistakes between siblings fall into the
# small blocks along the diagonal.
fig, ax = plt.subplots(figsize=(8, 7))
LevelConfusionMatrixDisplay.from_estimator(
    clf,
    data.X_test,
    data.y_test,
    level=-1,
    normalize="true",
    include_values=False,
    xticks_rotation="vertical",
    ax=ax,
)
ax.tick_params(labelsize=5)
ax.set_title("level 3 (63 classes)")
fig.tight_layout()

# %%
# How far the mistakes go
# -----------------------
# The distance of each wrong leaf from the true one, in tree steps (2: a
# sibling under the same parent, 4: a cousin, 6: another branch from the
# root). On this data most mistakes are already wrong at the coarsest level,
# the anatomical region: those are the images to look at first.
Y_pred = clf.predict(data.X_test)
wrong = Y_pred[:, -1] != data.y_test[:, -1]
first_difference = np.argmax(Y_pred[wrong] != data.y_test[wrong], axis=1)
distance = 2 * (3 - first_difference)
values, counts = np.unique(distance, return_counts=True)
print(dict(zip(values.tolist(), counts.tolist())))
