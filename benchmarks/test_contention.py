"""The thread policy under contention: case (a)'s digits fit with a second fastbp process training
the same fit beside it (``benchmarks/contention.py``), as ``GridSearchCV(n_jobs=2)``, a Dask worker
or a busy laptop would have it.

Timed: the fit with fastbp's default thread policy, in rounds alternating with the same fit on one
thread (``numba.set_num_threads(1)``), both beside the second process; ``extra_info`` also holds the
default policy's fit with the machine to itself, before the second process starts. Targets: the
default policy's median within 1.2x of the one-thread median, and its worst of 10 within 2x of it.
The quick smoke run times 2 rounds of 5-epoch fits. Run:
``pytest benchmarks/test_contention.py --profile full -s --benchmark-json=...``.
"""

import numba
import numpy as np

from .baselines import cpu_name
from .contention import digits_fit, second_trainer

ROUNDS = {"full": 10, "quick": 2}
EPOCHS = {"full": None, "quick": 5}  # None: the case's 50
TARGETS = {"median_ratio_max": 1.2, "worst_ratio_max": 2.0}


def test_contention(benchmark, profile):
    epochs = EPOCHS[profile]
    benchmark.group = "contention"
    digits_fit(epochs)  # compile, or load from the cache, outside the timing
    alone = [digits_fit(epochs) for _ in range(3 if profile == "full" else 1)]
    default, one_thread = [], []

    def single():
        previous = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            one_thread.append(digits_fit(epochs))
        finally:
            numba.set_num_threads(previous)

    with second_trainer():
        benchmark.pedantic(lambda: default.append(digits_fit(epochs)), setup=single,
                           rounds=ROUNDS[profile], iterations=1)
    baseline = float(np.median(one_thread))
    info = {"default_median_s": float(np.median(default)), "default_worst_s": max(default),
            "one_thread_median_s": baseline, "one_thread_worst_s": max(one_thread),
            "alone_default_median_s": float(np.median(alone)),
            "median_ratio": float(np.median(default)) / baseline,
            "worst_ratio": max(default) / baseline, "default_s": default,
            "one_thread_s": one_thread, "threads": numba.get_num_threads(), "cpu": cpu_name(),
            "profile": profile, "rounds": ROUNDS[profile], "targets": TARGETS}
    info["meets"] = {"median": info["median_ratio"] <= TARGETS["median_ratio_max"],
                     "worst": info["worst_ratio"] <= TARGETS["worst_ratio_max"]}
    benchmark.extra_info.update(info)
    print("\ncontention: " + ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items()
        if not isinstance(v, list)))
