"""Shared test setup: ``helpers`` importable whatever pytest's import mode, hypothesis's profiles,
and its failure reports kept working under ``filterwarnings = error``.

Hypothesis profiles (``HYPOTHESIS_PROFILE``): ``ci``, the default, draws the same examples on every
run, so a test run passes or fails on the code alone; ``explore`` draws new ones each run
(``HYPOTHESIS_PROFILE=explore python -m pytest tests/test_properties.py``), to look for inputs the
fixed draw misses.
"""

import os
import pathlib
import sys

from hypothesis import settings

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
