"""The CUDA backend from the main test process: its error without a device, and its simulator run.

numba-cuda's simulator replaces ``numba.cuda`` only when ``NUMBA_ENABLE_CUDASIM=1`` is set before
numba first imports it, and this process imports it for real. So where no GPU is usable,
``test_kernels_in_simulator`` runs the CUDA test files in a subprocess with the simulator on; where
one is, they run in this process on the GPU and the subprocess is not needed.
"""

import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

import fastbp
from fastbp import backends
from fastbp.kernels.cuda_device import DeviceUnavailable, check_device

#: Test files that exercise the CUDA kernels; without a GPU they run in the simulator.
SIMULATED = ["test_cuda_kernels.py", "test_cuda_epoch_chunks.py"]

#: Tests in those files that need real hardware, left out of the simulator run.
NEEDS_GPU = "on_gpu"


def _device_problem():
    try:
        check_device()
    except DeviceUnavailable as exc:
        return str(exc)
    return None


DEVICE_PROBLEM = _device_problem()


@pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None,
                    reason="numba-cuda is not installed")
@pytest.mark.skipif(DEVICE_PROBLEM is None,
                    reason="a CUDA device is usable: the CUDA tests run on it in this process")
def test_kernels_in_simulator():
    here = pathlib.Path(__file__).parent
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *(str(here / f) for f in SIMULATED), "-q",
         "-p", "no:cacheprovider", "-x", "-k", f"not {NEEDS_GPU}"],
        env=env, capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    summary = output.strip().splitlines()[-1] if output.strip() else ""
    assert result.returncode == 0, f"simulator run failed:\n{output[-20000:]}"
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 100, f"too few CUDA tests ran: {summary!r}"
    assert "skipped" not in summary, f"CUDA tests were skipped in the simulator: {summary!r}"
    print(f"simulator run: {summary}")


def test_missing_numba_cuda_is_a_device_error(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "numba_cuda" else real_find_spec(name, *a))
    with pytest.raises(fastbp.DeviceError,
                       match=r'numba-cuda package, which is not installed.*"fastbp\[cuda\]" '
                             r'\(CUDA 13\).*"fastbp\[cuda12\]" \(CUDA 12\)'):
        backends.load("cuda")
    with pytest.raises(fastbp.DeviceError, match="not installed"):
        fastbp.Sequential([fastbp.Dense(2, 1)], backend="cuda")


@pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None,
                    reason="numba-cuda is not installed")
def test_no_gpu_is_a_device_error():
    if DEVICE_PROBLEM is None:
        assert backends.load("cuda").dense_forward  # a GPU (or the simulator) is usable here
        return
    with pytest.raises(fastbp.DeviceError, match="numba-cuda is installed but cannot use a GPU"):
        backends.load("cuda")
