"""
===================================
Your own network as the trunk
===================================

``module=`` takes any PyTorch module as the shared trunk: the estimator puts
one linear head per level on its output and keeps everything else (the level
losses, coherent path decoding, calibration, ``GridSearchCV``, ``pickle``).
Here a small CNN reads scikit-learn's 8x8 images of digits, labelled with a
two-level hierarchy: the digit's shape (loop, stroke, curve), then the digit.
"""

# %%
# The trunk
# ---------
# A ``torch.nn.Module`` class whose forward pass maps a batch to a 2-D tensor
# ``(batch, width)``, or, as here, to one such tensor per level, coarse to
# fine: the shape head reads the features of the first convolution block,
# the digit head those of the second (heads at different depths, as in
# B-CNN). The constructor's parameters become the estimator's
# ``module__<name>`` parameters; the widths are found by running it on two
# rows.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from torch import nn

from mgclassifier import MultiGranularityClassifier


class TwoStageCNN(nn.Module):
    def __init__(self, n_filters=8):
        super().__init__()
        self.early = nn.Sequential(
            nn.Conv2d(1, n_filters, 3, padding=1), nn.BatchNorm2d(n_filters), nn.ReLU()
        )
        self.late = nn.Sequential(
            nn.MaxPool2d(2),  # 8x8 -> 4x4
            nn.Conv2d(n_filters, 4 * n_filters, 3, padding=1),
            nn.BatchNorm2d(4 * n_filters),
            nn.ReLU(),
        )
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, X):
        early = self.early(X)
        late = self.late(early)
        return [self.pool(early), self.pool(late)]  # (batch, width), per level


# %%
# Images and a hierarchy
# ----------------------
# Images go in as ``(n, channels, height, width)``; they are not standardised
# (only 2-D float tables are), so they are scaled here to [0, 1].
digits = load_digits()
images = (digits.images / 16.0)[:, None].astype(np.float32)  # (1797, 1, 8, 8)
shape = {
    0: "loop",
    6: "loop",
    8: "loop",
    9: "loop",
    1: "stroke",
    4: "stroke",
    7: "stroke",
    2: "curve",
    3: "curve",
    5: "curve",
}
Y = np.column_stack([[shape[d] for d in digits.target], digits.target.astype(str)])

cnn = MultiGranularityClassifier(
    module=TwoStageCNN,
    module__n_filters=8,
    batch_size=64,
    lr=1e-2,
    max_epochs=15,
    random_state=0,
)
cnn.fit(images[:1500], Y[:1500])
print("exact-path accuracy on the last 297 images:", cnn.score(images[1500:], Y[1500:]))

# %%
# The trunk's parameters are the estimator's
# ------------------------------------------
# ``GridSearchCV`` tunes ``module__n_filters`` like any other parameter.
search = GridSearchCV(cnn, {"module__n_filters": [4, 8]}, cv=2)
search.fit(images[:1200], Y[:1200])
print(search.best_params_, search.cv_results_["mean_test_score"].round(3))

# %%
# What it predicts
# ----------------
# Some test images with their predicted path and its probability.
Y_pred = cnn.predict(images[1500:])
proba = cnn.predict_proba(images[1500:])[1]
fig, axes = plt.subplots(3, 8, figsize=(10, 4.6))
for ax, i in zip(axes.ravel(), range(len(axes.ravel()))):
    ax.imshow(images[1500 + i, 0], cmap="gray_r")
    label = Y_pred[i, 1]
    p = proba[i, list(cnn.classes_[1]).index(label)]
    color = "black" if (Y_pred[i] == Y[1500 + i]).all() else "red"
    ax.set_title(f"{Y_pred[i, 0]} > {label}\n{p:.2f}", fontsize=9, color=color)
    ax.set_axis_off()
fig.suptitle("predicted path and its probability (red: wrong)")
fig.tight_layout()

# %%
# Ready-made trunks
# -----------------
# :mod:`mgclassifier.trunks` has ``ResidualMLP`` (residual blocks for tables)
# and ``SmallCNN``. For ``pickle`` and skops, define your own trunk in an
# importable module rather than in ``__main__``.
