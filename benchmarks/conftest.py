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


def pytest_benchmark_update_json(config, benchmarks, output_json):
    """Leave each benchmark's raw per-round samples out of the JSON: the committed results keep
    pytest-benchmark's statistics and each suite's ``extra_info``, not thousands of timings."""
    for benchmark in output_json["benchmarks"]:
        benchmark["stats"].pop("data", None)
