"""Shared benchmark options: ``--profile quick`` (CI smoke, default) or ``--profile full``."""

import pytest


def pytest_addoption(parser):
    parser.addoption("--profile", choices=("quick", "full"), default="quick",
                     help="benchmark sizes: quick (minutes, the CI smoke run) or full (the "
                          "committed results)")


@pytest.fixture(scope="session")
def profile(request):
    """``"quick"`` or ``"full"``."""
    return request.config.getoption("--profile")
