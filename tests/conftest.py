"""Shared test setup: an empty Numba cache of the suite's own, ``helpers`` importable whatever
pytest's import mode, hypothesis's profiles, its failure reports kept working under
``filterwarnings = error``, and no fit's run sizes carried from one test to the next.

The suite compiles into a new, empty ``NUMBA_CACHE_DIR`` (removed at exit), unless the variable is
set already: code a developer's earlier checkout left in the kernels' ``__pycache__`` is never what
a test runs, and the test processes' subprocesses, which inherit the variable, share what the suite
compiled. It is set here, at the suite's start, before anything imports Numba (which reads it once).

Hypothesis profiles (``HYPOTHESIS_PROFILE``): ``ci``, the default, draws the same examples on every
run, so a test run passes or fails on the code alone; ``explore`` draws new ones each run
(``HYPOTHESIS_PROFILE=explore python -m pytest tests/test_properties.py``), to look for inputs the
fixed draw misses.
"""

import atexit
import os
import pathlib
import shutil
import sys
import tempfile

import pytest

if not os.environ.get("NUMBA_CACHE_DIR"):
    _NUMBA_CACHE = tempfile.mkdtemp(prefix="fastbp-tests-numba-cache-")
    os.environ["NUMBA_CACHE_DIR"] = _NUMBA_CACHE
    atexit.register(shutil.rmtree, _NUMBA_CACHE, ignore_errors=True)
    if "numba" in sys.modules:  # imported by a plugin before this file: tell it too
        sys.modules["numba"].config.CACHE_DIR = _NUMBA_CACHE

from hypothesis import settings  # noqa: E402  (after the cache is set: it may import Numba)

settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

_HERE = str(pathlib.Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


def pytest_configure(config):
    # When a hypothesis test fails, hypothesis's pytest plugin imports libcst to suggest a patch,
    # and libcst imports mypy_extensions.TypedDict, which warns. Turned into an error, that warning
    # crashes the whole session (INTERNALERROR) instead of reporting the failing example.
    config.addinivalue_line(
        "filterwarnings", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")


@pytest.fixture(autouse=True)
def _no_remembered_epoch_times(monkeypatch):
    """Each test's fits size their runs as a process's first fit does: an earlier test's fit of
    the same network would otherwise let the first run skip its timing epoch
    (fastbp/training/runs.py), and a test's runs depend on the tests before it."""
    runs = sys.modules.get("fastbp.training.runs")
    if runs is not None:
        monkeypatch.setattr(runs, "_SECONDS_PER_ROW", {})
