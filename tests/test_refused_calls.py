"""Calls that cannot do what they are asked refuse clearly and leave the model as it was.

- The methods that need targets (``loss``, ``gradients``, ``numerical_gradients``, ``step``,
  ``fit``) refuse ``y=None`` with a TypeError naming ``y``, on every host backend, rather than
  read it as "``X`` alone" (``prepare``'s meaning) and run the kernels on whatever follows.
- A ``fit`` that raises, a divergence included, is undone: the weights, whether the model is built,
  ``samples_seen`` and the optimizer's moments and step count are all those from before the call,
  one consistent state (the fit loop's own fall-back keeps the weights of an earlier epoch, whose
  samples ``samples_seen`` would otherwise still count).
"""

import numpy as np
import pytest

import fastbp
from fastbp import Dense, Sequential

HOST_BACKENDS = ["numpy", "cpu"]
OUTPUTS = {"squared_error": ("identity", 1), "binary_cross_entropy": ("sigmoid", 1),
           "cross_entropy": ("softmax", 2), "poisson": ("exp", 1)}


def _model(loss, backend, n_inputs=3):
    activation, n_out = OUTPUTS[loss]
    return Sequential([Dense(n_inputs, 4, "tanh"), Dense(4, n_out, activation)], loss=loss,
                      dtype="float64", backend=backend, seed=0)


TARGET_CALLS = {
    "loss": lambda model, X: model.loss(X, None),
    "gradients": lambda model, X: model.gradients(X, None),
    "numerical_gradients": lambda model, X: model.numerical_gradients(X, None),
    "step": lambda model, X: model.step(X, None, 0.1),
    "fit": lambda model, X: model.fit(X, None, epochs=1),
}


@pytest.mark.parametrize("backend", HOST_BACKENDS)
@pytest.mark.parametrize("loss", sorted(OUTPUTS))
@pytest.mark.parametrize("call", sorted(TARGET_CALLS))
# 3 rows: ``prepare(X, None)`` unpacked into (X, Y, weight) used to fill the three from X's rows
@pytest.mark.parametrize("n_rows", [3, 5])
def test_a_method_that_needs_targets_refuses_y_none(call, loss, backend, n_rows):
    model = _model(loss, backend)
    before = model.parameters.copy()
    X = np.random.default_rng(0).standard_normal((n_rows, 3))
    with pytest.raises(TypeError, match=r"^y is None, but targets are needed"):
        TARGET_CALLS[call](model, X)
    np.testing.assert_array_equal(model.parameters, before)
    assert model.samples_seen == 0


def test_y_none_leaves_an_unbuilt_model_unbuilt():
    model = Sequential([Dense(4, activation="tanh"), Dense(1)], backend="numpy", seed=0)
    with pytest.raises(TypeError, match="y is None"):
        model.loss(np.ones((3, 2)), None)
    assert not model.built


def test_prepare_still_takes_x_alone():
    model = _model("squared_error", "numpy")
    X = np.ones((3, 3))
    np.testing.assert_array_equal(model.prepare(X), X)


# ---- a fit that raises is undone ------------------------------------------------------------
def _overflowing_line(n=20):
    """A linear model in float32 whose first full-batch SGD step at learning rate 1e25 leaves
    finite weights (about 1e25) at which the squared error overflows: epoch 1 ends with a finite
    loss (computed before its step), epoch 2 diverges, and the fit loop falls back past epoch 1 to
    the weights from before the fit."""
    X = np.random.default_rng(0).standard_normal((n, 1)).astype(np.float32)
    return X, 2 * X[:, 0] + 1


