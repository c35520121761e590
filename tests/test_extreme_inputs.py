"""Pre-activations of +-1e4 (float64) and +-1e3 (float32) give finite losses and gradients.

Layers have ``W = I`` and ``b = 0``, so the first pre-activation is exactly ``X``. Every activation
is tried in the output position (under each loss it fits) and in the hidden position (under every
loss), on both backends. Warnings are errors (pyproject.toml) and NumPy's floating-point errors are
raised too, so neither backend can hide an overflow or a ``log(0)``.

An ``exp`` output is the exception: exp(1e4) is beyond float64 for real, so no implementation can
make it finite. Networks with an exp output are instead driven to the edge of exp's finite range
(``EXP_EDGE``: +-700 in float64, +-80 in float32; half that under the squared losses, which square
exp(z)) and must be finite there, and just past it the overflow must show: an infinite output and
loss, and ``fit`` stopping with a DivergenceError rather than training on.
"""

import numpy as np
import pytest

import fastbp
from fastbp.errors import DivergenceError
from helpers import (
    ACTIVATIONS,
    BACKENDS,
    EXP_EDGE,
    HIDDEN_ACTIVATIONS,
    LOSSES,
    output_activation,
)

BIG = {"float64": 1e4, "float32": 1e3}
SQUARED_LOSSES = ("squared_error", "mse")


def big_for(dtype, output, loss):
    """The extreme pre-activation tried for a network with this output activation and loss."""
    if output != "exp":
        return BIG[dtype]
    edge = EXP_EDGE[np.dtype(dtype)]
    return edge / 2 if loss in SQUARED_LOSSES else edge
K = 4  # width of every layer


def extreme_X(big):
    """Rows of huge values of both signs, mixed with ordinary ones, shape (5, K)."""
    return np.array([[big, -big, big, -big],
                     [-big, -big, -big, -big],
                     [big, big, big, big],
                     [big, -big, 0.5, -0.25],
                     [0.0, big, -big, 1.0]])


def targets(loss):
    if loss == "cross_entropy":
        return np.array([1, 0, 3, 2, 0])  # often the unit the logits rank lowest
    if loss == "binary_cross_entropy":
        return np.array([[0, 1, 0, 1], [1, 1, 0, 0], [0, 0, 0, 0], [1, 0, 1, 0], [1, 0, 1, 1]])
    if loss == "poisson":
        return np.array([[0, 3, 0, 1], [2, 0, 0, 7], [0, 0, 0, 0], [1, 0, 4, 0], [5, 1, 0, 2]])
    return np.random.default_rng(0).standard_normal((5, K))


def identity_model(activations, loss, dtype, backend, k=K):
    """Layers of width ``k`` with ``W = I`` and ``b = 0``."""
    layers = [fastbp.Dense(k, k, activation) for activation in activations]
    model = fastbp.Sequential(layers, loss=loss, dtype=dtype, backend=backend, seed=0)
    for layer in model.layers:
        layer.W, layer.b = np.eye(k), np.zeros(k)
    return model


def assert_finite_everywhere(model, X, y):
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        output = model.forward(X)
        loss = model.loss(X, y)
        gradients = model.gradients(X, y)
    assert np.all(np.isfinite(output)), output
    assert np.isfinite(loss), loss
    for i, (dW, db) in enumerate(gradients):
        assert dW.dtype == db.dtype == model.dtype
        assert np.all(np.isfinite(dW)) and np.all(np.isfinite(db)), f"layer {i}: {dW}, {db}"


def output_cases():
    for activation in ACTIVATIONS:
        for loss in LOSSES:
            if output_activation(loss, activation) == activation:
                yield pytest.param(activation, loss, id=f"{activation}-{loss}")


def hidden_cases():
    for activation in HIDDEN_ACTIVATIONS:
        for loss in LOSSES:
            yield pytest.param(activation, loss, id=f"{activation}-{loss}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation, loss", list(output_cases()))
def test_extreme_output_preactivations(activation, loss, dtype, backend):
    model = identity_model([activation], loss, dtype, backend)
    assert_finite_everywhere(model, extreme_X(big_for(dtype, activation, loss)), targets(loss))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation, loss", list(hidden_cases()))
def test_extreme_hidden_preactivations(activation, loss, dtype, backend):
    output = output_activation(loss, "identity")
    model = identity_model([activation, output], loss, dtype, backend)
    assert_finite_everywhere(model, extreme_X(big_for(dtype, output, loss)), targets(loss))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss", ["poisson", "squared_error"])
def test_exp_output_beyond_its_range_is_loud(loss, dtype, backend):
    """Past exp's finite range the output is inf (its true value), the loss too, and training
    refuses to go on: the overflow is reported, never clipped or silently carried."""
    beyond = {"float32": 89.0, "float64": 710.0}[dtype]  # exp(z) > max float for real
    model = identity_model(["exp"], loss, dtype, backend)
    X, y = extreme_X(beyond), targets(loss)
    # NumPy would warn on the overflow; the result is what is asserted here
    with np.errstate(over="ignore", invalid="ignore"):
        output = model.forward(X)
        assert np.all(np.isposinf(output[X == beyond]))
        assert np.all(np.isfinite(output[X != beyond]))
        assert model.loss(X, y) == np.inf
        before = [layer.W.copy() for layer in model.layers]
        with pytest.raises(DivergenceError, match="training diverged in epoch 1"):
            model.fit(X, y, epochs=2, batch_size=5)
    for layer, W in zip(model.layers, before):
        np.testing.assert_array_equal(layer.W, W)  # the non-finite step was not kept


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_poisson_is_exact_at_the_edge_of_exp(dtype, backend):
    """Logits form: exp(z) - y z at the edge of exp's range, not log of a clipped rate."""
    edge = EXP_EDGE[np.dtype(dtype)]
    model = identity_model(["exp"], "poisson", dtype, backend, k=1)
    # y = 0 at z = edge costs exp(edge); y = 1 at z = -edge costs exp(-edge) + edge - 1
    loss = model.loss([[edge], [-edge]], [0, 1])
    assert loss == pytest.approx((np.exp(edge) + np.exp(-edge) + edge - 1) / 2, rel=1e-6)
    [(dW, db)] = model.gradients([[edge], [-edge]], [0, 1])
    np.testing.assert_allclose(db, [(np.exp(edge) + np.exp(-edge) - 1) / 2], rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cross_entropies_are_exact_not_clipped(dtype, backend):
    """Logits form: a confidently wrong prediction costs its full margin, not a clipped log(eps)."""
    big = BIG[dtype]
    X = np.array([[big, -big]])
    softmax = identity_model(["softmax"], "cross_entropy", dtype, backend, k=2)
    # -log softmax(z)[1] = log(e^big + e^-big) + big = 2 big (to rounding)
    assert softmax.loss(X, [1]) == pytest.approx(2 * big, rel=1e-6)
    [(dW, db)] = softmax.gradients(X, [1])
    np.testing.assert_allclose(db, [1.0, -1.0], rtol=1e-6)  # softmax - onehot

    sigmoid = identity_model(["sigmoid"], "binary_cross_entropy", dtype, backend, k=1)
    # -log sigmoid(-big) = big + log1p(e^-big) = big
    assert sigmoid.loss([[-big]], [1]) == pytest.approx(big, rel=1e-6)
    [(dW, db)] = sigmoid.gradients([[-big]], [1])
    np.testing.assert_allclose(db, [-1.0], rtol=1e-6)  # sigmoid - y
