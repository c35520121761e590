"""Step 1: the test suite's CUDA tests, run by pytest on the device in this process's environment.

On a GPU (``NUMBA_ENABLE_CUDASIM`` unset) ``tests/test_cuda_kernels.py`` runs on the device itself,
including its ``on_gpu`` tests at the shipped launch geometry; in the dry run a few of them run in
the simulator. The summary counts outcomes from pytest's JUnit XML.
"""

import importlib.util
import os
import pathlib
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

from .results import finish, step_arguments

ROOT = pathlib.Path(__file__).resolve().parents[2]


def junit_summary(path):
    """Outcome counts and the ids of failed, errored and skipped tests from a JUnit XML file."""
    summary = {"passed": 0, "failed": [], "errors": [], "skipped": []}
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        outcome = next((child.tag for child in case
                        if child.tag in ("failure", "error", "skipped")), None)
        if outcome is None:
            summary["passed"] += 1
        else:
            key = {"failure": "failed", "error": "errors", "skipped": "skipped"}[outcome]
            message = (case.find(outcome).get("message") or "").splitlines()
            summary[key].append(f"{name}: {message[0] if message else ''}"[:300])
    return summary


def main(argv=None):
    """Run the step; see the module docstring."""
    profile, record = step_arguments(__doc__, argv)
    with tempfile.TemporaryDirectory() as tmp:
        junit = pathlib.Path(tmp) / "junit.xml"
        command = [sys.executable, "-m", "pytest", *profile.suite, "-q", "-rfEs",
                   "--durations=5", "-p", "no:cacheprovider", f"--junitxml={junit}"]
        if profile.suite_workers and importlib.util.find_spec("xdist") is not None:
            command += ["-n", str(profile.suite_workers)]
        elif profile.suite_workers:
            record.note("pytest-xdist is not installed: the tests run in one process")
        record.data.update(command=command[1:],
                           simulator=os.environ.get("NUMBA_ENABLE_CUDASIM") == "1")
        record.save()
        print(" ".join(command), flush=True)
        result = subprocess.run(command, cwd=ROOT)
        record.data["returncode"] = result.returncode
        if junit.exists():
            record.data.update(junit_summary(junit))
    if result.returncode != 0:
        record.fail(f"pytest exited with {result.returncode}")
    if not record.data.get("passed"):
        record.fail("no test passed")
    print(f"passed {record.data.get('passed')}, failed {len(record.data.get('failed', []))}, "
          f"errors {len(record.data.get('errors', []))}, skipped "
          f"{len(record.data.get('skipped', []))}", flush=True)
    finish(record)


if __name__ == "__main__":
    main()
