"""
Save, load and serve through ONNX
=================================

Fit an :class:`~fastbp.MLPClassifier`, write it with :func:`fastbp.save`, read it back with
:func:`fastbp.load`, export it with :func:`fastbp.to_onnx` and run the ONNX model in onnxruntime.
The three give the same predictions; the plot compares their probabilities and their latency on
one row and on a batch. Needs the ``onnx`` extra (``pip install 'fastbp[onnx]'``).
"""

# %%
# Fit and save
# ------------
# The native file is a safetensors file: the weights as raw arrays and one JSON header. Loading
# it runs no code from the file. ``include_optimizer=True`` also stores what resumed training
# needs (Adam's moments, the schedule, the random state).

import os
import tempfile
import time

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime as ort
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import fastbp

X, y = load_digits(return_X_y=True)
X = (X / 16).astype(np.float32)  # float32 in, float32 network (dtype=None follows X)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)

clf = fastbp.MLPClassifier(hidden_layer_sizes=(64,), early_stopping=True, random_state=0)
clf.fit(X_train, y_train)
print(f"test accuracy: {clf.score(X_test, y_test):.3f}, weights {clf.coefs_[0].dtype}")

folder = tempfile.mkdtemp()
path = os.path.join(folder, "digits.safetensors")
fastbp.save(clf, path, include_optimizer=True)
print(f"{os.path.getsize(path):,} bytes written")

# %%
# Load
# ----
# :func:`fastbp.load` checks the layout, the header, every array's name, dtype and shape, the
# checksum and the values before it builds the estimator. ``fastbp inspect FILE`` prints the same
# file's contents from the command line.

loaded = fastbp.load(path)
print(type(loaded).__name__, loaded.hidden_layer_sizes, loaded.classes_)
assert np.array_equal(loaded.predict_proba(X_test), clf.predict_proba(X_test))

# %%
# Export to ONNX and run in onnxruntime
# -------------------------------------
# A classifier's graph has input ``X`` and outputs ``label`` and ``probabilities`` (skl2onnx's
# layout for scikit-learn's MLP with ``zipmap=False``).

onx = fastbp.to_onnx(loaded)
print([i.name for i in onx.graph.input], [o.name for o in onx.graph.output])
session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
labels, probabilities = session.run(["label", "probabilities"], {"X": X_test})

difference = np.max(np.abs(probabilities - clf.predict_proba(X_test)))
print(f"labels agree: {np.array_equal(labels, clf.predict(X_test))}; "
      f"largest probability difference: {difference:.1e}")

# %%
# Agreement and latency
# ---------------------
# Left: each test row's largest probability from fastbp against onnxruntime's (on the diagonal
# when they agree). Right: the best of repeated calls for one row and for the whole test set.


def best_time(fn, repeat=200):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


one_row = np.ascontiguousarray(X_test[:1])  # the fitted dtype, C-contiguous: the fast path
timings = {
    "fastbp, 1 row": best_time(lambda: loaded.predict_proba(one_row)),
    "onnxruntime, 1 row": best_time(lambda: session.run(["probabilities"], {"X": one_row})),
    f"fastbp, {len(X_test)} rows": best_time(lambda: loaded.predict_proba(X_test), 50),
    f"onnxruntime, {len(X_test)} rows": best_time(
        lambda: session.run(["probabilities"], {"X": X_test}), 50),
}
for name, seconds in timings.items():
    print(f"{name:>22}: {seconds * 1e6:8.1f} µs")

fig, (ax_agree, ax_time) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
ax_agree.scatter(clf.predict_proba(X_test).max(axis=1), probabilities.max(axis=1), s=8)
ax_agree.plot([0, 1], [0, 1], color="0.6", lw=0.8)
ax_agree.set_xlabel("fastbp: largest probability")
ax_agree.set_ylabel("onnxruntime: largest probability")
ax_agree.set_title(f"same predictions (max difference {difference:.0e})")
names = list(timings)
ax_time.barh(names, [timings[n] * 1e6 for n in names],
             color=["C0", "C1", "C0", "C1"])
ax_time.set_xscale("log")
ax_time.set_xlabel("best time per call (µs, log scale)")
ax_time.set_title("latency on this machine")
ax_time.invert_yaxis()
plt.show()

# %%
# Clean up the temporary folder.

os.remove(path)
os.rmdir(folder)
