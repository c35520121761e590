"""The two profiles of the GPU script: the device run and its dry run in the simulator.

A profile holds every size, repeat count and time bound, so the steps read the same code paths
in both and differ only in these numbers.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Profile:
    """Sizes, repeats and time bounds of one run of the GPU script.

    Attributes
    ----------
    name : {"device", "dry-run"}
    simulator : bool
        Run in numba-cuda's simulator (``NUMBA_ENABLE_CUDASIM=1`` in every step's process).
    suite : tuple of str
        pytest arguments of the test-suite step.
    suite_workers : int
        pytest-xdist processes for it where pytest-xdist is installed (0: none); the suite's
        time goes mostly to JIT compilation, which they share out.
    gemm_sizes, gemm_dtypes, gemm_variants : tuples
        Square GEMMs ``n x n x n`` to measure, in these dtypes and fastbp GEMM variants.
    gemm_warmup : int
        Untimed launches after the validation launch.
    gemm_target_s, gemm_min_repeats, gemm_max_repeats, gemm_window_s
        Timing plan of :func:`benchmarks.gpu.timing.median_per_call`.
    training_data : {"quick", "full"}
        Profile of :func:`benchmarks.training_cases.case_data`.
    training_samples, training_features : int or None
        Keep only this many training samples (a quarter as many test samples) and the first this
        many features of each case (None: all).
    hidden_divisor : int
        Divide each case's hidden widths by this (1: the cases as defined).
    training_epochs : int or None
        Epochs of the timed fits (None: each case's own).
    memory_case : str
        The case whose ``fit`` the memory step watches.
    bounds : dict of str to float
        Wall-clock seconds each step may take before it is stopped.
    """

    name: str
    simulator: bool
    suite: tuple
    suite_workers: int
    gemm_sizes: tuple
    gemm_dtypes: tuple
    gemm_variants: tuple
    gemm_warmup: int
    gemm_target_s: float
    gemm_min_repeats: int
    gemm_max_repeats: int
    gemm_window_s: float
    training_data: str
    training_samples: object
    training_features: object
    hidden_divisor: int
    training_epochs: object
    memory_case: str
    bounds: dict


#: Steps in the order they run, each a module ``benchmarks.gpu.step_<name>``.
STEPS = ("suite", "gemm", "training", "memory", "versions")

DEVICE = Profile(
    name="device",
    simulator=False,
    # the PTX test compiles without a device and runs in CI; here it would cost a minute of GPU time
    suite=("tests/test_cuda_kernels.py", "tests/test_cuda_backend.py"),
    suite_workers=4,
    gemm_sizes=(1024, 2048, 4096, 8192),
    gemm_dtypes=("float32", "float64"),
    gemm_variants=(1, 2),
    gemm_warmup=2,
    gemm_target_s=0.5,
    gemm_min_repeats=5,
    gemm_max_repeats=30,
    gemm_window_s=5e-3,
    training_data="full",
    training_samples=None,
    training_features=None,
    hidden_divisor=1,
    training_epochs=None,
    memory_case="c_1024",
    # 430 s of steps and at most 45 s of install (run.sh): inside 8 minutes, so a rerun fits
    bounds={"suite": 150, "gemm": 120, "training": 100, "memory": 45, "versions": 15},
)

DRY_RUN = Profile(
    name="dry-run",
    simulator=True,
    suite=("tests/test_cuda_kernels.py", "tests/test_cuda_backend.py",
           "-k", "test_gemm and float32 and not shipped or test_no_gpu_is_a_device_error"),
    suite_workers=0,
    # ragged against every simulator tile; 10 spans several blocks of both variants
    gemm_sizes=(6, 10),
    gemm_dtypes=("float32", "float64"),
    gemm_variants=(1, 2),
    gemm_warmup=0,
    gemm_target_s=0.0,
    gemm_min_repeats=1,
    gemm_max_repeats=1,
    gemm_window_s=0.0,
    training_data="quick",
    # the simulator runs a Python thread per element: a few samples of a few features
    training_samples=16,
    training_features=8,
    hidden_divisor=64,
    training_epochs=1,
    memory_case="c_1024",
    # far above what the dry run needs on a loaded 2-core machine: a bound hit here is a hang
    bounds={"suite": 240, "gemm": 240, "training": 240, "memory": 120, "versions": 60},
)

PROFILES = {p.name: p for p in (DEVICE, DRY_RUN)}
