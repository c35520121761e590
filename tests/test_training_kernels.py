"""Optimizer, penalty and dropout kernels: cpu against the NumPy reference, and their own algebra."""

import re

import numba
import numpy as np
import pytest

from fastbp.kernels import cpu
from fastbp.kernels import reference as ref

DTYPES = [np.float64, np.float32]
RTOL = {np.float64: 1e-12, np.float32: 1e-5}


def _close(actual, expected, dtype):
    scale = max(np.abs(expected).max(), 1e-30)
    assert np.abs(actual - expected).max() <= RTOL[dtype] * scale


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_update_matches_reference(dtype, nesterov):
    rng = np.random.default_rng(0)
    theta, grad, velocity = (rng.standard_normal(257).astype(dtype) for _ in range(3))
    a = [theta.copy(), velocity.copy()]
    b = [theta.copy(), velocity.copy()]
    ref.sgd_update(a[0], grad, a[1], 0.05, 0.9, nesterov)
    cpu.sgd_update(b[0], grad, b[1], 0.05, 0.9, nesterov)
    for x, y in zip(b, a):
        assert x.dtype == dtype
        _close(x, y, dtype)
    # with no momentum both forms are plain gradient descent
    plain = theta.copy()
    cpu.sgd_update(plain, grad, np.zeros_like(theta), 0.05, 0.0, nesterov)
    _close(plain, theta - dtype(0.05) * grad, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_update_matches_reference_and_first_step_is_sign_sized(dtype):
    rng = np.random.default_rng(1)
    theta, grad = rng.standard_normal(300).astype(dtype), rng.standard_normal(300).astype(dtype)
    a = [theta.copy(), np.zeros_like(theta), np.zeros_like(theta)]
    b = [x.copy() for x in a]
    lr_t = ref.adam_learning_rate(0.01, 0.9, 0.999, 1)
    assert lr_t == pytest.approx(cpu.adam_learning_rate(0.01, 0.9, 0.999, 1), rel=1e-15)
    ref.adam_update(a[0], grad, a[1], a[2], lr_t, 0.9, 0.999, 1e-8)
    cpu.adam_update(b[0], grad, b[1], b[2], lr_t, 0.9, 0.999, 1e-8)
    for x, y in zip(b, a):
        _close(x, y, dtype)
    # Adam's first bias-corrected step, in closed form: lr * g / (|g| + eps / sqrt(1 - beta_2))
    g = grad.astype(np.float64)
    expected = 0.01 * g / (np.abs(g) + 1e-8 / np.sqrt(1 - 0.999))
    np.testing.assert_allclose(theta - b[0], expected, rtol=1e-9 if dtype == np.float64 else 1e-4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_penalty_kernels_match_reference_and_gradient(dtype):
    rng = np.random.default_rng(2)
    W = rng.standard_normal((13, 7)).astype(dtype)
    assert cpu.penalty_forward(W, 0.3, 0.2) == pytest.approx(ref.penalty_forward(W, 0.3, 0.2),
                                                             rel=1e-12)
    w64 = W.astype(np.float64)
    assert ref.penalty_forward(W, 0.3, 0.2) == pytest.approx(
        0.15 * (w64**2).sum() + 0.2 * np.abs(w64).sum(), rel=1e-12)
    dW_ref, dW_cpu = np.ones_like(W), np.ones_like(W)
    ref.penalty_backward(dW_ref, W, 0.3, 0.2)
    cpu.penalty_backward(dW_cpu, W, 0.3, 0.2)
    _close(dW_cpu, dW_ref, dtype)
    _close(dW_ref, 1 + dtype(0.3) * W + dtype(0.2) * np.sign(W), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_dropout_masks_identical_across_backends_and_have_the_right_rate(dtype, rate):
    rng = np.random.default_rng(3)
    out = rng.standard_normal((211, 97)).astype(dtype)
    masks, dropped = [np.empty_like(out) for _ in range(2)], [np.empty_like(out) for _ in range(2)]
    ref.dropout_forward(dropped[0], masks[0], out, rate, 1234, 7, 2)
    cpu.dropout_forward(dropped[1], masks[1], out, rate, 1234, 7, 2)
    np.testing.assert_array_equal(masks[0], masks[1])
    np.testing.assert_array_equal(dropped[0], dropped[1])
    kept = masks[0] != 0
    # binomial: the dropped fraction is within 5 standard deviations of the rate
    sd = np.sqrt(rate * (1 - rate) / out.size)
    assert abs((1 - kept.mean()) - rate) < 5 * sd
    np.testing.assert_array_equal(masks[0][kept], dtype(1 / (1 - rate)))
    np.testing.assert_array_equal(dropped[0], out * masks[0])
    # another step draws another mask
    other = np.empty_like(out)
    cpu.dropout_forward(np.empty_like(out), other, out, rate, 1234, 8, 2)
    assert (other != masks[0]).any()
    grad = np.ones_like(out)
    cpu.dropout_backward(grad, masks[0])
    np.testing.assert_array_equal(grad, masks[0])


# A float32 value widened to float64: element math done in double. (Scalar arguments arrive as
# double and are truncated to float once per call, which is what the kernels intend.)
_WIDENING = re.compile(r"= fpext float\b")


def _float32_llvm(kernel, *args):
    """LLVM IR of a fresh, uncached compile of ``kernel`` for these arguments (Numba does not
    inspect code loaded from its disk cache)."""
    fresh = numba.njit(kernel.py_func)
    fresh(*args)
    return fresh.inspect_llvm(fresh.signatures[0])


def _float32_args():
    v = [np.ones(5, np.float32) for _ in range(4)]
    M = [np.ones((3, 5), np.float32) for _ in range(2)]
    return {
        "sgd_update": (v[0], v[1], v[2], 0.1, 0.9, True),
        "adam_update": (v[0], v[1], v[2], v[3], 0.1, 0.9, 0.999, 1e-8),
        "penalty_backward": (M[0], M[1], 0.1, 0.2),
        "dropout_backward": (M[0], M[1]),
    }


@pytest.mark.parametrize("name", ["sgd_update", "adam_update", "penalty_backward",
                                  "dropout_backward"])
def test_float32_update_kernels_compute_in_float32(name):
    llvm = _float32_llvm(getattr(cpu, name), *_float32_args()[name])
    assert not _WIDENING.findall(llvm), f"{name} widens float32 values to float64"


def test_upcast_check_can_fail():
    def upcasting(theta, lr):
        for i in range(theta.size):
            theta[i] *= 0.1  # a float64 literal: promotes each element to double
    upcasting.py_func = upcasting
    assert _WIDENING.findall(_float32_llvm(upcasting, np.ones(4, np.float32), 0.1))
