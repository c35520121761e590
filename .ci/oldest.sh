#!/usr/bin/env bash
# The test suite on the oldest versions that pyproject.toml allows: Python 3.10 where this machine
# has it (requires-python's floor), and the dependencies pinned in .ci/oldest-constraints.txt,
# installed with the test extra into a fresh virtual environment, the checkout installed editable
# as the main run installs it, and an empty Numba cache of its own (Numba 0.60's index files must
# not take the place of the current Numba's in the checkout's __pycache__). A test comparing with
# a feature newer than a pinned version skips, saying which.
#
# Left out, to keep this run within its share of CI's time (about half of the suite's time on two
# cores), each for a reason that makes it no test of the oldest versions:
# - tests/test_dask_*.py: Dask, distributed and dask-ml are not pinned here (they resolve to the
#   releases the main run installs); the estimators and Sequential they drive are tested here;
# - the CUDA kernels in numba-cuda's simulator (test_cuda_backend.py::test_kernels_in_simulator)
#   and the GPU script's dry run there (tests/test_gpu_script.py, which a GPU machine runs on its
#   own current versions): the simulator runs the kernels as Python, whatever the Numba version,
#   and the main run checks them against the reference; their compilation to PTX under the oldest
#   Numba is kept (tests/test_cuda_ptx.py);
# - tests/test_docs_blocks.py and tests/test_readme.py: the pages' examples call the API tested
#   here.
# FASTBP_OLDEST_ALL=1 runs the whole suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python=python
for candidate in python3.10 "$(pyenv root 2>/dev/null || echo /nonexistent)"/versions/3.10*/bin/python3.10; do
    if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
        python=$candidate
        break
    fi
done
if [ "$python" = python ]; then
    echo "oldest: no Python 3.10 on this machine; the oldest versions run on $(python --version)"
fi

"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q -c .ci/oldest-constraints.txt -e ".[test]"
"$work/venv/bin/python" -m pip check
"$work/venv/bin/python" - <<'PYTHON'
import importlib.metadata as metadata
import platform

names = ("numpy", "scipy", "numba", "llvmlite", "scikit-learn", "threadpoolctl", "tqdm",
         "safetensors", "numba-cuda")
print(f"oldest: Python {platform.python_version()},",
      ", ".join(f"{name} {metadata.version(name)}" for name in names))
PYTHON

left_out=()
if [ "${FASTBP_OLDEST_ALL:-0}" != 1 ]; then
    left_out=(--ignore-glob="tests/test_dask_*.py"
              --deselect=tests/test_cuda_backend.py::test_kernels_in_simulator
              --ignore=tests/test_gpu_script.py
              --ignore=tests/test_docs_blocks.py --ignore=tests/test_readme.py)
fi
NUMBA_CACHE_DIR="$work/numba-cache" "$work/venv/bin/python" -m pytest -p no:cacheprovider \
    "${left_out[@]}" "$@"
