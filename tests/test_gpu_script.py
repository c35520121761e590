"""The GPU validation and benchmark script (``benchmarks/gpu/run.py``), dry-run in the simulator.

A GPU machine runs the script once, with no time to debug it, so CI runs every step of it in
numba-cuda's simulator at toy sizes (``--dry-run``: same functions, same result files, smaller) and
checks what it wrote. Timings from the simulator mean nothing and are not checked.
"""

import dataclasses
import importlib.metadata
import importlib.util
import json
import math
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    # benchmarks/ is a package of the repository, not of fastbp; appended, so an installed fastbp
    # still wins over the source tree's
    sys.path.append(str(ROOT))

from benchmarks.gpu import validation  # noqa: E402
from benchmarks.gpu.profiles import DRY_RUN, STEPS  # noqa: E402
from benchmarks.gpu.run import run, run_bounded  # noqa: E402
from benchmarks.training_cases import CASES  # noqa: E402

needs_numba_cuda = pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None,
                                      reason="numba-cuda is not installed")

#: Files a GPU run may leave in its results folder (all that comes back from a lent machine);
#: run.sh adds install.log to run.py's.
MAX_FILES = 8


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    """The script's dry run: ``(completed process, results folder, summary.json)``."""
    out = tmp_path_factory.mktemp("gpu-run")
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu" / "run.py"),
                             "--dry-run", "--out", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=900)
    summary_path = out / "summary.json"
    assert summary_path.exists(), f"no summary.json:\n{result.stdout}\n{result.stderr}"
    return result, out, json.loads(summary_path.read_text())


def _result(summary, step):
    return summary["steps"][step]["result"]


@needs_numba_cuda
def test_every_step_runs_and_succeeds(dry_run):
    result, out, summary = dry_run
    logs = {name: (out / step["log"]).read_text() for name, step in summary["steps"].items()}
    assert list(summary["steps"]) == list(STEPS)
    for name, step in summary["steps"].items():
        assert step["status"] == "ok", f"step {name}: {step['status']}\n{logs[name][-5000:]}"
        assert step["result"]["ok"] and step["result"]["profile"] == "dry-run"
        assert step["seconds"] < step["bound_s"]
        assert logs[name].strip(), f"step {name} logged nothing"
    assert result.returncode == 0, result.stdout + result.stderr


@needs_numba_cuda
def test_the_suite_step_runs_cuda_tests(dry_run):
    suite = _result(dry_run[2], "suite")
    assert suite["simulator"] is True
    assert suite["passed"] >= 5 and suite["failed"] == [] and suite["errors"] == []
    assert suite["returncode"] == 0


@needs_numba_cuda
def test_every_gemm_is_validated_against_the_baseline(dry_run):
    gemm = _result(dry_run[2], "gemm")
    assert gemm["baseline"].startswith("numpy")
    measured = {(e["n"], e["dtype"], e["variant"]) for e in gemm["results"]}
    assert measured == {(n, d, v) for n in DRY_RUN.gemm_sizes for d in DRY_RUN.gemm_dtypes
                        for v in DRY_RUN.gemm_variants}
    for e in gemm["results"]:
        tolerance = validation.TOLERANCE[e["dtype"]]
        assert e["valid"] is True
        assert 0 < e["error_vs_baseline"] < tolerance, e
        assert e["error_vs_float64_rows"] < tolerance
        assert e["baseline_error_vs_float64_rows"] < tolerance
        for side in ("fastbp", "baseline"):
            assert e[side]["median_s"] > 0 and math.isfinite(e[side]["tflops"])
            assert e[side]["repeats"] == DRY_RUN.gemm_min_repeats
        assert e["fastbp"]["clock"] == "host clock (simulator)"
        assert e["ratio"] == pytest.approx(e["fastbp"]["tflops"] / e["baseline"]["tflops"])


@needs_numba_cuda
def test_training_runs_every_case_on_both_sides(dry_run):
    training = _result(dry_run[2], "training")
    # no PyTorch here: the stand-in says so inside the results
    assert "PyTorch" in training["baseline"] or "stand-in" in training["baseline"]
    assert list(training["cases"]) == list(CASES)
    for case, e in training["cases"].items():
        hidden = CASES[case][1]
        assert len(e["dims"]) == len(hidden) + 2 and e["dims"][-1] == 10
        assert e["epochs"] == DRY_RUN.training_epochs
        for side in ("fastbp", "baseline"):
            assert len(e[side]["epoch_s"]) == e["epochs"]
            assert e[side]["median_epoch_s"] > 0
            assert 0 <= e[side]["accuracy"] <= 1
        assert e["fastbp"]["warmup_epoch_s"] > 0
        assert e["speedup"] > 0


