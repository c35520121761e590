"""Every CUDA kernel compiles to real PTX for sm_80 and sm_90, in both dtypes, with no GPU.

The simulator runs kernels as Python, so code it accepts may not compile for a device; this compiles
each kernel listed by :func:`fastbp.kernels.cuda.ptx_targets` with ``numba.cuda.compile_ptx`` in a
subprocess where the simulator is off. It also checks that float32 kernels contain no float64
instruction (a float64 constant silently promoting float32 arithmetic), except the kernels that
compute in float64 by design.
"""

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

pytest.importorskip("numba_cuda", reason="numba-cuda is not installed")

from fastbp.kernels import cuda as kc  # noqa: E402  (needs numba-cuda, not a GPU)

COMPUTE_CAPABILITIES = ((8, 0), (9, 0))

# numba-cuda (0.30) types a kernel's calls to device functions for the *current* device's compute
# capability even inside compile_ptx, which fails where there is no driver. The shim answers with the
# capability being compiled for; the kernel's own code generation uses the cc given to compile_ptx.
_SCRIPT = r"""
import json, re, sys, types
import numba.cuda.dispatcher as dispatcher
from numba import cuda
from fastbp.kernels.cuda import ptx_targets

results = []
for cc in json.loads(sys.argv[1]):
    cc = tuple(cc)
    dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=cc)
    for name, dtype, fn, argtypes, uses_float64 in ptx_targets():
        entry = {"name": name, "dtype": dtype, "cc": list(cc), "error": None, "float64": False}
        try:
            ptx, _ = cuda.compile_ptx(fn, argtypes, cc=cc)
            assert f".target sm_{cc[0]}{cc[1]}" in ptx, "PTX for the wrong target"
            entry["float64"] = bool(re.search(r"\.f64\b", ptx))
        except Exception as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"
        results.append(entry)
print(json.dumps(results))
"""

TARGETS = [(name, dtype, uses_float64) for name, dtype, _, _, uses_float64 in kc.ptx_targets()]


@pytest.fixture(scope="module")
def compiled():
    """``(name, dtype, cc) -> result`` for every kernel, from one compiling subprocess."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["NUMBA_DISABLE_ERROR_MESSAGE_HIGHLIGHTING"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(COMPUTE_CAPABILITIES)],
        env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"the compiling subprocess failed:\n{result.stderr[-20000:]}"
    entries = json.loads(result.stdout.strip().splitlines()[-1])
    return {(e["name"], e["dtype"], tuple(e["cc"])): e for e in entries}


@pytest.mark.parametrize("cc", COMPUTE_CAPABILITIES, ids=lambda cc: f"sm_{cc[0]}{cc[1]}")
@pytest.mark.parametrize("name, dtype, uses_float64", TARGETS,
                         ids=[f"{name}-{dtype}" for name, dtype, _ in TARGETS])
def test_kernel_compiles_to_ptx(compiled, name, dtype, uses_float64, cc):
    entry = compiled[(name, dtype, cc)]
    assert entry["error"] is None, f"{name} ({dtype}) does not compile for sm_{cc[0]}{cc[1]}:\n" \
                                   f"{entry['error']}"
    if dtype == "float32" and not uses_float64:
        assert not entry["float64"], (f"{name} (float32) contains float64 instructions: a float64 "
                                      f"constant or cast promotes its arithmetic")


def test_every_kernel_is_listed():
    """Kernels are made only by launch.kernel (registered) or the GEMM factories (enumerated).

    A ``cuda.jit`` kernel written anywhere else would escape ``ptx_targets`` and this check.
    """
    folder = pathlib.Path(kc.__file__).parent
    allowed = {("launch.py", "compiled = cuda.jit(cache=True)(fn)"),
               ("gemm.py", "@cuda.jit")}
    stray = [f"{path.name}: {line.strip()}"
             for path in sorted(folder.glob("*.py"))
             for line in path.read_text().splitlines()
             if re.search(r"\bcuda\.jit\b", line) and "device=True" not in line
             and (path.name, line.strip()) not in allowed and not line.strip().startswith("#")]
    assert not stray, f"kernels made outside the registry: {stray}"
    gemm_source = (folder / "gemm.py").read_text()
    assert gemm_source.count("@cuda.jit\n") == 2, "a new GEMM variant must be added to ptx_targets"
    names = {name for name, _, _ in TARGETS}
    assert len(names) >= 20 and {"gemm_plain_forward", "gemm_blocked_inputs"} <= names
