"""A new user's first hour: a warm-up that leaves nothing to compile, a word while compiling,
messages that name what went wrong, and a demo that reports the whole-fit speed-up.

The warm-up and notice tests run fresh processes with a fresh, empty ``NUMBA_CACHE_DIR`` each, as a
new machine or container would. They check, without a clock, that nothing compiles after the
warm-up; the time of those first calls, against its targets (under 1 s for a first fit and
``predict_proba`` on iris, under 0.3 s for a first float32 forward), is measured and held by
``benchmarks/test_startup.py::test_first_calls_after_warmup``.
"""

import json
import os
import pathlib
import pickle
import re
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression

import fastbp
from fastbp import Dense, MLPClassifier, Sequential
from fastbp.kernels.compile_notice import dtype_of, message


NOTICE = "fastbp: compiling"

#: The fresh-process probes of a serving process's first calls, shared with the start-up
#: benchmark (each prints one JSON line; the benchmark holds their times to their targets).
PROBE = ["-m", "benchmarks.startup_probe"]
ROOT = pathlib.Path(__file__).resolve().parent.parent
# a float64 fit and prediction, then a float32 forward pass: a notice for each dtype, once
FIT_PREDICT_FORWARD = textwrap.dedent("""
    import warnings
    warnings.simplefilter("ignore")
    import numpy as np
    from sklearn.datasets import load_iris
    from fastbp import Dense, MLPClassifier, Sequential
    X, y = load_iris(return_X_y=True)
    model = MLPClassifier(max_iter=5).fit(X, y)
    model.predict_proba(X)
    model.fit(X, y)
    Sequential([Dense(4, 3, "softmax")], loss="cross_entropy", dtype="float32").forward(X)
    print("done")
""")


