"""The ``fastbp`` command, run as a user runs it: in a subprocess, reading what it prints."""

import importlib.metadata
import json
import pathlib
import re
import shutil
import subprocess
import sys

import numba
import numpy as np
import pytest

import fastbp
from fastbp.studies import info


def fastbp_command(*args, timeout=300, prelude=None):
    """Run ``python -m fastbp ARGS``, or ``prelude`` code then the CLI's ``main(ARGS)``."""
    if prelude is None:
        command = [sys.executable, "-m", "fastbp", *args]
    else:
        code = f"{prelude}\nimport sys\nfrom fastbp.cli import main\nsys.exit(main({list(args)!r}))"
        command = [sys.executable, "-c", code]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def _number(pattern, text):
    match = re.search(pattern, text)
    assert match, f"no match for {pattern!r} in:\n{text}"
    return float(match.group(1))


# ---- demo ---------------------------------------------------------------------------------------
def test_demo_trains_checks_gradients_and_reports_accuracy_time_and_speedup():
    run = fastbp_command("demo")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    lines = out.splitlines()
    assert lines[0].startswith("fastbp demo: 64-64-10 MLP") and "1347 training / 450 test" in out
    assert _number(r"gradient check .* max relative difference (\S+) \(ok\)", out) <= 1e-4
    assert _number(r"fastbp +test accuracy (\S+)", out) > 0.9
    assert _number(r"scikit-learn +test accuracy (\S+)", out) > 0.9
    assert _number(r"fastbp .* time per epoch (\S+) ms", out) > 0
    assert _number(r"scikit-learn .* time per epoch (\S+) ms", out) > 0
    assert _number(r"speed-up over scikit-learn: (\S+)x per epoch", out) > 0
    assert "30/30" in run.stderr  # the progress bar reached the last epoch


# ---- bench gradient-cost ------------------------------------------------------------------------
def _p_sweep_rows(table):
    """(P, step ratio, measured ratio) of each row of the printed P-sweep table."""
    block = table.split("P sweep")[1].split("\n\n")[0]
    rows = []
    for line in block.splitlines()[3:]:
        cells = line.split()
        # widths n N P N+P N*P steps-BP steps-FD FD/BP-steps forward (2) backprop (2) numerical (2)
        rows.append(tuple(int(cells[i].replace(",", "")) for i in (3, 8, 15)))
    return rows


def test_bench_gradient_cost_quick_prints_the_table_and_writes_plot_and_json(tmp_path):
    png, data = tmp_path / "cost.png", tmp_path / "cost.json"
    run = fastbp_command("bench", "gradient-cost", "--quick", "--plot", str(png), "--json",
                         str(data))
    assert run.returncode == 0, run.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = _p_sweep_rows(run.stdout)
    params = [p for p, _, _ in rows]
    assert params == sorted(params) and params[-1] / params[0] >= 100
    step_ratios = [steps for _, steps, _ in rows]
    assert step_ratios == sorted(step_ratios)  # exact counts: FD/BP grows with P
    # measured times are printed, not asserted: their targets live in benchmarks/
    assert all(measured > 0 for _, _, measured in rows), rows
    assert "10,000  100,000  110,000  1,000,000,000" in run.stdout  # the worked example
    assert re.search(r"numerical +\d\.\d\d", run.stdout)  # the FD slope is printed
    study = json.loads(data.read_text())
    assert [m["P"] for m in study["measurements"] if m["sweep"] == "P"] == params
    assert study["machine"]["numpy"] == np.__version__


# ---- info ---------------------------------------------------------------------------------------
def test_info_reports_versions_blas_threading_simd_and_cuda():
    run = fastbp_command("info")
    assert run.returncode == 0, run.stderr
    facts = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1)
                 for line in run.stdout.splitlines() if not line.startswith(" "))
    assert facts["fastbp"] == fastbp.__version__
    assert facts["numpy"] == np.__version__
    assert facts["numba"] == numba.__version__
    for label in (*info.PACKAGES, "BLAS", "CPU threads", "SIMD", "CUDA"):
        assert facts.get(label), f"no {label!r} line in:\n{run.stdout}"
    assert re.match(r"\d+ epoch threads", facts["CPU threads"])


