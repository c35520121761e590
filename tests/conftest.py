"""Shared test setup: ``helpers`` importable whatever pytest's import mode, and hypothesis's
failure reports kept working under ``filterwarnings = error``."""

import pathlib
import sys

_HERE = str(pathlib.Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


def pytest_configure(config):
    # When a hypothesis test fails, hypothesis's pytest plugin imports libcst to suggest a patch,
    # and libcst imports mypy_extensions.TypedDict, which warns. Turned into an error, that warning
    # crashes the whole session (INTERNALERROR) instead of reporting the failing example.
    config.addinivalue_line(
        "filterwarnings", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")
