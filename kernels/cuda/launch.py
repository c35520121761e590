"""How the CUDA kernels are declared and launched: the kernel registry and the launch helper.

Every kernel of :mod:`fastbp.kernels.cuda` is made by :func:`kernel` (or, for the GEMMs, by the
factories of :mod:`fastbp.kernels.cuda.gemm`), so :func:`fastbp.kernels.cuda.ptx_targets` can list
them all, with their argument types, for the PTX compilation check.
"""

import warnings

from numba import cuda, types
from numba.cuda.core.errors import NumbaPerformanceWarning

from ..disk_cache import check_once

check_once()  # before anything here can be loaded from Numba's disk cache (kernels/disk_cache.py)

#: Most threads a CUDA block may have; fixed-size shared scratch arrays are sized for it.
MAX_BLOCK_THREADS = 1024

#: name -> (kernel, argument kinds, uses_float64) for every kernel made by :func:`kernel`.
KERNELS = {}

# Argument kinds, one letter each; "of the dtype" follows the float32/float64 of the call.
_KINDS = {
    "M": lambda t: types.Array(t, 2, "C"),              # matrix of the dtype
    "V": lambda t: types.Array(t, 1, "C"),              # vector of the dtype
    "S": lambda t: t,                                   # scalar of the dtype
    "D": lambda t: types.Array(types.float64, 1, "C"),  # float64 vector (partial sums)
    "I": lambda t: types.Array(types.int64, 1, "C"),    # int64 vector (indices, flags)
    "f": lambda t: types.float64,
    "i": lambda t: types.int64,
    "b": lambda t: types.boolean,
}


def argument_types(kinds, dtype):
    """Numba argument types of a kernel with argument ``kinds`` (e.g. ``"MMi"``) for ``dtype``."""
    t = types.float32 if dtype == "float32" else types.float64
    return tuple(_KINDS[k](t) for k in kinds)


def kernel(kinds, uses_float64=False):
    """Decorator: compile ``fn`` lazily as a CUDA kernel and register it under its name.

    Parameters
    ----------
    kinds : str
        One letter per argument (see ``_KINDS``), for the PTX check's signatures.
    uses_float64 : bool
        The kernel computes in float64 on purpose even for float32 data (float64 sums of a loss or
        a penalty, dropout's float64 draws shared with the CPU); every other kernel must compile
        float32 data without a float64 instruction.
    """
    # Cached on disk like the CPU kernels. Numba checks only the kernel's own file for changes; the
    # stamp of every kernels source (kernels/disk_cache.py) empties the cache after an edit of
    # another file, a device function in cuda/math.py say.
    def decorate(fn):
        compiled = cuda.jit(cache=True)(fn)
        KERNELS[fn.__name__] = (compiled, kinds, uses_float64)
        return compiled
    return decorate


def launch(kernel, blocks, threads):
    """``kernel[blocks, threads]``, without numba-cuda's low-occupancy warning.

    numba-cuda warns for any grid under 128 blocks; a small layer or a bias vector legitimately
    needs only a few, and the warning (an error under the test suite's filters) would fire on
    every such call.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaPerformanceWarning)
        return kernel[blocks, threads]


def blocks_for(n, threads):
    """Blocks of ``threads`` covering ``n`` items, at least one."""
    return max(1, -(-n // threads))
