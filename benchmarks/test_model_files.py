"""Model files and serving: save and load of a ~1M-parameter network, and prediction latency of
onnxruntime against fastbp on the same network, in one run.

The network is 784 -> 1024 (relu) -> 256 (relu) -> 10 (softmax), float32: 1,068,810 parameters.
``save``/``load`` are timed on a file in a temporary folder (``extra_info['file_bytes']``);
prediction is timed for 1 row (the latency a request sees) and for 1,000 and 20,000 rows
(``--profile full``; the quick smoke run stops at 1,000), fastbp's ``Sequential.forward`` on the
CPU backend against an onnxruntime CPU session of ``fastbp.to_onnx(model)`` with its default
threads. Before timing, both engines' outputs are checked to agree (rtol 1e-5).
``extra_info['cpu']`` names the processor.
Run: ``pytest benchmarks/test_model_files.py --profile full --benchmark-json=...``.
"""

import numpy as np
import pytest

import fastbp

from .baselines import cpu_name

DIMS = (784, 1024, 256, 10)
ROWS = {"quick": (1, 1000), "full": (1, 1000, 20000)}


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
    return onnxruntime.InferenceSession(exported, providers=["CPUExecutionProvider"])


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


@pytest.mark.parametrize("engine", ["fastbp", "onnxruntime"])
@pytest.mark.parametrize("rows", ROWS["full"])
def test_predict(benchmark, model, session, profile, engine, rows):
    if rows not in _rows(profile):
        pytest.skip(f"{rows} rows run in --profile full")
    X = np.random.default_rng(1).standard_normal((rows, DIMS[0])).astype(np.float32)
    expected = model.forward(X)
    got = session.run(None, {"X": X})[0]
    scale = float(np.abs(expected).max())
    assert float(np.abs(got - expected).max()) <= 1e-5 * scale
    predict = (lambda: model.forward(X)) if engine == "fastbp" else \
        (lambda: session.run(None, {"X": X}))
    benchmark(predict)
    _info(benchmark, model, engine=engine, rows=rows)
