"""``fastbp info``: the versions, BLAS, threading, SIMD and CUDA facts behind fastbp's speed, and
which Numba path the CPU kernels take (its internals, or its documented API alone, and why).

Each fact is probed on its own: a missing package or a failing probe becomes a short note in its
line, never an exception, so the report is useful exactly when something is wrong.
"""

import importlib.metadata
import os
import platform
import sys
import warnings

#: Packages whose installed versions are reported (distribution names).
PACKAGES = ("fastbp", "numpy", "scipy", "numba", "llvmlite", "numba-cuda", "scikit-learn",
            "threadpoolctl")

#: CPU feature prefixes that name SIMD instruction sets (x86, ARM, POWER).
SIMD_PREFIXES = ("sse", "ssse", "avx", "fma", "f16c", "neon", "asimd", "sve", "altivec", "vsx")


def _version(distribution):
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _probe(fn):
    """``fn()``, or a one-line note of why it failed."""
    try:
        return fn()
    except Exception as error:  # a diagnostic must survive whatever the environment throws
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return f"unavailable ({type(error).__name__}{': ' + first_line if first_line else ''})"


def _blas():
    """One line per BLAS library loaded by NumPy and SciPy (Numba's ``np.dot`` calls SciPy's)."""
    import numpy  # noqa: F401  (loads NumPy's BLAS)
    import scipy.linalg.cython_blas  # noqa: F401  (loads the BLAS Numba's kernels call)
    from threadpoolctl import threadpool_info

    lines = []
    for lib in threadpool_info():
        if lib.get("user_api") != "blas":
            continue
        path = lib.get("filepath") or ""
        owner = next((name for name in ("scipy", "numpy") if f"{name}.libs" in path
                      or f"{os.sep}{name}{os.sep}" in path), "system")
        role = ", called by Numba's kernels" if owner == "scipy" else ""
        details = ", ".join(f"{key} {lib[key]}" for key in ("threading_layer", "architecture")
                            if lib.get(key))
        lines.append(f"{lib.get('internal_api')} {lib.get('version') or '?'} ({owner}{role}), "
                     f"{lib.get('num_threads')} threads" + (f", {details}" if details else ""))
    return lines or ["none found"]


def _threading():
    from ..kernels.cpu.threads import thread_count

    # the CPU epoch runs on Python threads of its own, not on Numba's threading layer
    return (f"{thread_count()} epoch threads (numba.get_num_threads(); of {os.cpu_count()} "
            f"CPUs)")


def _numba_path():
    """The path the CPU kernels take: ``fast path: ...``, or ``public API path: <why>`` (the
    failing probe, the untested Numba version, or the variable that asked for it)."""
    from ..kernels.cpu.numba_path import PATH

    return PATH.describe()


def _simd():
    from ..kernels.numba_internals import host_cpu

    name, features = host_cpu()
    simd = sorted(f for f in features if f.startswith(SIMD_PREFIXES))
    return f"{name}: {' '.join(simd) if simd else 'none reported'}"


def _cuda():
    if _version("numba-cuda") == "not installed":
        return "no (numba-cuda is not installed: pip install 'numba-cuda[cu13]')"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba-cuda warns at import on machines without a GPU
        from numba import cuda

        if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
            return "simulator only (NUMBA_ENABLE_CUDASIM=1)"
        if not cuda.is_available():
            return "no (no CUDA driver or GPU found)"
        device = cuda.get_current_device()
        name = device.name.decode() if isinstance(device.name, bytes) else device.name
        major, minor = device.compute_capability
        memory = cuda.current_context().get_memory_info().total / 2**30
        return f"yes: {name}, compute capability {major}.{minor}, {memory:.0f} GiB"


def collect():
    """Every fact as ``(label, value)`` pairs; values are strings or lists of strings."""
    facts = [("python", f"{platform.python_version()} ({sys.executable})"),
             ("platform", platform.platform())]
    facts += [(name, _version(name)) for name in PACKAGES]
    facts += [("BLAS", _probe(_blas)),
              ("CPU kernels", _probe(_numba_path)),
              ("CPU threads", _probe(_threading)),
              ("SIMD", _probe(_simd)),
              ("CUDA", _probe(_cuda))]
    return facts


def format_info(facts):
    """The facts as aligned ``label  value`` lines (list values continue on indented lines)."""
    width = max(len(label) for label, _ in facts)
    lines = []
    for label, value in facts:
        values = value if isinstance(value, list) else [value]
        lines.append(f"{label.ljust(width)}  {values[0]}")
        lines += [f"{'':{width}}  {more}" for more in values[1:]]
    return "\n".join(lines)
