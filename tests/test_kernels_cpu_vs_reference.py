"""The Numba CPU kernels agree with the NumPy reference kernels.

Shapes come from hypothesis (batch and widths 1 to 300, with 1 and primes always reachable) and so
do the memory layouts of the inputs (C order, Fortran order, and strided views whose skipped
elements are NaN, so reading through the wrong strides shows). The data is drawn from a NumPy
generator seeded by hypothesis: continuous random values, never adversarial floats. Agreement is
``max|cpu - reference| <= rtol * scale`` with rtol 1e-12 in float64 and 1e-5 in float32. The scale
is ``max|reference|`` for elementwise results; for the sums (``x @ W + b``, ``x.T @ delta``,
``delta @ W.T``, the column sums of ``delta``) it is the largest sum of the terms' magnitudes, since
the terms may cancel to a result far smaller than they are. The activation epilogue is then checked
elementwise on the pre-activation the CPU kernel itself computed.
"""

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastbp.kernels import codes, cpu, reference
from helpers import (
    ACTIVATIONS,
    DTYPES,
    KERNEL_SETTINGS,
    LOSSES,
    assert_close,
    kernel_rtol,
    needs_sklearn,
    normalised_weights,
    random_targets,
    sum_magnitude,
)

# 1, small and large primes, the upper bound, and everything else in range
SIZES = st.one_of(st.sampled_from([1, 2, 3, 5, 7, 13, 31, 61, 127, 251, 293, 300]),
                  st.integers(1, 300))
SEEDS = st.integers(0, 2**32 - 1)


def with_layout(a, layout):
    """``a`` (2D) as a C array, a Fortran array, or a strided view into a NaN-padded array."""
    if layout == "C":
        return np.ascontiguousarray(a)
    if layout == "F":
        return np.asfortranarray(a)
    assert layout == "strided"
    big = np.full((a.shape[0], 2 * a.shape[1]), np.nan, a.dtype)
    view = big[:, ::2]
    view[...] = a
    return view


def nan_buffer(shape, dtype):
    """An output buffer whose stale contents would poison any result that reads them."""
    return np.full(shape, np.nan, dtype)


@dataclass
class DenseProblem:
    n: int
    n_in: int
    n_out: int
    x_layout: str
    W_layout: str
    seed: int

    def inputs(self, dtype):
        """``x (n, n_in)``, ``W (n_in, n_out)``, ``b (n_out,)`` in the drawn layouts."""
        rng = np.random.default_rng(self.seed)
        x = rng.standard_normal((self.n, self.n_in)).astype(dtype)
        W = (rng.standard_normal((self.n_in, self.n_out)) / np.sqrt(self.n_in)).astype(dtype)
        b = rng.standard_normal(self.n_out).astype(dtype)
        return with_layout(x, self.x_layout), with_layout(W, self.W_layout), b


@st.composite
def dense_problems(draw):
    return DenseProblem(draw(SIZES), draw(SIZES), draw(SIZES),
                        draw(st.sampled_from(["C", "F", "strided"])),
                        draw(st.sampled_from(["C", "F"])), draw(SEEDS))


def reference_forward(x, W, b, activation):
    """``(out, pre)`` of the reference kernel, in separate buffers."""
    n, n_out = x.shape[0], W.shape[1]
    out, pre = nan_buffer((n, n_out), x.dtype), nan_buffer((n, n_out), x.dtype)
    reference.dense_forward(out, pre, x, W, b, activation)
    return out, pre