def test_info_survives_a_missing_numba_cuda():
    run = fastbp_command("info", prelude="import sys; sys.modules['numba.cuda'] = None")
    assert run.returncode == 0, run.stderr
    cuda_line = next(line for line in run.stdout.splitlines() if line.startswith("CUDA"))
    assert "unavailable (ModuleNotFoundError" in cuda_line, cuda_line


def test_info_probes_turn_failures_into_notes():
    assert info._version("no-such-distribution-fastbp") == "not installed"
    assert info._probe(lambda: 1 / 0) == "unavailable (ZeroDivisionError: division by zero)"
    assert info._probe(lambda: "fine") == "fine"
    text = info.format_info([("a", "1"), ("long label", ["x", "y"])])
    assert text.splitlines() == ["a           1", "long label  x", "            y"]


# ---- inspect ------------------------------------------------------------------------------------
MODEL_FILES = pathlib.Path(__file__).parent / "data"


def test_inspect_prints_kind_layers_dtype_versions_and_sizes(tmp_path):
    path = tmp_path / "net.safetensors"
    model = fastbp.Sequential([fastbp.Dense(6, 5, "elu", dropout=0.25),
                               fastbp.Dense(5, 2, "softmax")], loss="cross_entropy",
                              dtype="float64", backend="numpy", seed=0)
    fastbp.save(model, path)
    run = fastbp_command("inspect", str(path), timeout=60)
    assert run.returncode == 0, run.stderr
    facts = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1)
                 for line in run.stdout.splitlines() if not line.startswith(" "))
    assert facts["kind"] == "sequential"
    assert facts["format"] == f"fastbp-model version 1, written by fastbp {fastbp.__version__}"
    assert (facts["dtype"], facts["loss"], facts["backend"]) == ("float64", "cross_entropy",
                                                                  "numpy")
    assert facts["layers"] == "0: Dense 6 -> 5, elu, dropout 0.25"
    assert "1: Dense 5 -> 2, softmax" in run.stdout
    assert facts["parameters"] == f"{model.n_params:,}" == "47"
    assert facts["arrays"] == "layers.0.W  float64 (6, 5)  240 bytes"
    size = path.stat().st_size
    assert facts["size"].startswith(f"{size:,} bytes: ") and facts["size"].endswith(
        f"{47 * 8:,} of arrays")


def test_inspect_shows_an_estimator_and_verifies_its_arrays(tmp_path):
    path = tmp_path / "c.safetensors"
    path.write_bytes((MODEL_FILES / "v1-mlp_classifier.safetensors").read_bytes())
    run = fastbp_command("inspect", str(path), timeout=60)
    assert run.returncode == 0, run.stderr
    assert "classes_ (str): ant, bee, cow" in run.stdout
    assert "kind        mlp_classifier" in run.stdout
    assert "checksum    verified: the header and arrays are as written" in run.stdout


def test_inspect_refuses_damaged_arrays_unless_told_to_read_the_header_only(tmp_path):
    # inspect verifies the checksum as load does (it used to read the header alone and pass this)
    data = bytearray((MODEL_FILES / "v1-mlp_classifier.safetensors").read_bytes())
    data[-1] ^= 0xFF  # damage only the arrays
    path = tmp_path / "c.safetensors"
    path.write_bytes(bytes(data))
    run = fastbp_command("inspect", str(path), timeout=60)
    assert run.returncode == 2 and run.stdout == ""
    assert re.search(r"^fastbp: error: .*c.safetensors: .*checksum does not match", run.stderr)
    with pytest.raises(fastbp.ModelFileError, match="checksum"):
        fastbp.load(path)
    run = fastbp_command("inspect", "--header-only", str(path), timeout=60)
    assert run.returncode == 0, run.stderr
    assert "classes_ (str): ant, bee, cow" in run.stdout
    assert "checksum    not verified (header only)" in run.stdout


