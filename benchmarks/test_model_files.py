"""Model files and serving: save and load of a ~1M-parameter network, and prediction latency of
onnxruntime against fastbp on the same network, in one run.

The network is 784 -> 1024 (relu) -> 256 (relu) -> 10 (softmax), float32: 1,068,810 parameters.
``save``/``load`` are timed on a file in a temporary folder (``extra_info['file_bytes']``);
prediction is timed for 1 row (the latency a request sees: a block of calls per round) and for
1,000 and 20,000 rows (``--profile full``; the quick smoke run stops at 1,000), fastbp's
``Sequential.forward`` on the CPU backend against an onnxruntime CPU session of
``fastbp.to_onnx(model)`` with its default thread count. Before timing, both engines' outputs are
checked to agree (rtol 1e-5).

The engines' rounds are interleaved (onnxruntime, then fastbp, each after a pause) and each reports
its median round, per call, in ``extra_info`` (``fastbp_ms``, ``onnxruntime_ms``). onnxruntime's
session runs with its thread pools' spinning off (``session.intra_op.allow_spinning`` and
``session.inter_op.allow_spinning`` set to ``"0"``): by default its threads keep spinning after
every run and take the cores from whatever runs next, fastbp's rounds included.
``extra_info['cpu']`` names the processor.
Run: ``pytest benchmarks/test_model_files.py --profile full -s
--benchmark-json=benchmarks/results/model-files-cpu.json``.
"""

import time

import numpy as np
import pytest

import fastbp

from .baselines import cpu_name, settle

DIMS = (784, 1024, 256, 10)
ROWS = {"quick": (1, 1000), "full": (1, 1000, 20000)}
ROUNDS = {"quick": 1, "full": 7}
CALLS = {1: 200, 1000: 5, 20000: 1}  # calls per timed block, by rows (quick: a tenth, at least 1)


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


@pytest.mark.parametrize("rows", ROWS["full"])
def test_predict(benchmark, model, session, profile, rows):
    if rows not in _rows(profile):
        pytest.skip(f"{rows} rows run in --profile full")
    X = np.random.default_rng(1).standard_normal((rows, DIMS[0])).astype(np.float32)
    expected = model.forward(X)
    got = session.run(None, {"X": X})[0]
    scale = float(np.abs(expected).max())
    assert float(np.abs(got - expected).max()) <= 1e-5 * scale
    calls = CALLS[rows] if profile == "full" else max(1, CALLS[rows] // 10)
    benchmark.group = f"{rows} rows"
    seconds = {"fastbp": [], "onnxruntime": []}

    def block(engine):
        predict = (lambda: model.forward(X)) if engine == "fastbp" else \
            (lambda: session.run(None, {"X": X}))

        def run():
            start = time.perf_counter()
            for _ in range(calls):
                predict()
            seconds[engine].append((time.perf_counter() - start) / calls)
        return run

    onnxruntime_round = block("onnxruntime")

    def before_fastbp():  # each engine's round after a pause; pytest-benchmark times fastbp's
        settle()
        onnxruntime_round()
        settle()

    benchmark.pedantic(block("fastbp"), setup=before_fastbp, rounds=ROUNDS[profile],
                       iterations=1)
    info = {f"{engine}_ms": float(np.median(times)) * 1e3 for engine, times in seconds.items()}
    info.update(onnxruntime_over_fastbp=info["onnxruntime_ms"] / info["fastbp_ms"],
                engines=["fastbp", "onnxruntime"], calls=calls, rounds=ROUNDS[profile],
                profile=profile, onnxruntime_spinning=False)
    _info(benchmark, model, rows=rows, **info)
    print(f"\n{rows} rows: fastbp {info['fastbp_ms']:.4g} ms, onnxruntime "
          f"{info['onnxruntime_ms']:.4g} ms per call (medians of {ROUNDS[profile]} rounds of "
          f"{calls} calls)")
