"""numba-cuda kernels: the interface of :mod:`fastbp.kernels.reference` on an NVIDIA GPU.

Same names and argument order as :mod:`fastbp.kernels.cpu`; arrays are numba device arrays (move
them with :func:`to_device` / :func:`to_host`), outputs preallocated and passed first. The
functions are host launchers (:mod:`~fastbp.kernels.cuda.ops`, :mod:`~fastbp.kernels.cuda.epoch`)
that queue kernels on the default stream; kernels compile lazily, once per dtype, and block sizes
and tile shapes come from :mod:`fastbp.kernels.cuda.config`. See :mod:`fastbp.kernels` for the
shared conventions.

Importing this module needs numba-cuda but no GPU; :func:`fastbp.kernels.cuda_device.check_device`
says whether kernels can run here.
"""

import contextlib

import numpy as np

from ..cuda_device import missing_numba_cuda

# checked before numba.cuda is first imported: without numba-cuda that is Numba's deprecated
# built-in target, and the first numba-cuda module imported below would fail with a puzzling name
if missing_numba_cuda() is not None:
    raise ModuleNotFoundError(f"fastbp.kernels.cuda: {missing_numba_cuda()}", name="numba_cuda")

from numba import cuda

from . import gemm as cuda_gemm, launch as cuda_launch
from .epoch import train_epoch, train_epochs
from .ops import (
    activation_backward,
    activation_forward,
    adam_learning_rate,
    adam_update,
    dense_backward,
    dense_forward,
    dropout_backward,
    dropout_forward,
    loss_backward,
    loss_forward,
    penalty_backward,
    penalty_forward,
    sgd_update,
)

#: The files of this backend that use numba-cuda beyond its documented ``numba.cuda`` API (its
#: ``core.errors`` and ``cudadrv.driver`` modules); no other may (tests/test_numba_internals_audit.py).
NUMBA_CUDA_INTERNALS = ("bench.py", "launch.py")

__all__ = [
    "activation_backward", "activation_forward", "adam_learning_rate", "adam_update",
    "copy_to_device", "dense_backward", "empty", "dense_forward", "dropout_backward", "dropout_forward",
    "loss_backward", "loss_forward", "penalty_backward", "penalty_forward", "ptx_targets",
    "sgd_update", "to_device", "to_host", "train_epoch", "train_epochs", "training_session",
]

def training_session():
    """Context around a whole training run (every epoch and its validation); yields the threads
    an epoch may use. The CPU backend holds BLAS to one thread in it; this one holds nothing."""
    return contextlib.nullcontext(1)



def empty(shape, dtype):
    """An uninitialised device array."""
    return cuda.device_array(shape, dtype)


def to_device(array):
    """A device copy of the host array ``array`` (C-contiguous, same dtype)."""
    return cuda.to_device(np.ascontiguousarray(array))


def to_host(array):
    """A NumPy copy of the device array ``array``."""
    return array.copy_to_host()


def copy_to_device(device_array, host_array):
    """Overwrite ``device_array`` with the values of the NumPy array ``host_array``, or of
    another device array (copied on the device)."""
    if hasattr(host_array, "copy_to_host"):  # a device array (numba-cuda's, or its simulator's)
        device_array.copy_to_device(host_array)
    else:
        device_array.copy_to_device(np.ascontiguousarray(host_array))


def ptx_targets():
    """Every kernel of this backend, for compiling each one ahead of time.

    Returns
    -------
    list of (name, dtype, python function, argument types, uses_float64)
        One entry per kernel and dtype; the GEMMs at the current tile config, both variants.
        ``uses_float64`` marks kernels that compute in float64 on purpose, even for float32.
    """
    kernels = dict(cuda_launch.KERNELS)
    for form in cuda_gemm.FORMS:
        for variant, label in ((1, "plain"), (2, "blocked")):
            kernel = cuda_gemm.configured(form, variant)[0]
            kernels[f"gemm_{label}_{form}"] = (kernel, cuda_gemm.KINDS, False)
    return [(name, dtype, kernel.py_func, cuda_launch.argument_types(kinds, dtype), uses_float64)
            for name, (kernel, kinds, uses_float64) in kernels.items()
            for dtype in ("float32", "float64")]