@pytest.mark.parametrize("backend", HOST_BACKENDS)
def test_a_fit_diverging_after_a_finished_epoch_is_undone_whole(backend):
    X, y = _overflowing_line()
    model = Sequential([Dense(1, 1)], dtype="float32", backend=backend, seed=0)
    sgd = fastbp.SGD(0.01, momentum=0.9)
    model.fit(X, y, epochs=2, batch_size=None, optimizer=sgd, shuffle=False)
    weights, seen, steps = model.parameters.copy(), model.samples_seen, sgd.steps
    moments = [moment.copy() for moment in sgd.moments]
    assert (seen, steps) == (2 * len(X), 2)

    sgd.lr = 1e25
    with pytest.raises(fastbp.DivergenceError) as info:
        model.fit(X, y, epochs=5, batch_size=None, optimizer=sgd, shuffle=False)
    message = str(info.value)
    assert message.startswith("training diverged in epoch 2: ")  # one epoch had finished
    assert "the fit was undone" in message and "smaller learning rate" in message
    np.testing.assert_array_equal(model.parameters, weights)
    assert model.samples_seen == seen
    assert sgd.steps == steps
    for moment, saved in zip(sgd.moments, moments):
        np.testing.assert_array_equal(moment, saved)
    # and it trains on from there as if the failed call had never been made
    sgd.lr = 0.01
    twin = Sequential([Dense(1, 1)], dtype="float32", backend=backend, seed=0)
    twin_sgd = fastbp.SGD(0.01, momentum=0.9)
    twin.fit(X, y, epochs=2, batch_size=None, optimizer=twin_sgd, shuffle=False)
    for net, optimizer in ((model, sgd), (twin, twin_sgd)):
        net.fit(X, y, epochs=3, batch_size=None, optimizer=optimizer, shuffle=False)
    np.testing.assert_array_equal(model.parameters, twin.parameters)
    assert model.samples_seen == twin.samples_seen


def test_a_diverging_first_fit_leaves_a_fresh_optimizer_fresh():
    X, y = _overflowing_line()
    model = Sequential([Dense(1, 1)], dtype="float32", backend="numpy", seed=0)
    initial = model.parameters.copy()
    adam = fastbp.Adam(1e30)
    with pytest.raises(fastbp.DivergenceError):
        model.fit(X, y, epochs=5, batch_size=None, optimizer=adam, shuffle=False)
    assert adam.moments is None and adam.steps == 0
    np.testing.assert_array_equal(model.parameters, initial)
    assert model.samples_seen == 0


def test_a_diverging_fit_leaves_an_unbuilt_model_unbuilt():
    X, y = _overflowing_line()
    model = Sequential([Dense(1)], dtype="float32", backend="numpy", seed=0)
    with pytest.raises(fastbp.DivergenceError):
        model.fit(X, y, epochs=5, batch_size=None, optimizer=fastbp.SGD(1e25), shuffle=False)
    assert not model.built and model.samples_seen == 0
    # unbuilt for real: it builds afresh for data of another width, with the seed's weights
    wide = np.hstack([X, X])
    model.fit(wide, y, epochs=1, batch_size=None, optimizer=fastbp.SGD(0.01), shuffle=False)
    reference = Sequential([Dense(2, 1)], dtype="float32", backend="numpy", seed=0)
    reference.fit(wide, y, epochs=1, batch_size=None, optimizer=fastbp.SGD(0.01), shuffle=False)
    np.testing.assert_array_equal(model.parameters, reference.parameters)


class _FailsInEpoch(fastbp.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("a callback's own failure")


def test_a_fit_ended_by_any_error_is_undone():
    X, y = _overflowing_line()
    model = Sequential([Dense(1, 3, "tanh"), Dense(3, 1)], dtype="float64", backend="numpy",
                       seed=0)
    adam = fastbp.Adam(0.01)
    model.fit(X, y, epochs=1, batch_size=5, optimizer=adam)
    weights, seen, steps = model.parameters.copy(), model.samples_seen, adam.steps
    with pytest.raises(RuntimeError, match="a callback's own failure"):
        model.fit(X, y, epochs=4, batch_size=5, optimizer=adam, callbacks=[_FailsInEpoch(2)])
    np.testing.assert_array_equal(model.parameters, weights)
    assert (model.samples_seen, adam.steps) == (seen, steps)
