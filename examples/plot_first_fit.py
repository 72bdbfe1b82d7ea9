"""
=====================================
A first fit: three levels at once
=====================================

Fit :class:`~mgclassifier.MultiGranularityClassifier` at its defaults on the
ImCLEF07A benchmark (medical X-ray images, a 3-level anatomical code) and
compare it with scikit-learn's ``MLPClassifier`` trained on the finest level
alone, the peer a user tries first.
"""

# %%
# The data
# --------
# ImCLEF07A ships with the package: 10,000 training and 1,006 test images,
# 80 features each, labelled with a path of three levels (8 / 25 / 63
# classes), coarse to fine.
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mgclassifier import MultiGranularityClassifier
from mgclassifier.datasets import load_imclef07a
from mgclassifier.metrics import (
    accuracy_per_level,
    hierarchical_average_precision,
    hierarchical_f1_score,
    mistake_severity,
)

data = load_imclef07a()
print(data.X_train.shape, data.y_train.shape)
print(data.y_train[[0, 5000, 9999]])  # paths: the labels name their parents

# %%
# One network for every level
# ---------------------------
# ``y`` is a 2-D array with one column per level; the hierarchy is read from
# it. ``predict`` returns whole paths, ``predict_proba`` one array per level.
start = time.perf_counter()
clf = MultiGranularityClassifier(random_state=0).fit(data.X_train, data.y_train)
fit_seconds = time.perf_counter() - start
Y_pred = clf.predict(data.X_test)
proba = clf.predict_proba(data.X_test)
print(Y_pred[[0, 500, 1000]])
print([p.shape for p in proba])

# %%
# A flat peer
# -----------
# ``MLPClassifier`` learns the 63 leaves; its coarse levels are read off the
# predicted leaf (every leaf has one parent here). Its probabilities per
# level are sums over the leaves below each class.
start = time.perf_counter()
mlp = make_pipeline(
    StandardScaler(),
    MLPClassifier((512, 256), early_stopping=True, random_state=0),
).fit(data.X_train, data.y_train[:, -1])
mlp_seconds = time.perf_counter() - start
leaf_path = {path[-1]: path for path in data.y_train}
mlp_pred = np.array([leaf_path[leaf] for leaf in mlp.predict(data.X_test)])
leaf_proba = mlp.predict_proba(data.X_test)
mlp_proba = []
for level, classes in enumerate(clf.classes_):
    column = {label: i for i, label in enumerate(classes)}
    summed = np.zeros((len(data.X_test), len(classes)))
    for j, leaf in enumerate(mlp.classes_):
        summed[:, column[leaf_path[leaf][level]]] += leaf_proba[:, j]
    mlp_proba.append(summed)

# %%
# The results table
# -----------------
# Accuracy per level, hierarchical F1 (credit for each right node of a path),
# AU(PRC) over every node, and the mistake severity (mean tree distance of
# the wrong predictions: lower is better).
rows = []
for name, seconds, pred, prob in [
    ("MultiGranularityClassifier()", fit_seconds, Y_pred, proba),
    ("MLPClassifier((512, 256)), leaves", mlp_seconds, mlp_pred, mlp_proba),
]:
    accuracy = accuracy_per_level(data.y_test, pred)
    rows.append(
        {
            "method": name,
            "fit s": round(seconds, 1),
            "acc level 1/2/3": " / ".join(f"{a:.3f}" for a in accuracy),
            "hier. F1": round(hierarchical_f1_score(data.y_test, pred), 3),
            "AU(PRC)": round(
                hierarchical_average_precision(data.y_test, prob, clf.classes_), 3
            ),
            "severity": round(mistake_severity(data.y_test, pred), 2),
        }
    )
table = pd.DataFrame(rows).set_index("method")
table

# %%
# Accuracy by level
# -----------------
# Both get the coarse levels more often right than the leaves; the
# multi-granularity network is ahead at every level.
fig, ax = plt.subplots(figsize=(6, 3.5))
width = 0.38
levels = np.arange(3)
for offset, (name, pred) in zip(
    (-width / 2, width / 2),
    [("MultiGranularityClassifier", Y_pred), ("MLPClassifier", mlp_pred)],
):
    ax.bar(levels + offset, accuracy_per_level(data.y_test, pred), width, label=name)
ax.set_xticks(levels, ["level 1 (8)", "level 2 (25)", "level 3 (63)"])
ax.set_ylim(0.7, 1.0)
ax.set_ylabel("test accuracy")
ax.legend(loc="lower left")
fig.tight_layout()
