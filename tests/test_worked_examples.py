"""The hand-computed cases of ``docs/worked-examples.md`` (1 to 6 and 8), on the public API.

Numbers are the ones stated there; every case runs in float64 on both backends. Case 7 (learning
rates and divergence) needs the training loop and is tested with it.
"""

import math

import numpy as np
import pytest

import fastbp
from helpers import BACKENDS

pytestmark = pytest.mark.parametrize("backend", BACKENDS)

EXACT = dict(rtol=1e-14, atol=1e-14)  # the arithmetic of cases 1 and 2 is exact up to rounding


def model_with(params, activations, loss, backend):
    """A float64 model whose layer ``i`` has the given ``(W, b)`` and activation."""
    layers = [fastbp.Dense(np.shape(W)[0], np.shape(W)[1], act)
              for (W, _), act in zip(params, activations)]
    model = fastbp.Sequential(layers, loss=loss, dtype="float64", backend=backend, seed=0)
    for layer, (W, b) in zip(model.layers, params):
        layer.W, layer.b = W, b
    return model


def test_case1_one_neuron_converges_in_one_step(backend):
    model = model_with([([[0.0]], [0.0])], ["identity"], "squared_error", backend)
    X, y = [[1.0]], [2.0]
    np.testing.assert_allclose(model.forward(X), [[0.0]], **EXACT)
    assert model.loss(X, y) == pytest.approx(2.0, rel=1e-15)

    [(dW, db)] = model.gradients(X, y)
    np.testing.assert_allclose(dW, [[-2.0]], **EXACT)
    np.testing.assert_allclose(db, [-2.0], **EXACT)

    assert model.step(X, y, lr=0.5) == pytest.approx(2.0, rel=1e-15)  # the loss before the step
    np.testing.assert_allclose(model.layers[0].W, [[1.0]], **EXACT)
    np.testing.assert_allclose(model.layers[0].b, [1.0], **EXACT)
    np.testing.assert_allclose(model.forward(X), [[2.0]], **EXACT)
    assert model.loss(X, y) == pytest.approx(0.0, abs=1e-15)


def test_case2_two_identity_layers_one_step(backend):
    model = model_with([([[2.0]], [0.0]), ([[3.0]], [1.0])], ["identity", "identity"],
                       "squared_error", backend)
    X, y = [[1.0]], [[5.0]]
    np.testing.assert_allclose(model.forward(X), [[7.0]], **EXACT)  # a1 = 2, a2 = 7
    assert model.loss(X, y) == pytest.approx(2.0, rel=1e-15)

    (dW1, db1), (dW2, db2) = model.gradients(X, y)
    np.testing.assert_allclose(db2, [2.0], **EXACT)
    np.testing.assert_allclose(dW2, [[4.0]], **EXACT)
    # the chain rule through w2 = 3 gives 6 (the source's summary line misprints 4)
    np.testing.assert_allclose(db1, [6.0], **EXACT)
    np.testing.assert_allclose(dW1, [[6.0]], **EXACT)

    model.step(X, y, lr=0.1)
    first, second = model.layers
    np.testing.assert_allclose(first.W, [[1.4]], **EXACT)
    np.testing.assert_allclose(first.b, [-0.6], **EXACT)
    np.testing.assert_allclose(second.W, [[2.6]], **EXACT)
    np.testing.assert_allclose(second.b, [0.8], **EXACT)


HIDDEN_W = [[0.3], [0.4]]
OUTPUT_W = [[0.5]]


def test_case3_sigmoid_2_1_1_forward(backend):
    X = [[1.0, 0.0]]
    hidden = model_with([(HIDDEN_W, [0.0])], ["sigmoid"], "squared_error", backend)
    np.testing.assert_allclose(hidden.forward(X), [[0.574442516811659]], rtol=1e-14)
    net = model_with([(HIDDEN_W, [0.0]), (OUTPUT_W, [0.0])], ["sigmoid", "sigmoid"],
                     "squared_error", backend)
    np.testing.assert_allclose(net.forward(X), [[0.571315715296459]], rtol=1e-14)