@pytest.mark.parametrize("content, message", [
    (None, "No such file or directory"),
    (b"", "the file is 0 bytes long"),
    (b"#!/bin/sh\nrm -rf /\n", "header length .* exceeds"),
    ("truncated", "runs past the end"),
    ("newer", "format version 9 is newer"),
], ids=["missing", "empty", "not a model", "truncated", "newer version"])
def test_inspect_refuses_bad_files_with_exit_2_and_one_line(tmp_path, content, message):
    path = tmp_path / "bad.safetensors"
    good = (MODEL_FILES / "v1-sequential.safetensors").read_bytes()
    if content == "truncated":
        content = good[:100]
    elif content == "newer":
        content = good.replace(b'\\"format_version\\":1', b'\\"format_version\\":9')
        assert content != good
    if content is not None:
        path.write_bytes(content)
    run = fastbp_command("inspect", str(path), timeout=60)
    assert run.returncode == 2 and run.stdout == ""
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert re.search(f"^fastbp: error: .*bad.safetensors: .*{message}", run.stderr), run.stderr


# ---- arguments ----------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    (),
    ("bogus",),
    ("demo", "--epochs", "0"),
    ("demo", "--epochs", "ten"),
    ("demo", "--seed", "1.5"),
    ("bench",),
    ("bench", "nope"),
    ("bench", "gradient-cost", "--plot", "cost.jpg"),
    ("bench", "gradient-cost", "--json", "/no/such/folder/cost.json"),
    ("bench", "gradient-cost", "--quick", "extra"),
    ("info", "--verbose"),
    ("inspect",),
    ("inspect", "a.safetensors", "b.safetensors"),
], ids=lambda args: " ".join(args) or "nothing")
def test_bad_arguments_exit_2_with_one_error_line(args):
    run = fastbp_command(*args, timeout=60)
    assert run.returncode == 2
    assert run.stdout == ""
    assert len(run.stderr.strip().splitlines()) == 1 and "error:" in run.stderr, run.stderr


def test_plot_without_matplotlib_fails_at_once_with_one_line(tmp_path):
    run = fastbp_command("bench", "gradient-cost", "--quick", "--plot", str(tmp_path / "c.png"),
                         prelude="import sys; sys.modules['matplotlib'] = None", timeout=60)
    assert run.returncode == 1
    assert run.stderr.strip() == ("fastbp: error: --plot needs matplotlib, which is not installed: "
                                  "pip install 'fastbp[plot]'")
    assert not (tmp_path / "c.png").exists()


@pytest.mark.parametrize("args, documented", [
    ((), ("demo", "bench", "info", "inspect")),
    (("inspect",), ("FILE", "header", "checksum", "--header-only")),
    (("warmup",), ("--dtype", "--model", "predict_proba", "Sequential.forward")),
    (("demo",), ("--epochs", "--seed", "--quiet", "digits")),
    (("bench",), ("gradient-cost",)),
    (("bench", "gradient-cost"), ("--quick", "--plot", "--json", "--seed")),
    (("info",), ("BLAS", "SIMD", "CUDA")),
])
def test_help_documents_each_command(args, documented):
    run = fastbp_command(*args, "--help", timeout=60)
    assert run.returncode == 0, run.stderr
    for word in documented:
        assert word in run.stdout


def test_version():
    run = fastbp_command("--version", timeout=60)
    assert (run.returncode, run.stdout.strip()) == (0, f"fastbp {fastbp.__version__}")


def test_console_script_is_installed():
    scripts = importlib.metadata.entry_points(group="console_scripts", name="fastbp")
    assert [ep.value for ep in scripts] == ["fastbp.cli:main"], (
        "pyproject.toml needs [project.scripts] fastbp = \"fastbp.cli:main\" and a reinstall")
    path = shutil.which("fastbp")
    assert path, "the fastbp script is not on PATH"
    run = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == f"fastbp {fastbp.__version__}"
