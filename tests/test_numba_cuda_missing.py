"""Without the numba-cuda package, the CUDA backend says so, and how to install it, both when its
module is imported and when a model asks for ``backend="cuda"``; Numba's own deprecated built-in
``numba.cuda`` (which Numba 0.60 to 0.68 still ship) is never imported in its place.

Each case runs in a fresh interpreter in which ``numba_cuda`` cannot be found (``sys.modules``
maps it to None, which the import system and :func:`importlib.util.find_spec` read as absent), so
it holds whether or not numba-cuda is installed here.
"""

import json
import subprocess
import sys
import textwrap

HIDDEN = "import sys\nsys.modules['numba_cuda'] = None\n"


def _run(code):
    script = HIDDEN + textwrap.dedent(code) + textwrap.dedent("""
        import json
        print(json.dumps({"error": type(error).__name__, "message": str(error),
                          "name": getattr(error, "name", None),
                          "numba.cuda imported": "numba.cuda" in sys.modules}))
        """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def _names_the_package_and_the_command(message):
    assert "numba-cuda package, which is not installed" in message, message
    assert 'pip install "fastbp[cuda]" (CUDA 13)' in message, message
    assert 'pip install "fastbp[cuda12]" (CUDA 12)' in message, message


def test_importing_the_cuda_kernels_names_numba_cuda():
    found = _run("""
        try:
            from fastbp.kernels import cuda
        except ImportError as caught:
            error = caught
        """)
    assert found["error"] == "ModuleNotFoundError"
    assert found["name"] == "numba_cuda"  # what pytest.importorskip and `except` clauses read
    assert found["message"].startswith("fastbp.kernels.cuda: ")
    _names_the_package_and_the_command(found["message"])
    assert not found["numba.cuda imported"]


def test_importing_a_cuda_submodule_names_numba_cuda():
    found = _run("""
        try:
            import fastbp.kernels.cuda.launch
        except ImportError as caught:
            error = caught
        """)
    assert found["error"] == "ModuleNotFoundError"
    _names_the_package_and_the_command(found["message"])
    assert not found["numba.cuda imported"]


def test_backend_cuda_names_numba_cuda():
    found = _run("""
        import fastbp
        try:
            fastbp.Sequential([fastbp.Dense(2, 1)], backend="cuda")
        except fastbp.DeviceError as caught:
            error = caught
        """)
    assert found["error"] == "DeviceError"
    _names_the_package_and_the_command(found["message"])
    assert not found["numba.cuda imported"]


def test_estimator_backend_cuda_names_numba_cuda():
    found = _run("""
        import numpy as np
        import fastbp
        try:
            fastbp.MLPRegressor(hidden_layer_sizes=(2,), backend="cuda", max_iter=1).fit(
                np.zeros((4, 2)), np.zeros(4))
        except fastbp.DeviceError as caught:
            error = caught
        """)
    assert found["error"] == "DeviceError"
    _names_the_package_and_the_command(found["message"])
    assert not found["numba.cuda imported"]
