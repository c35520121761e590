"""Whether the CUDA kernels can run here, and what to do when they cannot.

Imports nothing but the standard library at module level, so asking costs nothing when numba-cuda
is absent.
"""

import importlib.util

INSTALL_HINT = ('install it with pip install "fastbp[cuda]" (CUDA 13) or '
                'pip install "fastbp[cuda12]" (CUDA 12)')


class DeviceUnavailable(RuntimeError):
    """The CUDA kernels cannot run: numba-cuda is missing or no usable GPU was found."""


def check_device():
    """Raise :class:`DeviceUnavailable` unless numba-cuda can launch kernels in this process.

    numba-cuda's simulator (``NUMBA_ENABLE_CUDASIM=1``) counts as a device.
    """
    # numba still ships a deprecated built-in numba.cuda; only the numba-cuda package is supported
    if importlib.util.find_spec("numba_cuda") is None:
        raise DeviceUnavailable(f"the cuda backend needs the numba-cuda package, which is not "
                                f"installed; {INSTALL_HINT}")
    from numba import cuda

    if not cuda.is_available():
        reason = " ".join((cuda.cuda_error() or "no CUDA GPU was found").split()).rstrip(".")
        raise DeviceUnavailable(f"numba-cuda is installed but cannot use a GPU: {reason}. The "
                                f"cuda backend needs an NVIDIA GPU and its driver; with a driver "
                                f'older than CUDA 13, pip install "fastbp[cuda12]"')