@pytest.mark.parametrize("loss", ["squared_error", "binary_cross_entropy"])
@pytest.mark.parametrize("lr", [1e-3, 0.1, 1.0, 10.0, 100.0])
def test_case3_one_step_lowers_the_loss(backend, lr, loss):
    # With x >= 0, target 1 and w2 > 0 every gradient component is negative, so a step of any
    # size moves every parameter the way that raises y_hat towards 1.
    X, y = [[1.0, 0.0]], [1.0]
    net = model_with([(HIDDEN_W, [0.0]), (OUTPUT_W, [0.0])], ["sigmoid", "sigmoid"], loss,
                     backend)
    before = net.loss(X, y)
    assert net.step(X, y, lr) == before  # step returns the loss before it
    after = net.loss(X, y)
    assert after < before, f"lr={lr}: loss {before} -> {after}"


def test_case4_one_sigmoid_neuron(backend):
    X = [[0.5]]
    weighted_sum = model_with([([[0.8]], [0.2])], ["identity"], "squared_error", backend)
    np.testing.assert_allclose(weighted_sum.forward(X), [[0.6]], rtol=1e-15)
    neuron = model_with([([[0.8]], [0.2])], ["sigmoid"], "squared_error", backend)
    output = neuron.forward(X)[0, 0]
    assert output == pytest.approx(0.6457, abs=5e-5)
    assert output == pytest.approx(1 / (1 + math.exp(-0.6)), rel=1e-15)


XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0])


def train_on_xor(layers, backend, seed, steps=500, lr=1.0):
    model = fastbp.Sequential(layers, loss="binary_cross_entropy", dtype="float64",
                              backend=backend, seed=seed)
    first = model.step(XOR_X, XOR_Y, lr)
    for _ in range(steps - 1):
        last = model.step(XOR_X, XOR_Y, lr)
    assert last < first, "gradient descent did not lower the loss"
    return (model.forward(XOR_X)[:, 0] > 0.5).astype(int)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_case5_xor_single_unit_fails(backend, seed):
    predicted = train_on_xor([fastbp.Dense(2, 1, "sigmoid")], backend, seed)
    assert np.sum(predicted == XOR_Y) < 4


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh"])
def test_case5_xor_hidden_layer_succeeds(backend, hidden):
    layers = [fastbp.Dense(2, 4, hidden), fastbp.Dense(4, 1, "sigmoid")]
    np.testing.assert_array_equal(train_on_xor(layers, backend, seed=0), XOR_Y)


def test_case6_linear_regression_by_gradient_descent(backend):
    rng = np.random.default_rng(42)
    X = rng.standard_normal((100, 1))
    y = 2 * X + 0.5 + 0.1 * rng.standard_normal((100, 1))
    model = fastbp.Sequential([fastbp.Dense(1, 1, "identity")], loss="squared_error",
                              dtype="float64", backend=backend, seed=0)
    w, b = model.layers[0].W[0, 0], model.layers[0].b[0]
    for _ in range(100):
        model.step(X, y, lr=0.1)
        # the same descent written out by hand: d/dw of mean(1/2 (wx + b - y)^2) is mean(r x)
        r = w * X[:, 0] + b - y[:, 0]
        w, b = w - 0.1 * np.mean(r * X[:, 0]), b - 0.1 * np.mean(r)
    learned_w, learned_b = model.layers[0].W[0, 0], model.layers[0].b[0]
    assert abs(learned_w - 2.0) < 0.05, f"w = {learned_w}"
    assert abs(learned_b - 0.5) < 0.05, f"b = {learned_b}"
    assert learned_w == pytest.approx(w, rel=1e-12) and learned_b == pytest.approx(b, rel=1e-12)


def test_case8_parameter_counts(backend, capsys):
    layer = fastbp.Dense(784, 128, "relu")
    assert layer.n_params == 784 * 128 + 128 == 100_480
    model = fastbp.Sequential([layer, fastbp.Dense(128, 10, "softmax")], loss="cross_entropy",
                              backend=backend, seed=0)
    assert model.n_params == 100_480 + 128 * 10 + 10 == 101_770
    assert sum(W.size + b.size for W, b in ((l.W, l.b) for l in model.layers)) == model.n_params

    model.summary()
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    first = next(line for line in lines if "784 -> 128" in line)
    second = next(line for line in lines if "128 -> 10" in line)
    total = next(line for line in lines if line.startswith("Total params"))
    assert first.split()[-1] == "100,480"
    assert second.split()[-1] == "1,290"
    assert "101,770" in total
