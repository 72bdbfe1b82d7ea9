"""
================================================
Tuning the regularisers with ``GridSearchCV``
================================================

Every regulariser of :class:`~mgclassifier.MultiGranularityClassifier` (L1,
L2, dropout, the loss weight of the coarse levels, label smoothing, ...) is a
constructor parameter, so scikit-learn's ``GridSearchCV`` tunes it like any
other, scored by the hierarchy-aware scorers of :mod:`mgclassifier.metrics`.

Here: dropout against the weight of the coarse levels in the loss, on part of
ImCLEF07A, scored by AU(PRC) over every node of the tree and by exact-path
accuracy. To keep the page quick the grid is small, the network narrow and the
training short; a real search would use every row and more epochs.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV

from mgclassifier import MultiGranularityClassifier
from mgclassifier.datasets import load_imclef07a
from mgclassifier.metrics import average_precision_scorer, fine_accuracy_scorer

data = load_imclef07a()
rows = np.random.default_rng(0).permutation(len(data.X_train))[:4000]  # stored by class
X, Y = data.X_train[rows], data.y_train[rows]

# %%
# The search
# ----------
# ``level_weights`` is the loss weight of each level, coarse to fine: with
# ``[0, 0, 1]`` the coarse labels teach nothing, with ``[1, 1, 1]`` every
# level counts as much as the leaves.
param_grid = {
    "dropout": [0.2, 0.4, 0.6],
    "level_weights": [[0, 0, 1], [0.25, 0.25, 1], [1, 1, 1]],
}
search = GridSearchCV(
    MultiGranularityClassifier(
        hidden_layer_sizes=(256,), max_epochs=15, random_state=0
    ),
    param_grid,
    scoring={"au_prc": average_precision_scorer, "exact_path": fine_accuracy_scorer},
    refit="au_prc",
    cv=3,
)
search.fit(X, Y)
print(search.best_params_)
test_score = average_precision_scorer(search.best_estimator_, data.X_test, data.y_test)
print(f"AU(PRC) of the refitted best model on the test split: {test_score:.3f}")

# %%
# The grid
# --------
# Mean cross-validated scores of every candidate: rows are dropout values,
# columns the coarse levels' loss weight.
results = pd.DataFrame(search.cv_results_)
results["coarse weight"] = [w[0] for w in results["param_level_weights"]]
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, (score, title) in zip(
    axes, [("au_prc", "AU(PRC)"), ("exact_path", "exact-path accuracy")]
):
    grid = results.pivot_table(
        index="param_dropout", columns="coarse weight", values=f"mean_test_{score}"
    )
    image = ax.imshow(grid.to_numpy(), cmap="viridis", origin="lower")
    for (i, j), value in np.ndenumerate(grid.to_numpy()):
        ax.text(j, i, f"{value:.3f}", ha="center", va="center", color="white")
    ax.set_xticks(range(grid.shape[1]), grid.columns)
    ax.set_yticks(range(grid.shape[0]), grid.index)
    ax.set_xlabel("loss weight of each coarse level")
    ax.set_ylabel("dropout")
    ax.set_title(f"mean CV {title}")
    fig.colorbar(image, ax=ax, shrink=0.8)
fig.tight_layout()

# %%
# Early stopping and cross-validation
# -----------------------------------
# With ``early_stopping=True`` (or ``"auto"`` above 10,000 rows) each fit
# holds out ``validation_fraction`` of the rows it is given: inside
# ``GridSearchCV`` those are rows of the training fold, so the fold's test
# rows choose no epoch and leak nothing.
