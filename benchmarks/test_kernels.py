"""The Numba CPU dense kernels against the NumPy reference kernels, at three sizes (float32).

pytest-benchmark times ``fastbp.kernels.cpu``; the reference is timed in the same process (median
of repeated ``timeit`` runs) and ``extra_info['speedup_vs_reference']`` holds reference / cpu. The
JIT is warmed before the timed region, and each result is checked against the reference.
Run: ``pytest benchmarks/test_kernels.py --benchmark-only --benchmark-json=...``; with
``--benchmark-disable`` each case runs once, as a smoke test.
"""

import timeit

import numpy as np
import pytest

from fastbp.kernels import codes, cpu, reference

SIZES = [(64, 64, 64), (256, 256, 256), (1024, 1024, 1024)]  # (batch, n_in, n_out)
DTYPE = np.float32
ACTIVATION = "relu"  # a hidden layer's usual activation: its pre aliases out, as in a model
RTOL = 1e-5  # float32 agreement with the reference, relative to the largest magnitude


def _problem(n, n_in, n_out):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, n_in)).astype(DTYPE)
    W = (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(DTYPE)
    b = rng.standard_normal(n_out).astype(DTYPE)
    grad = rng.standard_normal((n, n_out)).astype(DTYPE)
    return x, W, b, grad


def _forward_call(kernels, n, n_in, n_out):
    """A no-argument call of ``kernels.dense_forward`` and the buffer it writes."""
    x, W, b, _ = _problem(n, n_in, n_out)
    out = np.empty((n, n_out), DTYPE)
    code = codes.ACTIVATION_CODES[ACTIVATION]
    return (lambda: kernels.dense_forward(out, out, x, W, b, code)), (out,)


def _backward_call(kernels, n, n_in, n_out):
    """A no-argument call of ``kernels.dense_backward`` (with dx) and the buffers it writes.

    The incoming gradient is overwritten with ``grad * relu'``, which a repeated call leaves as it
    is (the mask is 0 or 1), so every timed call does the same work on the same values.
    """
    x, W, b, grad = _problem(n, n_in, n_out)
    code = codes.ACTIVATION_CODES[ACTIVATION]
    out = np.empty((n, n_out), DTYPE)
    reference.dense_forward(out, out, x, W, b, code)
    dx, dW, db = np.empty_like(x), np.empty_like(W), np.empty_like(b)
    return (lambda: kernels.dense_backward(dx, dW, db, grad, x, W, out, out, code)), (dx, dW, db,
                                                                                      grad)


CALLS = {"dense_forward": _forward_call, "dense_backward": _backward_call}


def _median_seconds(fn, repeat=7):
    """Median seconds per call over ``repeat`` timeit runs of at least 0.2 s each."""
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    return float(np.median(timer.repeat(repeat=repeat, number=number))) / number


def _assert_close(actual, expected, what):
    error = float(np.max(np.abs(actual.astype(np.float64) - expected)))
    scale = max(1e-300, float(np.max(np.abs(expected))))
    assert error <= RTOL * scale, f"{what}: max|cpu - ref| = {error:.3g} > {RTOL} * {scale:.3g}"


@pytest.mark.parametrize("size", SIZES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("op", list(CALLS))
def test_cpu_kernel_vs_reference(benchmark, op, size):
    n, n_in, n_out = size
    benchmark.group = f"{op} {n}x{n_in}x{n_out}"
    benchmark.extra_info.update(op=op, batch=n, n_in=n_in, n_out=n_out,
                                dtype=np.dtype(DTYPE).name, activation=ACTIVATION,
                                baseline="fastbp.kernels.reference (NumPy)")
    cpu_call, cpu_outputs = CALLS[op](cpu, n, n_in, n_out)
    ref_call, ref_outputs = CALLS[op](reference, n, n_in, n_out)
    cpu_call()  # compile (or load from the disk cache) outside the timed region

    benchmark(cpu_call)

    ref_call()
    for actual, expected in zip(cpu_outputs, ref_outputs):
        _assert_close(actual, expected, op)
    if benchmark.disabled:  # --benchmark-disable: a smoke run, nothing to compare timings with
        return
    reference_s = _median_seconds(ref_call)
    cpu_s = benchmark.stats.stats.median
    benchmark.extra_info.update(reference_s=reference_s, cpu_s=cpu_s,
                                speedup_vs_reference=reference_s / cpu_s)
    print(f"\n{op} {n}x{n_in}x{n_out}: reference {reference_s * 1e6:.1f} us, cpu "
          f"{cpu_s * 1e6:.1f} us, speedup {reference_s / cpu_s:.2f}")
