"""
===========================================
Stopping at a coarse level when unsure
===========================================

"Give me paths that are right at least 95% of the time, as deep as possible":
with ``target_accuracy=0.95``, ``fit`` sets rows aside and chooses on them the
lowest probability threshold at which the returned paths are right often
enough, with a margin for the luck of the draw. ``predict`` then stops each
path at the deepest level whose probability reaches that threshold and fills
the levels below with ``None``: an uncertain image gets its anatomical region
but no finer code.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from mgclassifier import MultiGranularityClassifier
from mgclassifier.datasets import load_imclef07a

data = load_imclef07a()

sure = MultiGranularityClassifier(target_accuracy=0.95, random_state=0)
sure.fit(data.X_train, data.y_train)  # sets 10% of the rows aside for the threshold
print("threshold:", round(sure.path_threshold_, 3))
print("held-out rows at it:", sure.held_out_coverage_)


# %%
# On the test split
# -----------------
# A path counts as right when every label it returns is right; a shortened
# path can be right. ``depth`` is the number of levels returned.
def right_and_depth(Y_pred, Y_true):
    kept = np.array([[label is not None for label in row] for row in Y_pred])
    right = ((Y_pred == Y_true) | ~kept).all(axis=1)
    return right.mean(), kept.sum(axis=1).mean()


accuracy, depth = right_and_depth(sure.predict(data.X_test), data.y_test)
print(f"right: {accuracy:.3f}, mean depth: {depth:.2f} of 3")

# %%
# Every threshold
# ---------------
# The same fitted model with other thresholds (``min_path_probability``, set
# without refitting): the higher the threshold, the shorter and the more often
# right the paths. The threshold ``fit`` chose sits where the held-out rows
# certify the target, with a margin, so the test split lands above it.
threshold = sure.path_threshold_
curve = []
sure.set_params(target_accuracy=None)
for t in np.linspace(0.05, 0.995, 40):
    sure.set_params(min_path_probability=t)
    curve.append(right_and_depth(sure.predict(data.X_test), data.y_test))
curve = np.array(curve)
sure.set_params(min_path_probability=None)
full = right_and_depth(sure.predict(data.X_test), data.y_test)

fig, ax = plt.subplots(figsize=(6.5, 4.5))
ax.plot(curve[:, 1], curve[:, 0], ".-", label="min_path_probability from 0.05 to 0.995")
ax.plot(*full[::-1], "s", label="full paths")
ax.plot(
    depth, accuracy, "*", markersize=14, label=f"target_accuracy=0.95 ({threshold:.2f})"
)
ax.axhline(0.95, color="grey", linestyle="--", linewidth=1)
ax.set_xlabel("mean number of levels returned")
ax.set_ylabel("share of rows whose labels are all right")
ax.set_title("ImCLEF07A test split")
ax.legend(loc="lower left")
fig.tight_layout()
