"""The layer loop is written twice: host-driven in kernels/layer_loop.py (the reference and CUDA
epochs, ``Sequential``) and compiled in kernels/cpu/epoch.py. Both must compute the same batch
gradient: dropout on every hidden layer or none, penalties or none, and every loss (the
logits-form losses hand the output layer dL/dz, the others dL/da)."""

import numpy as np
import pytest

from fastbp.kernels import codes, cpu, layer_loop, reference
from fastbp.kernels.layout import parameter_offsets, parameter_views
from fastbp.kernels.records import Batches, Network, Penalty, SGDSettings, TrainingState
from helpers import REQUIRED_OUTPUT, random_targets

WIDTHS = (6, 9, 7, 4)
ROWS = 23


def _case(loss, dropout, penalty):
    rng = np.random.default_rng(list(codes.LOSS_CODES).index(loss))  # same data, any dropout
    output = REQUIRED_OUTPUT[loss] or "identity"
    network = Network(np.array(WIDTHS, np.int64),
                      np.array([codes.TANH, codes.GELU, codes.ACTIVATION_CODES[output]], np.int64),
                      np.array([dropout, dropout, 0.0]), codes.LOSS_CODES[loss])
    theta = rng.uniform(-0.4, 0.4, parameter_offsets(WIDTHS)[-1])
    X = rng.standard_normal((ROWS, WIDTHS[0]))
    Y = random_targets(rng, ROWS, WIDTHS[-1], loss, np.float64)
    weight = rng.uniform(0.5, 2.0, ROWS)
    return network, theta, X, Y, weight, Penalty(*penalty)


def _host_loop_gradient(kernels, case, key):
    """One batch's gradient (penalty included) by the host-driven loop over ``kernels``."""
    network, theta, X, Y, weight, penalty = case
    params = list(zip(*parameter_views(theta, WIDTHS)))
    gradient = np.empty_like(theta)
    buffers = layer_loop.LayerBuffers(kernels, network, ROWS, np.float64, training=True)
    inputs = layer_loop.forward(kernels, network, buffers, X, params, key)
    layer_loop.backward(kernels, network, buffers, inputs, params,
                        list(zip(*parameter_views(gradient, WIDTHS))),
                        (Y, weight / weight.sum()), (penalty.l2 / ROWS, penalty.l1 / ROWS))
    return gradient


def _compiled_gradient(case, key):
    """The gradient the compiled CPU epoch leaves behind after a one-batch epoch."""
    network, theta, X, Y, weight, penalty = case
    state = TrainingState(theta.copy(), np.empty_like(theta), np.zeros_like(theta),
                          np.zeros_like(theta))
    batches = Batches(X, Y, weight, np.arange(ROWS, dtype=np.int64), ROWS)
    cpu.train_epoch(state, network, batches, SGDSettings(1e-3, 0.0, False), penalty, key[0],
                    key[1])
    return state.gradient


@pytest.mark.parametrize("loss", list(codes.LOSS_CODES))
@pytest.mark.parametrize("dropout", [0.0, 0.3])
@pytest.mark.parametrize("penalty", [(0.0, 0.0), (0.2, 0.05)])
def test_the_compiled_loop_and_the_host_loop_give_the_same_gradient(loss, dropout, penalty):
    case = _case(loss, dropout, penalty)
    key = (11, 4)  # dropout seed and step: the compiled epoch's first batch uses this step
    host_reference = _host_loop_gradient(reference, case, key)
    host_cpu = _host_loop_gradient(cpu, case, key)
    compiled = _compiled_gradient(case, key)
    assert np.all(np.isfinite(host_reference)) and np.any(host_reference != 0)
    np.testing.assert_allclose(host_cpu, host_reference, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(compiled, host_reference, rtol=1e-12, atol=1e-14)


def test_dropout_reaches_the_gradient():
    """Guards the comparison above against a dropout that does nothing in both loops."""
    with_dropout = _host_loop_gradient(reference, _case("mse", 0.3, (0.0, 0.0)), (11, 4))
    without = _host_loop_gradient(reference, _case("mse", 0.0, (0.0, 0.0)), (11, 4))
    assert not np.allclose(with_dropout, without)
