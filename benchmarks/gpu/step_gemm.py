"""Step 2: fastbp's forward GEMM, both variants, against cuBLAS with TF32 off.

For each dtype and size: fresh random operands; cuBLAS's result (poisoned output first) checked
against float64 rows; each fastbp variant's result (poisoned output first) validated against
cuBLAS's, and only a valid one timed. The figure is the median over timed windows, TFLOP/s
counting ``2 n^3``.
"""

import traceback

import numpy as np

from fastbp.kernels.cuda import bench as cuda_bench

from . import gemm_baselines, timing, validation
from .results import finish, step_arguments


def _measure(gemm, profile):
    """The result of a first launch on a poisoned output, then the timing."""
    gemm.poison()
    gemm.launch()
    got = gemm.result()
    return got, lambda: timing.median_per_call(
        gemm.timer, warmup=profile.gemm_warmup, target_s=profile.gemm_target_s,
        window_s=profile.gemm_window_s, min_repeats=profile.gemm_min_repeats,
        max_repeats=profile.gemm_max_repeats)


def _tflops(n, timed):
    return 2 * n**3 / timed["median_s"] / 1e12


def measure_size(n, dtype, profile, make_baseline, record):
    """Measure one size and dtype: baseline, then every variant; appends to ``record``."""
    a, b = validation.random_operands(n, dtype)
    rows, ref64 = validation.float64_rows(a, b)
    base = make_baseline(a, b)
    try:
        ref, time_base = _measure(base, profile)
        base_error = validation.relative_error(ref[rows], ref64)
        base_timed = time_base() if np.all(np.isfinite(ref)) else None
    finally:
        base.close()
    if base_timed is None:
        record.fail(f"the baseline wrote non-finite values at n={n} {dtype}")
        return
    if not validation.passes(base_error, dtype):
        record.fail(f"the baseline is off float64 by {base_error} at n={n} {dtype} (TF32 on?)")
    for variant in profile.gemm_variants:
        entry = {"n": n, "dtype": dtype, "variant": variant,
                 "baseline_error_vs_float64_rows": base_error,
                 "baseline": dict(base_timed, tflops=_tflops(n, base_timed))}
        gemm = cuda_bench.ForwardGemm(a, b, variant)
        try:
            got, time_fastbp = _measure(gemm, profile)
            entry["error_vs_baseline"] = validation.relative_error(got, ref)
            entry["error_vs_float64_rows"] = validation.relative_error(got[rows], ref64)
            entry["valid"] = validation.passes(entry["error_vs_baseline"], dtype)
            if entry["valid"]:
                timed = time_fastbp()
                entry["fastbp"] = dict(timed, tflops=_tflops(n, timed))
                entry["ratio"] = entry["fastbp"]["tflops"] / entry["baseline"]["tflops"]
        finally:
            gemm.close()
        if not entry["valid"]:
            record.fail(f"variant {variant} at n={n} {dtype}: relative error "
                        f"{entry['error_vs_baseline']} against the baseline (tolerance "
                        f"{validation.TOLERANCE[dtype]}); not timed")
        record.data["results"].append(entry)
        record.save()
        print(f"n={n} {dtype} variant {variant}: error {entry['error_vs_baseline']:.2e}, "
              f"{entry.get('fastbp', {}).get('tflops', float('nan')):.3f} TFLOP/s against "
              f"{entry['baseline']['tflops']:.3f}", flush=True)


def main(argv=None):
    """Run the step; see the module docstring."""
    profile, record = step_arguments(__doc__, argv)
    name, make_baseline, settings = gemm_baselines.choose(profile.simulator)
    record.data.update(baseline=name, baseline_settings=settings,
                       tolerance=validation.TOLERANCE, results=[])
    if profile.simulator:
        record.note("simulator: launch geometry shrunk to "
                    f"{cuda_bench.SIMULATOR_LAUNCH_CONFIG}; timings are meaningless")
    config = cuda_bench.SIMULATOR_LAUNCH_CONFIG if profile.simulator else {}
    with cuda_bench.launch_config(config):
        # float32 first: it is the dtype training uses, so it matters most if time runs out
        for dtype in profile.gemm_dtypes:
            for n in profile.gemm_sizes:
                # a failure at one size (out of memory, a launch error) keeps the others' figures
                try:
                    measure_size(n, dtype, profile, make_baseline, record)
                except Exception as exc:
                    traceback.print_exc()
                    record.fail(f"n={n} {dtype}: {type(exc).__name__}: {exc}")
    finish(record)


if __name__ == "__main__":
    main()