def assert_unchanged(arrays, copies):
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c, err_msg="a kernel wrote to one of its inputs")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@KERNEL_SETTINGS
@given(problem=dense_problems())
def test_dense_forward(activation, dtype, problem):
    code = codes.ACTIVATION_CODES[activation]
    x, W, b = problem.inputs(dtype)
    copies = [a.copy() for a in (x, W, b)]
    _, expected_pre = reference_forward(x, W, b, code)

    out = nan_buffer(expected_pre.shape, dtype)
    pre = nan_buffer(expected_pre.shape, dtype)
    cpu.dense_forward(out, pre, x, W, b, code)

    rtol = kernel_rtol(dtype)
    assert_close(pre, expected_pre, rtol, "pre", magnitude=sum_magnitude(x, W, b))
    expected_out = nan_buffer(pre.shape, dtype)
    reference.activation_forward(expected_out, pre, code)
    assert_close(out, expected_out, rtol, "out")
    assert_unchanged((x, W, b), copies)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@KERNEL_SETTINGS
@given(problem=dense_problems(), with_dx=st.booleans())
def test_dense_backward(activation, dtype, problem, with_dx):
    code = codes.ACTIVATION_CODES[activation]
    x, W, b = problem.inputs(dtype)
    # both backends backpropagate through the same saved forward pass
    out, pre = reference_forward(x, W, b, code)
    grad = np.random.default_rng(problem.seed + 1).standard_normal(out.shape).astype(dtype)
    copies = [a.copy() for a in (x, W, out, pre)]

    def run(kernels):
        dx = nan_buffer(x.shape, dtype) if with_dx else None
        dW, db = nan_buffer(W.shape, dtype), nan_buffer(b.shape, dtype)
        delta = grad.copy()
        kernels.dense_backward(dx, dW, db, delta, x, W, out, pre, code)
        return dx, dW, db, delta

    dx, dW, db, delta = run(cpu)
    e_dx, e_dW, e_db, e_delta = run(reference)

    rtol = kernel_rtol(dtype)
    assert_close(delta, e_delta, rtol, "delta (grad overwritten in place)")
    assert_close(dW, e_dW, rtol, "dW", magnitude=sum_magnitude(x.T, e_delta))
    assert_close(db, e_db, rtol, "db", magnitude=sum_magnitude(np.ones(len(x)), e_delta))
    if with_dx:
        assert_close(dx, e_dx, rtol, "dx", magnitude=sum_magnitude(e_delta, W.T))
    assert_unchanged((x, W, out, pre), copies)


@dataclass
class LossProblem:
    n: int
    k: int
    activation: str  # output activation for the regression losses
    scale: float  # spread of the pre-activations
    hard_targets: bool
    y_layout: str
    strided_weight: bool
    pre_is_out: bool  # the regression losses never read pre, so callers may alias it to out
    seed: int


@st.composite
def loss_problems(draw):
    return LossProblem(draw(SIZES), draw(SIZES), draw(st.sampled_from(ACTIVATIONS)),
                       draw(st.sampled_from([0.1, 1.0, 10.0])), draw(st.booleans()),
                       draw(st.sampled_from(["C", "F"])), draw(st.booleans()),
                       draw(st.booleans()), draw(SEEDS))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", LOSSES)
@KERNEL_SETTINGS
@given(problem=loss_problems())
def test_loss_forward_and_backward(loss, dtype, problem):
    loss_code = codes.LOSS_CODES[loss]
    logits_form = loss_code in codes.LOGIT_LOSSES
    activation = (codes.LOGIT_LOSS_ACTIVATION[loss_code] if logits_form
                  else codes.ACTIVATION_CODES[problem.activation])
    rng = np.random.default_rng(problem.seed)
    n, k = problem.n, problem.k
    scale = problem.scale
    if activation == codes.EXP and not logits_form:
        # exp(45)^2 is beyond float32: keep a squared exp output finite (poisson takes exp(45))
        scale = min(scale, 1.0)
    pre = (scale * rng.standard_normal((n, k))).astype(dtype)
    out = np.empty_like(pre)
    reference.activation_forward(out, pre, activation)
    if problem.pre_is_out and not logits_form:
        pre = out
    y = with_layout(random_targets(rng, n, k, loss, dtype, problem.hard_targets),
                    problem.y_layout)
    weight = normalised_weights(rng, n, dtype)
    if problem.strided_weight:
        weight = np.repeat(weight, 2)[::2]

    value = cpu.loss_forward(pre, out, y, weight, loss_code)
    expected_value = reference.loss_forward(pre, out, y, weight, loss_code)
    assert isinstance(value, float)
    rtol = kernel_rtol(dtype)
    assert_close(value, expected_value, rtol, f"{loss} value")

    grad, expected_grad = nan_buffer((n, k), dtype), nan_buffer((n, k), dtype)
    cpu.loss_backward(grad, pre, out, y, weight, loss_code)
    reference.loss_backward(expected_grad, pre, out, y, weight, loss_code)
    assert_close(grad, expected_grad, rtol, f"{loss} gradient")


