"""Validate and benchmark fastbp's CUDA backend in one command; ``--dry-run`` in the simulator.

Runs the steps of :data:`benchmarks.gpu.profiles.STEPS` in order, each as its own process under a
wall-clock bound, so a step that fails, hangs or crashes the driver leaves the later ones their
turn. Writes to the results folder (``--out``): ``summary.json`` (every step's status, time and
result, rewritten after each step), ``summary.txt`` (the table printed last) and one ``N-step.log``
per step. Exit status 0 when every step succeeded.

Usage: ``python benchmarks/gpu/run.py [--dry-run] [--out DIR] [--steps gemm,training]``
"""

import argparse
import datetime
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.gpu import report  # noqa: E402
from benchmarks.gpu.profiles import DEVICE, DRY_RUN, STEPS  # noqa: E402
from benchmarks.gpu.results import write_json  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "gpu-run"


def step_environment(profile, numba_cache):
    """Environment of the step processes: simulator on or off, one Numba cache for all steps."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", NUMBA_CACHE_DIR=numba_cache)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if profile.simulator:
        env["NUMBA_ENABLE_CUDASIM"] = "1"  # must be set before numba is first imported
    else:
        env.pop("NUMBA_ENABLE_CUDASIM", None)
    return env


def run_bounded(command, log_path, bound_s, env):
    """Run ``command`` with its output to ``log_path``, stopped after ``bound_s`` seconds.

    The command runs in a session of its own, so stopping it stops everything it started
    (pytest's workers, a compiler).

    Returns
    -------
    status : {"ok", "failed", "timeout"}
    returncode : int or None
    seconds : float
    """
    start = time.perf_counter()
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   cwd=ROOT, start_new_session=True)
        try:
            returncode = process.wait(timeout=bound_s)
        except subprocess.TimeoutExpired:
            for sig, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, None)):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
            process.wait()
            log.write(f"\n--- stopped after its bound of {bound_s} s ---\n")
            return "timeout", None, time.perf_counter() - start
    return ("ok" if returncode == 0 else "failed"), returncode, time.perf_counter() - start


def read_result(path):
    """The JSON a step wrote, or None if it wrote none (or only a broken one)."""
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError):
        return None


def run(profile, out, steps=STEPS, numba_cache=None):
    """Run ``steps`` under ``profile``, writing into ``out``.

    Returns
    -------
    dict
        The summary written to ``summary.json``.
    """
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    now = datetime.datetime.now(datetime.timezone.utc)
    summary = {"profile": profile.name, "started": now.isoformat(timespec="seconds"), "steps": {}}
    numba_cache = numba_cache or os.environ.get("NUMBA_CACHE_DIR") or str(
        pathlib.Path(tempfile.gettempdir()) / "fastbp-gpu-run-numba-cache")
    env = step_environment(profile, numba_cache)
    with tempfile.TemporaryDirectory() as scratch:
        for index, name in enumerate(steps, start=1):
            result_path = pathlib.Path(scratch) / f"{name}.json"
            log_name = f"{index}-{name}.log"
            command = [sys.executable, "-m", f"benchmarks.gpu.step_{name}",
                       "--profile", profile.name, "--result", str(result_path)]
            bound = profile.bounds[name]
            print(f"[{index}/{len(steps)}] {name} (bound {bound} s) ...", flush=True)
            status, returncode, seconds = run_bounded(command, out / log_name, bound, env)
            summary["steps"][name] = {"status": status, "returncode": returncode,
                                      "seconds": seconds, "bound_s": bound, "log": log_name,
                                      "result": read_result(result_path)}
            summary["wall_s"] = time.perf_counter() - started
            write_json(out / "summary.json", summary)
            print(f"[{index}/{len(steps)}] {name}: {status} in {seconds:.1f} s", flush=True)
    text = report.table(summary)
    (out / "summary.txt").write_text(text)
    print(text, end="", flush=True)
    return summary


def main(argv=None):
    """Command line; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true",
                        help="run in numba-cuda's simulator at toy sizes (no GPU needed)")
    parser.add_argument("--out", default=os.environ.get("OUT") or str(DEFAULT_OUT),
                        help="results folder (default: $OUT, else benchmarks/results/gpu-run)")
    parser.add_argument("--steps", default=",".join(STEPS),
                        help=f"comma-separated subset of {','.join(STEPS)}")
    args = parser.parse_args(argv)
    steps = [s for s in args.steps.split(",") if s]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        parser.error(f"unknown steps {unknown}; choose from {list(STEPS)}")
    summary = run(DRY_RUN if args.dry_run else DEVICE, args.out, steps)
    return 0 if all(s["status"] == "ok" for s in summary["steps"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
