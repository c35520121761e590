"""Gradient cost: backpropagation (about N + P steps) against finite differences (about N x P).

For every network of the profile's P sweep and N sweep
(:func:`fastbp.studies.gradient_cost.cases`), one
benchmark each times one forward pass, ``Sequential.gradients`` and
``Sequential.numerical_gradients`` on the CPU backend in float64, kernels compiled beforehand. Each
checks its result inside the benchmark: the two gradients against each other, the forward pass
against the NumPy reference backend. ``extra_info`` holds N, P and the exact step counts. The last
test fits the log-log slopes of time against P over the sweep and asserts the study's targets
when timing is on (``--benchmark-disable`` runs everything once and reports the slopes only).

Run: ``pytest benchmarks/test_gradient_cost.py --profile full --benchmark-json=...``; the same
study prints as a table with ``fastbp bench gradient-cost``.
"""

import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from fastbp.studies import gradient_cost as gc

#: Benchmark order within a size: finite differences first, so that their (costly) result is there
#: for the backprop benchmark's check.
METHODS = ("numerical", "backprop", "forward")

#: (case, method) -> fastest call seconds, and case -> finite-difference gradients, for the tests
#: further down this module.
_TIMES = {}
_NUMERICAL = {}


def pytest_generate_tests(metafunc):
    if "case" in metafunc.fixturenames:
        cases = gc.cases(metafunc.config.getoption("--profile"))
        metafunc.parametrize("case", cases, ids=[c.label.replace(" ", "_") for c in cases])


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Sequential BLAS, as the step counts assume, and no sharing a core with other processes."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


class _FastestCall:
    """Wraps a function and keeps its fastest wall time, whether or not pytest-benchmark times."""

    def __init__(self, fn):
        self.fn, self.seconds = fn, np.inf

    def __call__(self):
        start = time.perf_counter()
        result = self.fn()
        self.seconds = min(self.seconds, time.perf_counter() - start)
        return result


def _concat(gradients):
    return np.concatenate([g.ravel() for pair in gradients for g in pair])


@pytest.mark.parametrize("method", METHODS)
def test_gradient_cost(benchmark, case, method):
    model, X, y = gc.build(case)
    model.forward(X)
    backprop = model.gradients(X, y)  # compiles every kernel used below, outside the timing
    counts = case.counts
    benchmark.group = f"gradient-cost {case.label}"
    benchmark.extra_info.update(
        sweep=case.sweep, widths=list(case.widths), n_samples=case.n_samples, dtype="float64",
        backend="cpu", blas_threads=1, method=method, N=counts.n_nodes, P=counts.n_params,
        steps_forward_per_sample=counts.forward, steps_backprop_per_sample=counts.backprop,
        steps_numerical_per_sample=counts.numerical, steps_numerical_over_backprop=counts.ratio)

    if method == "forward":
        call = _FastestCall(lambda: model.forward(X))
        out = benchmark(call)
        reference, _, _ = gc.build(case, backend="numpy")
        for ours, theirs in zip(model.layers, reference.layers):
            theirs.W, theirs.b = ours.W, ours.b
        np.testing.assert_allclose(out, reference.forward(X), rtol=1e-10, atol=1e-12)
    elif method == "numerical":
        call = _FastestCall(lambda: model.numerical_gradients(X, y))
        # pytest-benchmark's calibration would repeat a multi-second call many times
        numerical = benchmark.pedantic(call, rounds=1 if counts.n_params > 2_000 else 5)
        _NUMERICAL[case] = numerical
        error = gc.gradient_error(numerical, backprop)
        benchmark.extra_info["gradient_error"] = error
        assert error <= gc.GRADIENT_TOLERANCE, f"FD and backprop differ by {error:.2e}"
    else:
        call = _FastestCall(lambda: model.gradients(X, y))
        result = benchmark(call)
        np.testing.assert_array_equal(_concat(result), _concat(backprop))  # deterministic
        numerical = _NUMERICAL[case] if case in _NUMERICAL else model.numerical_gradients(X, y)
        error = gc.gradient_error(numerical, result)
        benchmark.extra_info["gradient_error"] = error
        assert error <= gc.GRADIENT_TOLERANCE, f"backprop and FD differ by {error:.2e}"
    benchmark.extra_info["fastest_s"] = call.seconds
    _TIMES[case, method] = call.seconds


def test_gradient_cost_slopes(benchmark, request):
    """Log-log slopes over the P sweep, ratios per size, and the study's targets."""
    cases = gc.cases(request.config.getoption("--profile"))
    missing = [f"{c.label} {m}" for c in cases for m in METHODS if (c, m) not in _TIMES]
    if missing:
        pytest.skip(f"the slopes need every benchmark of this module; not run: {missing[:3]}...")
    measurements = [gc.Measurement(c, _TIMES[c, "forward"], _TIMES[c, "backprop"],
                                   _TIMES[c, "numerical"], {}, float("nan")) for c in cases]
    benchmark.group = "gradient-cost slopes"  # an entry that carries the summary in the JSON
    study = benchmark.pedantic(gc.Study, args=(request.config.getoption("--profile"), 1,
                                               measurements, float("nan")))
    benchmark.extra_info.update(
        slopes=study.slopes,
        numerical_over_backprop={m.case.label: m.numerical_over_backprop for m in measurements},
        backprop_over_forward={m.case.label: m.backprop_over_forward for m in measurements},
        targets=[dict(target=t, measured=v, passed=bool(ok)) for t, v, ok in study.targets()],
        timed=benchmark.enabled)
    # under --benchmark-disable each point is a single call: report the slopes, assert the counts
    ratios = [m.case.counts.ratio for m in study.sweep("P")]
    assert ratios == sorted(ratios) and ratios[-1] / ratios[0] >= 100
    if benchmark.enabled:
        failed = [f"{t}: {v}" for t, v, ok in study.targets() if not ok]
        assert not failed, f"targets missed: {failed}; slopes {study.slopes}"
