"""The CPU epoch's L2-only penalty (``l2 != 0``, ``l1 == 0``): the branch that skips the L1 sums,
taken by every fit with ``alpha`` and no ``l1`` (the estimators' default).

Against a hand computation (a layer whose inputs are all zero, so that its weights' gradient is the
penalty's alone: one SGD step scales ``W`` by ``1 - lr * l2 / m`` and the batch loss gains
``l2 / (2 m) * ||W||^2``), and against the NumPy reference's epoch on a network where the penalty
is large enough to matter, with each optimizer, in float64 and float32.
"""

import numpy as np
import pytest
from helpers import epoch_arguments

import fastbp
from fastbp.kernels import codes, cpu, reference
from fastbp.kernels.layout import parameter_offsets, parameter_views

L2 = 0.75


def _zero_input_case(dtype, m=8, n_in=3, n_out=2):
    """One identity layer, ``m`` rows of zeros, targets ``Y``: a single full batch."""
    rng = np.random.default_rng(5)
    widths = np.array([n_in, n_out])
    theta = rng.uniform(-1.0, 1.0, parameter_offsets(widths)[-1]).astype(dtype)
    return dict(
        parameters=theta, gradient=np.zeros_like(theta), moment_1=np.zeros_like(theta),
        moment_2=np.zeros_like(theta), widths=widths,
        activations=np.array([codes.ACTIVATION_CODES["identity"]]), dropout=np.zeros(1),
        loss=codes.LOSS_CODES["squared_error"], X=np.zeros((m, n_in), dtype),
        Y=rng.standard_normal((m, n_out)).astype(dtype), sample_weight=np.ones(m, dtype),
        order=np.arange(m), batch_size=m, optimizer=codes.SGD, lr=0.1, momentum=0.0,
        nesterov=False, beta_1=0.9, beta_2=0.999, epsilon=1e-8, l2=L2, l1=0.0,
        dropout_seed=0, steps_taken=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_l2_only_step_by_hand(dtype):
    case = _zero_input_case(dtype)
    Ws, bs = parameter_views(case["parameters"], case["widths"])
    W0, b0 = Ws[0].astype(np.float64), bs[0].astype(np.float64)
    m, lr, Y = case["batch_size"], case["lr"], case["Y"].astype(np.float64)
    with cpu.training_session():
        loss, steps = cpu.train_epoch(*epoch_arguments(case))
    W, b = (views[0] for views in parameter_views(case["parameters"], case["widths"]))
    # the output is b on every row: squared_error is half the mean of (b - y)^2 over rows and
    # outputs; the penalty of the batch is l2 / (2 m) * ||W||^2
    expected_loss = 0.5 * np.mean((b0 - Y) ** 2) + L2 / (2 * m) * np.sum(W0 ** 2)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert steps == 1
    assert loss == pytest.approx(expected_loss, rel=rtol)
    # W's data gradient is x^T delta = 0: its step is the penalty's, lr * (l2 / m) * W
    np.testing.assert_allclose(W, W0 * (1 - lr * L2 / m), rtol=rtol)
    # b takes no penalty: the mean of (b - y) over rows, divided by the outputs
    np.testing.assert_allclose(b, b0 - lr * np.mean(b0 - Y, axis=0) / Y.shape[1], rtol=rtol)


NETWORK = np.array([4, 9, 6, 3])


def _network_case(dtype, optimizer):
    rng = np.random.default_rng(11)
    theta = rng.uniform(-0.6, 0.6, parameter_offsets(NETWORK)[-1]).astype(dtype)
    n = 3 * 16 + 5
    code, lr, momentum = {"sgd": (codes.SGD, 0.05, 0.9), "adam": (codes.ADAM, 0.01, 0.0)}[optimizer]
    return dict(
        parameters=theta, gradient=np.zeros_like(theta), moment_1=np.zeros_like(theta),
        moment_2=np.zeros_like(theta), widths=NETWORK,
        activations=np.array([codes.ACTIVATION_CODES[a] for a in ("tanh", "relu", "softmax")]),
        dropout=np.zeros(3), loss=codes.LOSS_CODES["cross_entropy"],
        X=rng.standard_normal((n, NETWORK[0])).astype(dtype),
        Y=np.eye(NETWORK[-1], dtype=dtype)[rng.integers(0, NETWORK[-1], n)],
        sample_weight=rng.uniform(0.5, 2.0, n).astype(dtype), order=rng.permutation(n),
        batch_size=16, optimizer=code, lr=lr, momentum=momentum, nesterov=True, beta_1=0.9,
        beta_2=0.999, epsilon=1e-8, l2=L2, l1=0.0, dropout_seed=3, steps_taken=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_l2_only_epochs_match_the_reference(optimizer, dtype):
    ours, theirs = _network_case(dtype, optimizer), _network_case(dtype, optimizer)
    plain = _network_case(dtype, optimizer)
    plain["l2"] = 0.0
    with cpu.training_session():
        for _ in range(3):
            loss, ours["steps_taken"] = cpu.train_epoch(*epoch_arguments(ours))
            expected, theirs["steps_taken"] = reference.train_epoch(*epoch_arguments(theirs))
            unpenalised, plain["steps_taken"] = cpu.train_epoch(*epoch_arguments(plain))
            rtol = 1e-9 if dtype == np.float64 else 2e-4
            assert loss == pytest.approx(expected, rel=rtol)
    atol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(ours["parameters"], theirs["parameters"], rtol=rtol, atol=atol)
    np.testing.assert_allclose(ours["moment_1"], theirs["moment_1"], rtol=rtol, atol=atol)
    # the penalty mattered: without it the weights end elsewhere, by far more than the tolerance
    gap = np.max(np.abs(plain["parameters"] - ours["parameters"]))
    assert gap > 100 * atol + 0.01


@pytest.mark.parametrize("backend", ["cpu", "numpy"])
def test_alpha_without_l1_through_fit_by_hand(backend):
    """The same hand case through ``Sequential.fit(alpha=...)``: the public path to the branch."""
    m, lr = 8, 0.1
    model = fastbp.Sequential([fastbp.Dense(3, 2)], dtype="float64", backend=backend, seed=0)
    W0, b0 = model.layers[0].W.copy(), model.layers[0].b.copy()
    Y = np.random.default_rng(2).standard_normal((m, 2))
    history = model.fit(np.zeros((m, 3)), Y, epochs=1, batch_size=None, shuffle=False,
                        optimizer=fastbp.SGD(lr, momentum=0.0), alpha=L2, l1=0.0)
    np.testing.assert_allclose(model.layers[0].W, W0 * (1 - lr * L2 / m), rtol=1e-12)
    assert history.loss[0] == pytest.approx(
        0.5 * np.mean((b0 - Y) ** 2) + L2 / (2 * m) * np.sum(W0 ** 2), rel=1e-12)
