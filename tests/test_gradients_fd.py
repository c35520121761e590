"""Backpropagation agrees with central finite differences, the independent oracle of the chain.

``model.gradients`` (one forward and one backward pass) against ``model.numerical_gradients`` (two
loss evaluations per parameter) in float64, to ``rtol 1e-6`` of each gradient array's largest
magnitude, for every activation in hidden and output positions, every loss, 1 to 4 layers and both
backends. Widths stay small so the N x P finite differences are quick.
"""

import numpy as np
import pytest

import fastbp
from helpers import (
    ACTIVATIONS,
    BACKENDS,
    HIDDEN_ACTIVATIONS,
    LOSSES,
    assert_gradients_close,
    output_activation,
    random_targets,
)

RTOL = 1e-6
EPS = 1e-6
WIDTHS = (3, 5, 4, 3, 3)  # n_in, then the widths of up to four layers
N_SAMPLES = 7

# The finite differences move each pre-activation by at most EPS * max|input| (a few 1e-6); a
# ReLU-family unit closer than this to its kink would make the difference quotient meaningless.
KINK_MARGIN = 1e-4


def _init(activation):
    """The initialiser a layer is drawn with here, pinned rather than the library's default so that
    a change of default cannot shrink the weights until a gradient through four saturating layers
    is too small for its finite difference: He for the ReLU family and sigmoid (close to the
    scales these cases were first written with), Glorot otherwise."""
    return ("he_uniform" if activation in ("relu", "leaky_relu", "elu", "gelu", "sigmoid")
            else "glorot_uniform")


def build(hidden, output, loss, n_layers, backend, seed):
    """A float64 network of ``n_layers`` layers: ``hidden`` activations, then ``output``."""
    layers = [fastbp.Dense(WIDTHS[i], WIDTHS[i + 1], hidden, init=_init(hidden))
              for i in range(n_layers - 1)]
    layers.append(fastbp.Dense(WIDTHS[n_layers - 1], WIDTHS[n_layers], output,
                               init=_init(output)))
    return fastbp.Sequential(layers, loss=loss, dtype="float64", backend=backend, seed=seed)


def data(loss, n_outputs, seed, hard):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.5, 1.5, (N_SAMPLES, WIDTHS[0]))
    if loss == "cross_entropy" and hard:
        return X, rng.integers(0, n_outputs, N_SAMPLES)  # integer labels
    return X, random_targets(rng, N_SAMPLES, n_outputs, loss, np.float64, hard)


def _min_abs_z(model, X):
    """The smallest ``|z|`` of any unit on ``X``, recomputed layer by layer through the model."""
    smallest, a = np.inf, np.asarray(X, np.float64)
    for layer in model.layers:
        z = a @ layer.W + layer.b
        smallest = min(smallest, float(np.abs(z).min()))
        # the next layer's input is this layer's output, taken from a one-layer copy of the model
        single = fastbp.Sequential([fastbp.Dense(layer.n_in, layer.n_out, layer.activation)],
                                   dtype="float64", backend="numpy")
        single.layers[0].W, single.layers[0].b = layer.W, layer.b
        a = single.forward(a)
    return smallest


def check(model, X, y, sample_weight=None):
    if {"relu", "leaky_relu"} & {layer.activation for layer in model.layers}:
        margin = _min_abs_z(model, X)
        assert margin > KINK_MARGIN, f"bad test data: a unit sits {margin:.1e} from its kink"
    backprop = model.gradients(X, y, sample_weight=sample_weight)
    numerical = model.numerical_gradients(X, y, eps=EPS, sample_weight=sample_weight)
    assert_gradients_close(backprop, numerical, RTOL)


def hidden_cases():
    """Every hidden activation under every loss, on 2 to 4 layers."""
    for hidden in HIDDEN_ACTIVATIONS:
        for loss in LOSSES:
            for n_layers in (2, 3, 4):
                yield pytest.param(hidden, output_activation(loss, "identity"), loss, n_layers,
                                   id=f"{hidden}-{loss}-{n_layers}layers")


def output_cases():
    """Every activation the loss allows in the output position, on 1 and 2 layers."""
    for loss in LOSSES:
        for output in ACTIVATIONS:
            if output_activation(loss, output) != output:
                continue
            for n_layers in (1, 2):
                yield pytest.param("tanh", output, loss, n_layers,
                                   id=f"{output}-output-{loss}-{n_layers}layers")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("hidden, output, loss, n_layers", [*hidden_cases(), *output_cases()])
def test_backprop_matches_finite_differences(hidden, output, loss, n_layers, backend):
    model = build(hidden, output, loss, n_layers, backend, seed=n_layers)
    for hard in (True, False):
        X, y = data(loss, model.n_outputs, seed=10 * n_layers + hard, hard=hard)
        check(model, X, y)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("loss", LOSSES)
def test_backprop_matches_finite_differences_with_sample_weight(loss, backend):
    model = build("elu", output_activation(loss, "softplus"), loss, 3, backend, seed=3)
    X, y = data(loss, model.n_outputs, seed=4, hard=False)
    weights = np.random.default_rng(5).uniform(0.0, 3.0, N_SAMPLES)
    check(model, X, y, sample_weight=weights)
    # the weights matter: the weighted gradients differ from the unweighted ones
    plain, weighted = model.gradients(X, y), model.gradients(X, y, sample_weight=weights)
    assert not np.allclose(plain[0][0], weighted[0][0], rtol=1e-3, atol=0)