@needs_numba_cuda
def test_memory_step_reports_the_workspaces_a_fit_leaves(dry_run):
    memory = _result(dry_run[2], "memory")
    assert memory["case"] == DRY_RUN.memory_case
    # train_epoch caches the workspace of a fit's batch size; clearing drops it
    assert memory["cached_after_fit"]["epoch_workspaces"] >= 1
    assert memory["leaves_workspaces_held"] is True
    assert memory["cached_after_clearing"] == {"epoch_workspaces": 0, "constants": 0}
    assert memory["peak_in_use"] is None and any("simulator" in n for n in memory["notes"])
    assert memory["samples"] >= 2


@needs_numba_cuda
def test_versions_are_recorded(dry_run):
    versions = _result(dry_run[2], "versions")
    assert versions["device"]["simulator"] is True
    assert versions["packages"]["numba-cuda"] == importlib.metadata.version("numba-cuda")
    assert versions["packages"]["numba"] == importlib.metadata.version("numba")
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))


@needs_numba_cuda
def test_summary_table_is_printed_last_and_saved(dry_run):
    result, out, _ = dry_run
    table = (out / "summary.txt").read_text()
    assert result.stdout.endswith(table)
    for name in STEPS:
        assert re.search(rf"^{name}\s+ok\s", table, re.MULTILINE), table
    assert "GEMM vs numpy" in table and "training (float32)" in table
    assert table.count("True") >= len(DRY_RUN.gemm_sizes) * 4


@needs_numba_cuda
def test_results_fit_what_the_device_returns(dry_run):
    out = dry_run[1]
    entries = list(out.iterdir())
    assert all(p.is_file() for p in entries)
    assert len(entries) < MAX_FILES  # leaves room for run.sh's install.log
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", p.name) for p in entries)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_validation_rejects_nan_and_tf32_sized_errors(dtype):
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((40, 40)).astype(dtype)
    assert validation.passes(validation.relative_error(ref, ref), dtype)
    poisoned = ref.copy()
    poisoned[3, 5] = np.nan  # one element the kernel failed to write
    assert math.isnan(validation.relative_error(poisoned, ref))
    assert not validation.passes(validation.relative_error(poisoned, ref), dtype)
    off = ref * (1 + 3e-4 * rng.standard_normal(ref.shape))  # TF32's size of error
    assert not validation.passes(validation.relative_error(off.astype(dtype), ref), dtype)
    assert not validation.passes(float("nan"), dtype)


def test_a_step_past_its_bound_is_stopped(tmp_path):
    command = [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(60)"]
    status, returncode, seconds = run_bounded(command, tmp_path / "log", 2, env=None)
    assert (status, returncode) == ("timeout", None) and seconds < 30
    assert "stopped after its bound" in (tmp_path / "log").read_text()
    status, returncode, _ = run_bounded([sys.executable, "-c", "raise SystemExit(3)"],
                                        tmp_path / "log2", 30, env=None)
    assert (status, returncode) == ("failed", 3)


@needs_numba_cuda
def test_a_stopped_step_is_recorded_and_tabulated(tmp_path):
    profile = dataclasses.replace(DRY_RUN, bounds=dict(DRY_RUN.bounds, versions=0.01))
    summary = run(profile, tmp_path, steps=("versions",))
    assert summary["steps"]["versions"]["status"] == "timeout"
    assert json.loads((tmp_path / "summary.json").read_text())["steps"]["versions"]["status"] \
        == "timeout"
    assert re.search(r"^versions\s+timeout\s", (tmp_path / "summary.txt").read_text(),
                     re.MULTILINE)


def test_a_partial_result_still_tabulates():
    """A step that failed half-way leaves a partial document; the table shows what is there."""
    from benchmarks.gpu import report

    case = {"fastbp": {"median_epoch_s": 0.5, "accuracy": 0.9, "epoch_s": [0.5]},
            "baseline": {"error": "RuntimeError: CUDA out of memory"}}
    summary = {"profile": "device", "started": "now", "wall_s": 1.0, "steps": {
        "training": {"status": "failed", "seconds": 1.0, "bound_s": 100, "log": "3-training.log",
                     "result": {"baseline": "PyTorch", "cases": {"c_1024": case},
                                "notes": ["FAILED: c_1024, baseline: out of memory"]}},
        "memory": {"status": "timeout", "seconds": 45.0, "bound_s": 45, "log": "4-memory.log",
                   "result": None}}}
    table = report.table(summary)
    assert re.search(r"^c_1024\s+0\.5\s+-\s+-\s+0\.900 / -$", table, re.MULTILINE), table
    assert re.search(r"^memory\s+timeout\s", table, re.MULTILINE)
    assert "training: FAILED: c_1024, baseline: out of memory" in table
