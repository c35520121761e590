"""One timing plan for every contender: warm up, size the repeats, take the median per call.

A timer is any object with ``once()`` (seconds of one synchronized call) and ``window(inner)``
(seconds of ``inner`` back-to-back calls, device-timed where the contender can) and a ``clock``
string; fastbp's comes from :mod:`fastbp.kernels.cuda.bench`, the baselines' from
:mod:`benchmarks.gpu.gemm_baselines`.
"""

import math
import statistics


def plan(single_s, target_s, window_s, min_repeats, max_repeats):
    """Calls per timed window and windows to time, from one call's duration.

    A window holds enough calls to last ``window_s`` (so launch overheads overlap device work);
    there are enough windows to last ``target_s``, within ``[min_repeats, max_repeats]``.

    Returns
    -------
    inner, repeats : int
    """
    single_s = max(single_s, 1e-9)
    inner = max(1, min(100, math.ceil(window_s / single_s)))
    repeats = math.ceil(target_s / (inner * single_s)) if target_s > 0 else min_repeats
    return inner, max(min_repeats, min(max_repeats, repeats))


def median_per_call(timer, *, warmup, target_s, window_s, min_repeats, max_repeats):
    """Median seconds per call of ``timer``'s call, after ``warmup`` untimed calls.

    Returns
    -------
    dict
        ``median_s``, ``min_s``, ``max_s`` (per call), ``repeats``, ``inner``, ``clock``.
    """
    for _ in range(warmup):
        timer.once()
    inner, repeats = plan(timer.once(), target_s, window_s, min_repeats, max_repeats)
    per_call = [timer.window(inner) / inner for _ in range(repeats)]
    return {"median_s": statistics.median(per_call), "min_s": min(per_call),
            "max_s": max(per_call), "repeats": repeats, "inner": inner, "clock": timer.clock}
