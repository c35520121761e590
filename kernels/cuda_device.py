"""Whether the CUDA kernels can run here, and what to do when they cannot.

Imports nothing but the standard library at module level, so asking costs nothing when numba-cuda
is absent.
"""

import importlib.util

INSTALL_HINT = ('install it with pip install "fastbp[cuda]" (CUDA 13) or '
                'pip install "fastbp[cuda12]" (CUDA 12)')


class DeviceUnavailable(RuntimeError):
    """The CUDA kernels cannot run: numba-cuda is missing or no usable GPU was found."""


def missing_numba_cuda():
    """What to tell a user where the numba-cuda package is not installed; None where it is.

    Numba itself still ships a deprecated built-in ``numba.cuda`` (0.60 to 0.68 at least), which
    imports without numba-cuda but is not the API the CUDA kernels are written against: asking
    for ``numba_cuda``, the package's own import name, is the one reliable test.
    """
    if importlib.util.find_spec("numba_cuda") is not None:
        return None
    return f"the cuda backend needs the numba-cuda package, which is not installed; {INSTALL_HINT}"


def check_device():
    """Raise :class:`DeviceUnavailable` unless numba-cuda can launch kernels in this process.

    numba-cuda's simulator (``NUMBA_ENABLE_CUDASIM=1``) counts as a device.
    """
    missing = missing_numba_cuda()
    if missing is not None:
        raise DeviceUnavailable(missing)
    from numba import cuda

    if not cuda.is_available():
        reason = " ".join((cuda.cuda_error() or "no CUDA GPU was found").split()).rstrip(".")
        raise DeviceUnavailable(f"numba-cuda is installed but cannot use a GPU: {reason}. The "
                                f"cuda backend needs an NVIDIA GPU and its driver; with a driver "
                                f'older than CUDA 13, pip install "fastbp[cuda12]"')
