"""A second fastbp process training beside a benchmark: the contention of ``GridSearchCV(n_jobs=2)``,
a Dask worker or a busy laptop.

``python -m benchmarks.contention`` trains case (a) of :mod:`benchmarks.training_cases` (the digits
fit) again and again with fastbp's default thread policy, printing ``ready`` once its first fit (and
JIT compile) is done, until it is stopped.
"""

import contextlib
import pathlib
import subprocess
import sys
import time

import numpy as np

import fastbp

from .training_cases import CASES, case_data, fastbp_model

CASE = "a_digits"


def digits_fit(epochs=None):
    """Case (a)'s fit, as ``benchmarks/test_training.py`` times it; returns its seconds.

    Parameters
    ----------
    epochs : int, optional
        The case's 50 unless given (the smoke run's shorter fits).
    """
    _, hidden, batch_size, case_epochs, _ = CASES[CASE]
    X, _, y, _ = _data()
    dims = [X.shape[1], *hidden, 10]
    start = time.perf_counter()
    fastbp_model(dims).fit(X, y, epochs=epochs or case_epochs, batch_size=batch_size,
                           optimizer=fastbp.Adam(1e-3), alpha=1e-4, seed=0)
    return time.perf_counter() - start


_cache = {}


def _data():
    if "data" not in _cache:
        _cache["data"] = case_data(CASES[CASE][0], "full")  # digits: the same in every profile
    return _cache["data"]


@contextlib.contextmanager
def second_trainer():
    """Context with another process training the digits fit in a loop beside this one; it is
    stopped on exit. Yields its ``Popen``."""
    root = pathlib.Path(__file__).resolve().parent.parent
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.contention"], cwd=root,
                               stdout=subprocess.PIPE, text=True)
    try:
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the second trainer failed to start (exit {process.wait()})")
        yield process
    finally:
        process.terminate()
        process.wait()
        process.stdout.close()


def main():
    digits_fit()
    print("ready", flush=True)
    while True:
        digits_fit()


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
