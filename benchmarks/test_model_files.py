"""Model files and serving: save and load of a ~1M-parameter network, and prediction latency of
fastbp against onnxruntime and NumPy on the same network, in one run.

The network is 784 -> 1024 (relu) -> 256 (relu) -> 10 (softmax), float32: 1,068,810 parameters.
``save``/``load`` are timed on a file in a temporary folder (``extra_info['file_bytes']``);
prediction is timed for 1 row (the latency a request sees: a block of calls per round) and for
256, 512, 1,000, 2,000 and 20,000 rows (``--profile full``; the quick smoke run stops at 1,000):
fastbp's ``Sequential.forward`` on the CPU backend against an onnxruntime CPU session of
``fastbp.to_onnx(model)`` with its default thread count, and against NumPy's three matmuls with the
bias added and the activations applied in place (BLAS on every core, as NumPy is set). Before
timing, the outputs are checked to agree (rtol 1e-5).

The contenders' rounds are interleaved (onnxruntime, NumPy, then fastbp, each after a pause) and
each reports its median round, per call, in ``extra_info`` (``fastbp_ms``, ``onnxruntime_ms``,
``numpy_ms``). onnxruntime's session runs with its thread pools' spinning off
(``session.intra_op.allow_spinning`` and ``session.inter_op.allow_spinning`` set to ``"0"``): by
default its threads keep spinning after every run and take the cores from whatever runs next,
fastbp's rounds included. Targets, from 256 rows: fastbp within 1.1x of NumPy and no slower than
onnxruntime (``extra_info['meets']``; asserted in ``--profile full``).

``test_one_row_beside_busy_processes`` times the one-row prediction again with as many busy
processes as cores beside it (each a pure-Python loop), fastbp against onnxruntime, recorded only.
``extra_info['cpu']`` names the processor. Run: ``pytest benchmarks/test_model_files.py
--profile full -s --benchmark-json=benchmarks/results/model-files-cpu.json``.
"""

import contextlib
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import fastbp

from .baselines import cpu_name, settle

DIMS = (784, 1024, 256, 10)
ROWS = {"quick": (1, 1000), "full": (1, 256, 512, 1000, 2000, 20000)}
ROUNDS = {"quick": 1, "full": 9}
#: calls per timed block, by rows (quick: a tenth, at least 1)
CALLS = {1: 200, 256: 20, 512: 10, 1000: 5, 2000: 3, 20000: 1}
#: from this many rows: fastbp's time over NumPy's and over onnxruntime's, at most
TARGET_ROWS = 256
TARGETS = {"fastbp_over_numpy_max": 1.1, "fastbp_over_onnxruntime_max": 1.0}


@pytest.fixture(scope="module")
def model():
    layers = [fastbp.Dense(a, b, "relu" if i < len(DIMS) - 2 else "softmax")
              for i, (a, b) in enumerate(zip(DIMS[:-1], DIMS[1:]))]
    network = fastbp.Sequential(layers, loss="cross_entropy", dtype="float32", seed=0)
    assert 1_000_000 <= network.n_params <= 1_100_000
    return network


@pytest.fixture(scope="module")
def session(model):
    import onnxruntime

    exported = fastbp.to_onnx(model).SerializeToString()
    options = onnxruntime.SessionOptions()
    # threads that sleep when a run ends, rather than spin on the cores the next run needs
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(exported, options, providers=["CPUExecutionProvider"])


def _info(benchmark, model, **extra):
    benchmark.extra_info.update(cpu=cpu_name(), n_params=model.n_params, dims=list(DIMS),
                                dtype="float32", **extra)


def test_save(benchmark, model, tmp_path):
    path = tmp_path / "model.safetensors"
    benchmark(fastbp.save, model, path)
    _info(benchmark, model, file_bytes=path.stat().st_size)


def test_load(benchmark, model, tmp_path):
    path = tmp_path / "model.safetensors"
    fastbp.save(model, path)
    loaded = benchmark(fastbp.load, path)
    assert np.array_equal(loaded.layers[0].W, model.layers[0].W)
    _info(benchmark, model, file_bytes=path.stat().st_size)


def _rows(profile):
    return ROWS[profile]


def numpy_forward(model):
    """The network in NumPy: three matmuls, the bias added and the activations applied in place,
    BLAS on as many threads as NumPy is set to."""
    weights = [(layer.W, layer.b) for layer in model.layers]

    def forward(X):
        h = X
        for i, (W, b) in enumerate(weights):
            h = h @ W
            h += b
            if i < len(weights) - 1:
                np.maximum(h, 0, out=h)
        h -= h.max(axis=1, keepdims=True)
        np.exp(h, out=h)
        h /= h.sum(axis=1, keepdims=True)
        return h
    return forward