def run_python(code, cache_dir, **env):
    """Run ``code`` in a fresh interpreter with ``NUMBA_CACHE_DIR=cache_dir``; checks it exits 0."""
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("FASTBP_QUIET", "NUMBA_DEBUG_CACHE", "NUMBA_DISABLE_JIT")}
    environment.update(NUMBA_CACHE_DIR=str(cache_dir), **env)
    # from the checkout's root, where the probes' module (benchmarks.startup_probe) is found
    done = subprocess.run([sys.executable, *code], capture_output=True, text=True,
                          env=environment, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done


def figures(done):
    """The JSON line a probe printed."""
    return json.loads(done.stdout.strip().splitlines()[-1])


def notices(done):
    return [line for line in done.stderr.splitlines() if line.startswith(NOTICE)]


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """A fresh cache directory that ``fastbp warmup`` alone has filled."""
    cache = tmp_path_factory.mktemp("numba-cache-warmed")
    assert not any(cache.iterdir())
    done = run_python(["-m", "fastbp", "warmup", "--quiet"], cache)
    assert re.match(r"compiled \d+ pieces in ", done.stdout), done.stdout
    return cache


# ---- 1. the warm-up covers what a process does --------------------------------------------------
def test_after_warmup_a_new_process_fits_predicts_and_forwards_without_compiling(warm_cache):
    fit = run_python([*PROBE, "first-predict"], warm_cache)
    forward = run_python([*PROBE, "first-forward"], warm_cache)
    fit_s, forward_s = figures(fit)["seconds"], figures(forward)["seconds"]
    print(f"\nafter `fastbp warmup`, in a new process: first MLPClassifier().fit on iris + "
          f"predict_proba {fit_s:.3f} s; first float32 Sequential.forward {forward_s:.3f} s")
    assert figures(fit)["rows"] == 150 and figures(fit)["sums"] == pytest.approx(150)
    assert figures(forward)["dtype"] == "float32" and figures(forward)["shape"] == [150, 3]
    # nothing compiled: the notice would have said so (test_compile_notice_* show it does)
    assert notices(fit) == [] and notices(forward) == []


def test_a_warm_cache_prints_no_notice_for_fit_predict_and_forward_in_either_dtype(warm_cache):
    done = run_python(["-c", FIT_PREDICT_FORWARD], warm_cache)
    assert done.stdout.strip() == "done"
    assert notices(done) == []


def test_warmup_of_a_model_file_covers_what_that_model_runs(tmp_path):
    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MLPClassifier(hidden_layer_sizes=(5,), activation="tanh", solver="sgd",
                              max_iter=2, dtype="float32").fit(X, y)
    path = tmp_path / "tanh.safetensors"
    fastbp.save(model, path)
    cache = tmp_path / "cache"
    cache.mkdir()
    done = run_python(["-m", "fastbp", "warmup", "--quiet", "--model", str(path)], cache)
    # tanh and softmax forward and backward, cross-entropy forward and backward, SGD; epoch,
    # gradients, forward pass
    assert done.stdout.startswith(f"compiled 10 pieces for {path} in "), done.stdout
    use = textwrap.dedent(f"""
        import warnings
        warnings.simplefilter("ignore")
        import numpy as np
        from sklearn.datasets import load_iris
        import fastbp
        X, y = load_iris(return_X_y=True)
        model = fastbp.load({str(path)!r})
        model.predict_proba(X.astype(np.float32))
        model.partial_fit(X.astype(np.float32), y)
        print(model.predict(X[:3].astype(np.float32)).shape)
    """)
    used = run_python(["-c", use], cache)
    assert used.stdout.strip() == "(3,)"
    assert notices(used) == []


def test_warmup_of_a_damaged_model_file_exits_2_naming_it(tmp_path):
    path = _damaged_model_file(tmp_path)
    done = subprocess.run([sys.executable, "-m", "fastbp", "warmup", "--model", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"fastbp: error: {path}: not a loadable fastbp model file: ")
    assert "checksum" in done.stderr


# ---- 2. a word while compiling ------------------------------------------------------------------
def test_compile_notice_is_said_once_per_dtype_with_an_empty_cache(tmp_path):
    done = run_python(["-c", FIT_PREDICT_FORWARD], tmp_path)
    assert done.stdout.strip() == "done"
    assert notices(done) == [message("float64"), message("float32")]
    assert message("float64") == (
        "fastbp: compiling the CPU kernels for float64, once; later runs load them from the "
        "cache (run `fastbp warmup` to do this ahead of time)")


FORWARD_ONLY = ("from fastbp import Dense, Sequential\n"
                "Sequential([Dense(2, 2, 'softmax')], loss='cross_entropy', dtype='float32')"
                ".forward([[0.5, 1.0]])\nprint('done')")


@pytest.mark.parametrize("how", ["FASTBP_QUIET=1", "logging level"])
def test_compile_notice_is_silenced_by_fastbp_quiet_or_the_logging_level(tmp_path, how):
    if how == "FASTBP_QUIET=1":
        done = run_python(["-c", FORWARD_ONLY], tmp_path, FASTBP_QUIET="1")
    else:
        code = ("import logging\nlogging.getLogger('fastbp').setLevel(logging.ERROR)\n"
                + FORWARD_ONLY)
        done = run_python(["-c", code], tmp_path)
    assert done.stdout.strip() == "done"
    assert done.stderr == ""
    # the control: the same cold start without either is announced
    loud = run_python(["-c", FORWARD_ONLY], tmp_path / "again")
    assert notices(loud) == [message("float32")]


def test_the_notice_takes_the_dtype_of_the_first_float_array_even_inside_records():
    from numba import types

    record = types.Tuple((types.int64[::1], types.float32[:, ::1]))
    assert dtype_of([types.int64, record, types.float64[::1]]) == "float32"
    assert dtype_of([types.float64[:, ::1]]) == "float64"
    assert dtype_of([types.int64[::1], types.none]) is None
    assert message(None).startswith("fastbp: compiling the CPU kernels, once;")


# ---- 3. messages --------------------------------------------------------------------------------
def _fitted_linear_regression():
    X, y = load_iris(return_X_y=True)
    return LinearRegression().fit(X, y)


def _model():
    return Sequential([Dense(4, 3, "softmax")], loss="cross_entropy", dtype="float64",
                      backend="numpy", seed=0)


def test_to_onnx_names_the_foreign_type_it_got():
    with pytest.raises(TypeError) as caught:
        fastbp.to_onnx(_fitted_linear_regression())
    text = str(caught.value)
    assert text.startswith("to_onnx takes a fastbp Sequential, MLPClassifier or MLPRegressor; got "
                           "sklearn.linear_model.LinearRegression")
    assert "not fitted" not in text
    with pytest.raises(TypeError) as caught:
        fastbp.to_onnx("model.safetensors")
    assert str(caught.value).startswith("to_onnx takes a fastbp Sequential, MLPClassifier or "
                                        "MLPRegressor; got str ('model.safetensors' looks like a "
                                        "path: load the model first, ")
    assert "fastbp.load" in str(caught.value)


def test_save_names_the_foreign_type_it_got_and_a_swap_of_its_arguments(tmp_path):
    path = tmp_path / "m.safetensors"
    with pytest.raises(TypeError, match=r"^save takes a fastbp Sequential, MLPClassifier or "
                                        r"MLPRegressor; got sklearn\.linear_model\."
                                        r"LinearRegression$"):
        fastbp.save(_fitted_linear_regression(), path)
    with pytest.raises(TypeError, match=r"^save takes the model first and the path second: "
                                        r"fastbp\.save\(model, path\); got str then "
                                        r"fastbp\.Sequential$"):
        fastbp.save(str(path), _model())
    assert list(tmp_path.iterdir()) == []


def test_save_into_a_missing_folder_names_that_folder(tmp_path):
    folder = tmp_path / "no" / "such"
    with pytest.raises(FileNotFoundError) as caught:
        fastbp.save(_model(), folder / "m.safetensors")
    text = str(caught.value)
    assert f"its folder {str(folder)!r} does not exist" in text
    assert ".tmp" not in text
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("writer", ["pickle", "joblib"])
def test_load_of_a_pickle_or_joblib_file_says_so_and_names_the_path(tmp_path, writer):
    path = tmp_path / "clf.pkl"
    if writer == "pickle":
        with open(path, "wb") as f:
            pickle.dump(_fitted_linear_regression(), f, protocol=4)
    else:
        import joblib

        joblib.dump(_fitted_linear_regression(), path)
    with pytest.raises(fastbp.ModelFileError) as caught:
        fastbp.load(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: not a loadable fastbp model file: this is a Python pickle "
                           f"(protocol 4), as pickle.dump and joblib.dump write: load it with "
                           f"joblib.load or pickle.load")
    assert "exceeds" not in text


def test_load_of_an_onnx_file_says_it_is_onnx(tmp_path):
    import onnx

    path = tmp_path / "model.onnx"
    onnx.save(fastbp.to_onnx(_model()), path)
    with pytest.raises(fastbp.ModelFileError, match=r"this is an ONNX model") as caught:
        fastbp.load(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_a_file_that_only_starts_like_a_pickle_is_still_a_fastbp_file(tmp_path):
    """A 1,152-byte header's length prefix is 80 04 00 ...: the bytes a protocol-4 pickle starts
    with. Such a file loads, and its truncation is reported as a truncation."""
    from fastbp.io.format import foreign_format

    path = tmp_path / "m.safetensors"
    fastbp.save(_model(), path)
    good = path.read_bytes()
    n = int.from_bytes(good[:8], "little")
    assert n < 1152
    # safetensors allows a header padded with spaces: pad this one to exactly 1,152 bytes
    header = good[8:8 + n] + b" " * (1152 - n)
    path.write_bytes((1152).to_bytes(8, "little") + header + good[8 + n:])
    assert path.read_bytes()[:2] == b"\x80\x04" and foreign_format(path.read_bytes()[:8])
    assert isinstance(fastbp.load(path), Sequential)
    path.write_bytes(path.read_bytes()[:600])
    with pytest.raises(fastbp.ModelFileError, match="runs past the end"):
        fastbp.load(path)


def test_load_errors_name_the_path_given(tmp_path):
    path = _damaged_model_file(tmp_path)
    with pytest.raises(fastbp.ModelFileError) as caught:
        fastbp.load(path)
    assert str(caught.value) == (
        f"{path}: not a loadable fastbp model file: the checksum does not match the header and "
        f"arrays (the file was changed or damaged after it was written)")


def _damaged_model_file(folder):
    """A model file with one byte of its arrays flipped."""
    path = folder / "damaged.safetensors"
    fastbp.save(_model(), path)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01
    path.write_bytes(bytes(data))
    return path


def test_inspect_verifies_the_checksum_and_exits_2_on_a_damaged_file(tmp_path):
    path = tmp_path / "good.safetensors"
    fastbp.save(_model(), path)
    good = subprocess.run([sys.executable, "-m", "fastbp", "inspect", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert good.returncode == 0, good.stderr
    assert re.search(r"^checksum +verified", good.stdout, re.MULTILINE), good.stdout

    damaged = _damaged_model_file(tmp_path)
    bad = subprocess.run([sys.executable, "-m", "fastbp", "inspect", str(damaged)],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip() == (
        f"fastbp: error: {damaged}: not a loadable fastbp model file: the checksum does not match "
        f"the header and arrays (the file was changed or damaged after it was written)")

    unverified = subprocess.run(
        [sys.executable, "-m", "fastbp", "inspect", "--header-only", str(damaged)],
        capture_output=True, text=True, timeout=120)
    assert unverified.returncode == 0, unverified.stderr
    assert re.search(r"^checksum +not verified \(header only\)", unverified.stdout,
                     re.MULTILINE), unverified.stdout


# ---- 4. the demo --------------------------------------------------------------------------------
def test_demo_headline_gives_the_per_epoch_and_the_whole_fit_speedups():
    done = subprocess.run([sys.executable, "-m", "fastbp", "demo", "--epochs", "3", "--quiet"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    headline = re.search(r"^speed-up over scikit-learn: (\S+)x per epoch, (\S+)x whole fit "
                         r"\(3 epochs each, same data and settings\)$", done.stdout, re.MULTILINE)
    assert headline, done.stdout
    per_epoch, whole_fit = map(float, headline.groups())
    assert per_epoch > 0 and whole_fit > 0
    times = re.search(r"^whole fit +fastbp (\S+) s .*, scikit-learn (\S+) s", done.stdout,
                      re.MULTILINE)
    assert times, done.stdout
    fastbp_s, sklearn_s = map(float, times.groups())
    assert fastbp_s > 0 and sklearn_s > 0
    assert whole_fit == pytest.approx(sklearn_s / fastbp_s, rel=0.05, abs=0.06)  # rounded figures
