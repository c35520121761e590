"""Prediction speed of fastbp's MLPClassifier against scikit-learn's, PyTorch and the BLAS roofline.

The network is 100 -> 256 -> 128 -> 10 (ReLU, softmax), as in case (b) of
``benchmarks/test_training.py``; every contender computes with the same weights (scikit-learn's
estimator and PyTorch's ``Linear`` layers are given fastbp's), which the smoke run checks. Timed:
``predict`` and ``predict_proba`` on one row (the latency a request sees: a block of calls per
round) and ``predict_proba`` on 20,000 rows (the quick smoke run: 2,000), against the roofline, the
batch's GEMM FLOPs at the FLOP rate of a 2048-square ``numpy`` matmul on every core, measured in
each round. Rounds are interleaved (fastbp, then each baseline, with a pause between contenders) and
each contender reports its median round. Run:
``pytest benchmarks/test_prediction.py --profile full -s --benchmark-json=...``.
"""

import time
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.neural_network import MLPClassifier as SklearnMLP

import fastbp

from .baselines import blas_flop_rate, cpu_name, settle, torch_network

DIMS = (100, 256, 128, 10)
BATCH_ROWS = {"full": 20_000, "quick": 2_000}
ROUNDS = {"full": 7, "quick": 1}
ONE_ROW_CALLS = {"full": 500, "quick": 20}  # calls per timed block
TARGETS = {"one_row_vs_sklearn": 5.0, "batch_roofline_ratio_max": 1.5}


def _contenders(dtype, rows):
    """``X`` and, with fastbp's weights: fastbp's and scikit-learn's fitted estimators and the
    PyTorch network (None without torch)."""
    X, y = make_classification(n_samples=max(rows, 1000), n_features=DIMS[0], n_informative=20,
                               n_classes=DIMS[-1], random_state=0)
    X = X.astype(dtype)
    hidden = DIMS[1:-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one epoch does not converge
        ours = fastbp.MLPClassifier(hidden, max_iter=1, random_state=0).fit(X[:1000], y[:1000])
        theirs = SklearnMLP(hidden, max_iter=1, random_state=0).fit(X[:1000], y[:1000])
    theirs.coefs_ = [W.copy() for W in ours.coefs_]
    theirs.intercepts_ = [b.copy() for b in ours.intercepts_]
    try:
        import torch
    except ImportError:
        print("\nPyTorch baseline skipped: torch is not installed")
        return X[:rows], ours, theirs, None
    net = torch_network(torch, DIMS).to(torch.float32 if dtype == np.float32 else torch.float64)
    with torch.no_grad():
        for linear, W, b in zip(net[::2], ours.coefs_, ours.intercepts_):
            linear.weight.copy_(torch.from_numpy(W.T.copy()))
            linear.bias.copy_(torch.from_numpy(b))
    return X[:rows], ours, theirs, net


def _torch_methods(net):
    """PyTorch's ``predict`` and ``predict_proba`` on a NumPy batch, as a user would write them."""
    import torch

    def predict_proba(X):
        with torch.no_grad():
            return torch.softmax(net(torch.from_numpy(X)), dim=1).numpy()

    def predict(X):
        with torch.no_grad():
            return net(torch.from_numpy(X)).argmax(dim=1).numpy()

    return {"predict": predict, "predict_proba": predict_proba}


def _check_agreement(ours, theirs, net, X):
    """Every contender computes the same function of ``X``."""
    tolerance = 1e-4 if X.dtype == np.float32 else 1e-10
    expected = ours.predict_proba(X)
    np.testing.assert_allclose(theirs.predict_proba(X), expected, rtol=tolerance, atol=tolerance)
    if net is not None:
        np.testing.assert_allclose(_torch_methods(net)["predict_proba"](X), expected,
                                   rtol=tolerance, atol=tolerance)
    agree = np.mean(ours.predict(X) == theirs.predict(X))
    assert agree >= 0.999, f"labels agree on {agree:.2%} of rows"


def _interleaved(benchmark, ours, others, rounds):
    """Time ``ours()`` in pytest-benchmark's rounds, each after one run of every ``others`` entry
    (name -> callable), with a pause before each; returns each contender's seconds per round."""
    seconds = {name: [] for name in ["fastbp", *others]}

    def timed(name, call):
        settle()
        start = time.perf_counter()
        call()
        seconds[name].append(time.perf_counter() - start)

    def baselines():
        for name, call in others.items():
            timed(name, call)
        settle()

    benchmark.pedantic(lambda: timed("fastbp", ours), setup=baselines, rounds=rounds,
                       iterations=1)
    return seconds


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_one_row(benchmark, method, dtype, profile):
    X, ours, theirs, net = _contenders(dtype, 1000)
    _check_agreement(ours, theirs, net, X)
    row, calls = X[:1].copy(), ONE_ROW_CALLS[profile]
    benchmark.group = f"one row {method} {np.dtype(dtype).name}"

    def block(function):
        function(row)  # anything made on first use, outside the timing

        def run():
            for _ in range(calls):
                function(row)
        return run

    others = {"sklearn": block(getattr(theirs, method))}
    if net is not None:
        others["torch"] = block(_torch_methods(net)[method])
    seconds = _interleaved(benchmark, block(getattr(ours, method)), others, ROUNDS[profile])
    info = {f"{name}_us": float(np.median(times)) / calls * 1e6 for name, times in seconds.items()}
    info.update({f"speedup_vs_{name}": info[f"{name}_us"] / info["fastbp_us"]
                 for name in others})
    info.update(cpu=cpu_name(), dtype=np.dtype(dtype).name, profile=profile, calls=calls,
                rounds=ROUNDS[profile], targets={"vs_sklearn": TARGETS["one_row_vs_sklearn"]},
                meets={"vs_sklearn": info["speedup_vs_sklearn"]
                       >= TARGETS["one_row_vs_sklearn"]})
    benchmark.extra_info.update(info)
    print(f"\none row {method} {info['dtype']}: " + ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items()))