def _check_agreement(model, session, X):
    expected = model.forward(X)
    scale = float(np.abs(expected).max())
    for got in (session.run(None, {"X": X})[0], numpy_forward(model)(X)):
        assert float(np.abs(got - expected).max()) <= 1e-5 * scale


def _interleaved(benchmark, engines, calls, rounds):
    """Time each engine (name -> callable) in blocks of ``calls`` calls, rounds interleaved, each
    after a pause; pytest-benchmark times fastbp's. Returns each engine's seconds per call."""
    seconds = {engine: [] for engine in engines}

    def block(engine):
        predict = engines[engine]

        def run():
            start = time.perf_counter()
            for _ in range(calls):
                predict()
            seconds[engine].append((time.perf_counter() - start) / calls)
        return run

    others = [block(engine) for engine in engines if engine != "fastbp"]

    def before_fastbp():  # each engine's round after a pause
        for run in others:
            settle()
            run()
        settle()

    benchmark.pedantic(block("fastbp"), setup=before_fastbp, rounds=rounds, iterations=1)
    return seconds


@pytest.mark.parametrize("rows", ROWS["full"])
def test_predict(benchmark, model, session, profile, rows):
    if rows not in _rows(profile):
        pytest.skip(f"{rows} rows run in --profile full")
    X = np.random.default_rng(1).standard_normal((rows, DIMS[0])).astype(np.float32)
    _check_agreement(model, session, X)
    calls = CALLS[rows] if profile == "full" else max(1, CALLS[rows] // 10)
    benchmark.group = f"{rows} rows"
    by_numpy = numpy_forward(model)
    engines = {"onnxruntime": lambda: session.run(None, {"X": X}), "numpy": lambda: by_numpy(X),
               "fastbp": lambda: model.forward(X)}
    seconds = _interleaved(benchmark, engines, calls, ROUNDS[profile])
    info = {f"{engine}_ms": float(np.median(times)) * 1e3 for engine, times in seconds.items()}
    info.update(onnxruntime_over_fastbp=info["onnxruntime_ms"] / info["fastbp_ms"],
                fastbp_over_numpy=info["fastbp_ms"] / info["numpy_ms"],
                fastbp_over_onnxruntime=info["fastbp_ms"] / info["onnxruntime_ms"],
                engines=list(engines), calls=calls, rounds=ROUNDS[profile], profile=profile,
                onnxruntime_spinning=False, load_average_1min=os.getloadavg()[0])
    if rows >= TARGET_ROWS:
        info.update(targets=TARGETS, meets={
            "numpy": info["fastbp_over_numpy"] <= TARGETS["fastbp_over_numpy_max"],
            "onnxruntime": info["fastbp_over_onnxruntime"]
            <= TARGETS["fastbp_over_onnxruntime_max"]})
    _info(benchmark, model, rows=rows, **info)
    print(f"\n{rows} rows: fastbp {info['fastbp_ms']:.4g} ms, onnxruntime "
          f"{info['onnxruntime_ms']:.4g} ms, numpy {info['numpy_ms']:.4g} ms per call (medians "
          f"of {ROUNDS[profile]} rounds of {calls} calls): fastbp/numpy "
          f"{info['fastbp_over_numpy']:.3f}, fastbp/onnxruntime "
          f"{info['fastbp_over_onnxruntime']:.3f}")
    if rows >= TARGET_ROWS and profile == "full":
        assert all(info["meets"].values()), info


@contextlib.contextmanager
def _busy_processes(count):
    """``count`` processes each spinning a pure-Python loop until the context ends."""
    processes = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                 for _ in range(count)]
    try:
        time.sleep(0.2)  # running before the timing starts
        yield
    finally:
        for process in processes:
            process.terminate()
            process.wait()


def test_one_row_beside_busy_processes(benchmark, model, session, profile):
    X = np.random.default_rng(2).standard_normal((1, DIMS[0])).astype(np.float32)
    _check_agreement(model, session, X)
    calls = CALLS[1] if profile == "full" else CALLS[1] // 10
    benchmark.group = "1 row beside busy processes"
    engines = {"onnxruntime": lambda: session.run(None, {"X": X}),
               "fastbp": lambda: model.forward(X)}
    busy = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with _busy_processes(busy):
        seconds = _interleaved(benchmark, engines, calls, ROUNDS[profile])
    info = {f"{engine}_ms": float(np.median(times)) * 1e3 for engine, times in seconds.items()}
    info.update(onnxruntime_over_fastbp=info["onnxruntime_ms"] / info["fastbp_ms"],
                busy_processes=busy, calls=calls, rounds=ROUNDS[profile], profile=profile,
                onnxruntime_spinning=False)
    _info(benchmark, model, rows=1, **info)
    print(f"\n1 row beside {busy} busy processes: fastbp {info['fastbp_ms']:.4g} ms, "
          f"onnxruntime {info['onnxruntime_ms']:.4g} ms per call")
