"""
Digits with ``Sequential``
==========================

Train a small network on scikit-learn's 8×8 digits with fastbp's own API: two :class:`~fastbp.Dense`
layers in a :class:`~fastbp.Sequential`, Adam, a validation split and the accuracy recorded
every epoch; then plot the training curves from the :class:`~fastbp.History` that ``fit`` returns.
"""

# %%
# The data
# --------
# 1,797 images of 64 pixels in 0..16, ten classes. Scale the pixels to [0, 1] and keep a fifth
# of the rows aside as a test set.

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import fastbp

X, y = load_digits(return_X_y=True)
X = (X / 16).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0,
                                                    stratify=y)

# %%
# The network
# -----------
# 64 inputs, 64 ReLU units, 10 softmax outputs, trained on the cross-entropy (computed from the
# logits, never ``log(0)``). ``Sequential`` takes integer labels 0..9 as they are. The first
# layer's input width could be left out (``Dense(64, activation="relu")``): it would then be taken
# from the data at the first ``fit``.

model = fastbp.Sequential(
    [fastbp.Dense(64, 64, activation="relu"), fastbp.Dense(64, 10, activation="softmax")],
    loss="cross_entropy", dtype="float32", backend="cpu", seed=0)
model.summary()

# %%
# Training
# --------
# 30 epochs of mini-batches of 64 rows; the last 20 % of the training rows are held out for
# validation (``validation_split``) and ``metrics=["accuracy"]`` also records the training
# accuracy. Each epoch runs whole inside the compiled backend.

history = model.fit(X_train, y_train, epochs=30, batch_size=64,
                    optimizer=fastbp.Adam(learning_rate=1e-3), validation_split=0.2,
                    metrics=["accuracy"], seed=0)
print(history)
print(f"validation accuracy after {history.epochs} epochs: {history.val_accuracy[-1]:.3f}")

test_accuracy = np.mean(model.predict(X_test).argmax(axis=1) == y_test)
print(f"test accuracy: {test_accuracy:.3f}")

# %%
# The training curves
# -------------------
# :meth:`History.plot <fastbp.History.plot>` draws the losses; the accuracies are in
# ``history.history`` (also as attributes, ``history.accuracy`` and ``history.val_accuracy``).

fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
history.plot(ax=ax_loss)
ax_loss.set_title("cross-entropy")
epochs = np.arange(1, history.epochs + 1)
ax_acc.plot(epochs, history.accuracy, label="training accuracy")
ax_acc.plot(epochs, history.val_accuracy, label="validation accuracy")
ax_acc.set_xlabel("epoch")
ax_acc.set_ylabel("accuracy")
ax_acc.set_title("accuracy")
ax_acc.legend()
plt.show()

# %%
# Gradients by backpropagation
# ----------------------------
# :meth:`~fastbp.Sequential.gradients` returns ``[(dW, db), ...]``, one pair per layer; the
# same numbers as :meth:`~fastbp.Sequential.numerical_gradients` (central differences), at a
# small fraction of the cost.

grads = model.gradients(X_train[:32], y_train[:32])
print([(dW.shape, db.shape) for dW, db in grads])