@needs_sklearn("1.7", "the Poisson loss of scikit-learn's MLPs")
@pytest.mark.parametrize("kernels", [reference, cpu], ids=["reference", "cpu"])
@pytest.mark.parametrize("hard", [True, False], ids=["counts", "reals"])
def test_poisson_loss_is_sklearns(kernels, hard):
    """The poisson kernel, fed z = log(rate), gives scikit-learn's value for the rates exp(z).

    scikit-learn's half Poisson deviance is the independent oracle here (mean over samples with
    sample weights, sum over outputs); zeros among the targets exercise its xlogy(0, .) = 0.
    """
    from sklearn.neural_network._base import LOSS_FUNCTIONS

    rng = np.random.default_rng(11 + hard)
    n, k = 40, 3
    pre = rng.uniform(-3.0, 3.0, (n, k))
    out = np.empty_like(pre)
    kernels.activation_forward(out, pre, codes.EXP)
    np.testing.assert_allclose(out, np.exp(pre), rtol=1e-15)
    y = random_targets(rng, n, k, "poisson", np.float64, hard)
    assert np.any(y == 0) if hard else np.all(y > 0)
    sample_weight = rng.uniform(0.1, 3.0, n)
    expected = LOSS_FUNCTIONS["poisson"](y, np.exp(pre), sample_weight)
    value = kernels.loss_forward(pre, out, y, sample_weight / sample_weight.sum(), codes.POISSON)
    assert value == pytest.approx(expected, rel=1e-12)
    # and the fused gradient dL/dz is scikit-learn's output delta (y_pred - y), times the weight
    grad = nan_buffer((n, k), np.float64)
    kernels.loss_backward(grad, pre, out, y, sample_weight / sample_weight.sum(), codes.POISSON)
    expected_grad = (np.exp(pre) - y) * (sample_weight / sample_weight.sum())[:, None]
    assert_close(grad, expected_grad, 1e-14, "poisson gradient")


@pytest.mark.parametrize("kernels", [reference, cpu], ids=["reference", "cpu"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_pre_may_alias_out(kernels, activation, dtype):
    """``pre is out`` gives bit-for-bit what a separate ``pre`` buffer gives (kernels/__init__)."""
    code = codes.ACTIVATION_CODES[activation]
    x, W, b = DenseProblem(37, 29, 23, "C", "C", seed=7).inputs(dtype)
    out, pre = nan_buffer((37, 23), dtype), nan_buffer((37, 23), dtype)
    kernels.dense_forward(out, pre, x, W, b, code)
    aliased = nan_buffer((37, 23), dtype)
    kernels.dense_forward(aliased, aliased, x, W, b, code)
    np.testing.assert_array_equal(aliased, out)

    if code in codes.NEEDS_PREACTIVATION:
        return  # GELU's derivative reads z: its callers never alias pre to out in backward
    grad = np.random.default_rng(8).standard_normal(out.shape).astype(dtype)
    results = []
    for saved_pre in (pre, aliased):
        dx, dW, db = np.empty_like(x), np.empty_like(W), np.empty_like(b)
        delta = grad.copy()
        kernels.dense_backward(dx, dW, db, delta, x, W, aliased, saved_pre, code)
        results.append((dx, dW, db, delta))
    for separate, alias in zip(*results):
        np.testing.assert_array_equal(alias, separate)