def forward_flops(dims, rows):
    """FLOPs of the forward pass's GEMMs on ``rows`` rows."""
    return 2 * rows * sum(a * b for a, b in zip(dims[:-1], dims[1:]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_batch(benchmark, dtype, profile):
    rows = BATCH_ROWS[profile]
    X, ours, theirs, net = _contenders(dtype, rows)
    _check_agreement(ours, theirs, net, X)
    benchmark.group = f"{rows} rows predict_proba {np.dtype(dtype).name}"
    rates = []
    others = {"sklearn": lambda: theirs.predict_proba(X),
              "roofline": lambda: rates.append(blas_flop_rate(dtype, repeat=3))}
    if net is not None:
        torch_proba = _torch_methods(net)["predict_proba"]
        others["torch"] = lambda: torch_proba(X)
    seconds = _interleaved(benchmark, lambda: ours.predict_proba(X), others, ROUNDS[profile])
    flops = forward_flops(DIMS, rows)
    roofline_s = flops / float(np.median(rates))
    info = {f"{name}_ms": float(np.median(times)) * 1e3 for name, times in seconds.items()
            if name != "roofline"}
    info.update({f"speedup_vs_{name}": info[f"{name}_ms"] / info["fastbp_ms"]
                 for name in others if name != "roofline"})
    info.update(roofline_ms=roofline_s * 1e3, roofline_ratio=info["fastbp_ms"] / 1e3 / roofline_s,
                blas_gflops=float(np.median(rates)) / 1e9, gemm_gflop=flops / 1e9, rows=rows,
                dims=list(DIMS), cpu=cpu_name(), dtype=np.dtype(dtype).name, profile=profile,
                rounds=ROUNDS[profile],
                targets={"roofline_ratio_max": TARGETS["batch_roofline_ratio_max"]})
    info["meets"] = {"roofline": info["roofline_ratio"] <= TARGETS["batch_roofline_ratio_max"]}
    benchmark.extra_info.update(info)
    print(f"\n{rows} rows {info['dtype']}: " + ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items()))
