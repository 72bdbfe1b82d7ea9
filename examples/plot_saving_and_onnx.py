"""
=====================================
Saving a model and serving it in ONNX
=====================================

A fitted :class:`~mgclassifier.MultiGranularityClassifier` pickles, saves with
skops (which loads only the types you trust), and exports with
:func:`mgclassifier.onnx.to_onnx` to one ONNX graph that any ONNX runtime
serves without Python or torch: the graph holds the whole prediction, so its
outputs are ``predict``'s labels and ``predict_proba``'s probabilities.
"""

# %%
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime
import skops.io as sio

from mgclassifier import MultiGranularityClassifier
from mgclassifier.datasets import load_imclef07a
from mgclassifier.onnx import to_onnx

data = load_imclef07a()
clf = MultiGranularityClassifier(random_state=0).fit(data.X_train, data.y_train)
folder = Path(tempfile.mkdtemp())

# %%
# skops
# -----
# skops lists the types a file holds that it does not trust by default.
# Review them before passing them as ``trusted``: these are this package's,
# skorch's and torch's classes, and no function.
sio.dump(clf, folder / "model.skops")
untrusted = sio.get_untrusted_types(file=folder / "model.skops")
print("\n".join(untrusted))
loaded = sio.load(folder / "model.skops", trusted=untrusted)
print(
    "same predictions:", (loaded.predict(data.X_test) == clf.predict(data.X_test)).all()
)

# %%
# ONNX
# ----
# One input, ``X`` (float32 rows, any batch size), and one output per
# prediction: the labels of each level and one probability array per level.
to_onnx(clf, folder / "model.onnx")
session = onnxruntime.InferenceSession(folder / "model.onnx")
print([output.name for output in session.get_outputs()])
labels, *probabilities = session.run(None, {"X": data.X_test.astype(np.float32)})
print("labels equal predict:", (labels == clf.predict(data.X_test)).all())
proba = clf.predict_proba(data.X_test)
print(
    "largest probability difference:",
    max(np.abs(p - q).max() for p, q in zip(probabilities, proba)),
)

# %%
# The same probabilities
# ----------------------
# onnxruntime's probabilities against ``predict_proba``'s, finest level.
fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.plot(proba[-1].ravel(), probabilities[-1].ravel(), ".", markersize=2)
ax.set_xlabel("predict_proba")
ax.set_ylabel("onnxruntime")
ax.set_title("finest level, every test row and class")
fig.tight_layout()

# %%
# Latency
# -------
# One row at a time, as a service would call it: the median of 200 calls on
# the machine that built this page, so only a rough guide (the user guide's
# ONNX section has a measured comparison).
row = data.X_test[:1].astype(np.float32)
timings = {}
for name, call in [
    ("onnxruntime", lambda: session.run(None, {"X": row})),
    ("predict_proba", lambda: clf.predict_proba(row)),
]:
    seconds = []
    for _ in range(200):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    timings[name] = 1e6 * np.median(seconds)
fig, ax = plt.subplots(figsize=(6, 2.2))
ax.barh(list(timings), list(timings.values()))
ax.set_xlabel("µs per call, one row (median of 200)")
fig.tight_layout()
print({name: f"{us:.0f} µs" for name, us in timings.items()})
