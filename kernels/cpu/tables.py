"""The CPU backend's per-activation, per-loss and per-optimizer kernels, compiled on first use.

Every body in :mod:`~fastbp.kernels.cpu.activations`, :mod:`~fastbp.kernels.cpu.losses` and
:mod:`~fastbp.kernels.cpu.training` is compiled for one dtype, with an explicit signature, the first
time a model needs it, and cached on disk like every Numba function of this package. Compiled code
that must choose among them at run time (the dense layer, the epoch) takes a *table*: an int64
array with the address of one compiled kernel per code, and calls an entry with :func:`call_3`,
:func:`call_4_float64`, :func:`call_5` or :func:`call_7` (Numba's own calling convention, as its
first-class functions use). The caller is therefore compiled once per dtype whatever the network,
never re-optimises a kernel's code inside its own, and a network with a new activation, loss or
optimizer compiles only that small kernel. A table's entries for codes the caller did not ask for
repeat one it did ask for, so that nothing unused is compiled.

Addresses and calls to them are Numba internals (:mod:`fastbp.kernels.cpu.numba_internals`). On the
public path (:mod:`fastbp.kernels.cpu.numba_path`) a table holds codes instead, and the functions
of the same names branch on them (:mod:`fastbp.kernels.cpu.public_tables`).
"""

import threading

import numba
import numpy as np
from numba import types

from . import activations as act
from . import losses as lss
from . import training as trn
from ..codes import (ACTIVATION_CODES, ADAM, BINARY_CROSS_ENTROPY, CROSS_ENTROPY, ELU, EXP, GELU,
                    IDENTITY, LEAKY_RELU, LOSS_CODES, MSE, OPTIMIZER_CODES, POISSON, RELU, SGD,
                    SIGMOID, SOFTMAX, SOFTPLUS, SQUARED_ERROR, TANH)
from ..disk_cache import check_once
from .numba_path import FAST, WITHOUT_WRAPPERS

check_once()  # before anything here can be loaded from Numba's disk cache (kernels/disk_cache.py)

if FAST:
    from .numba_internals import address as _address_of, call_3, call_4_float64, call_5, call_7
else:
    from .public_tables import call_3, call_4_float64, call_5, call_7, entries as _entries

__all__ = ["call_3", "call_4_float64", "call_5", "call_7", "every_kernel", "kernel", "table"]

ACTIVATION_FORWARD = {
    IDENTITY: act.identity_forward, SIGMOID: act.sigmoid_forward, TANH: act.tanh_forward,
    RELU: act.relu_forward, LEAKY_RELU: act.leaky_relu_forward, ELU: act.elu_forward,
    GELU: act.gelu_forward, SOFTPLUS: act.softplus_forward, SOFTMAX: act.softmax_forward,
    EXP: act.exp_forward}
ACTIVATION_BACKWARD = {
    IDENTITY: act.identity_backward, SIGMOID: act.sigmoid_backward, TANH: act.tanh_backward,
    RELU: act.relu_backward, LEAKY_RELU: act.leaky_relu_backward, ELU: act.elu_backward,
    GELU: act.gelu_backward, SOFTPLUS: act.softplus_backward, SOFTMAX: act.softmax_backward,
    EXP: act.exp_backward}
LOSS_FORWARD = {
    SQUARED_ERROR: lss.squared_error_forward, MSE: lss.mse_forward,
    CROSS_ENTROPY: lss.cross_entropy_forward,
    BINARY_CROSS_ENTROPY: lss.binary_cross_entropy_forward, POISSON: lss.poisson_forward}
LOSS_BACKWARD = {
    SQUARED_ERROR: lss.squared_error_backward, MSE: lss.mse_backward,
    CROSS_ENTROPY: lss.logits_backward, BINARY_CROSS_ENTROPY: lss.logits_backward,
    POISSON: lss.logits_backward}
OPTIMIZER_STEP = {SGD: trn.sgd_step, ADAM: trn.adam_step}

# each table: its bodies by code, the codes it must cover, and its signature for an element type
_TABLES = {
    "activation_forward": (ACTIVATION_FORWARD, ACTIVATION_CODES.values(),
                           lambda t: types.void(t[:, ::1], t[:, ::1], t[:, ::1])),
    "activation_backward": (ACTIVATION_BACKWARD, ACTIVATION_CODES.values(),
                            lambda t: types.void(t[:, ::1], t[:, ::1], t[:, ::1])),
    "loss_forward": (LOSS_FORWARD, LOSS_CODES.values(),
                     lambda t: types.float64(t[:, ::1], t[:, ::1], t[:, ::1], t[::1])),
    "loss_backward": (LOSS_BACKWARD, LOSS_CODES.values(),
                      lambda t: types.void(t[:, ::1], t[:, ::1], t[:, ::1], t[:, ::1], t[::1])),
    "optimizer_step": (OPTIMIZER_STEP, OPTIMIZER_CODES.values(),
                       lambda t: types.void(t[::1], t[::1], t[::1], t[::1], types.float64[::1],
                                            types.float64, types.int64)),
}

_lock = threading.Lock()
_kernels = {}  # (table, code, dtype) -> dispatcher compiled for that dtype alone
_tables = {}   # (table, dtype, codes) -> int64 array of kernel addresses


def kernel(table, code, dtype):
    """The compiled kernel for ``code`` in ``table`` (a name in this module), for ``dtype``.

    Parameters
    ----------
    table : str
        ``"activation_forward"``, ``"activation_backward"``, ``"loss_forward"``,
        ``"loss_backward"`` or ``"optimizer_step"``.
    code : int
    dtype : numpy dtype, float32 or float64

    Returns
    -------
    numba dispatcher with exactly one signature
        Callable from compiled code only; Python reaches it through :func:`table` and the
        backend's ``activation_forward`` and siblings.
    """
    dtype = np.dtype(dtype)
    key = (table, code, dtype)
    found = _kernels.get(key)
    if found is None:
        bodies, _, signature = _TABLES[table]
        with _lock:  # one compile per kernel, whichever thread asks first
            found = _kernels.get(key)
            if found is None:
                # called through its address only: no wrappers for Python (see cpu/epoch.py)
                found = numba.njit(signature(numba.from_dtype(dtype)), cache=True, nogil=True,
                                   error_model="numpy", **WITHOUT_WRAPPERS)(bodies[code])
                _kernels[key] = found
    return found


def every_kernel():
    """Every ``(table, code)`` pair there is a kernel for, for compiling them all ahead of use."""
    return [(name, code) for name, (bodies, _, _) in _TABLES.items() for code in sorted(bodies)]


def _address(dispatcher):
    """Where the compiled code of a one-signature dispatcher starts (Numba's calling convention)."""
    [signature] = dispatcher.signatures
    return _address_of(dispatcher, signature)


def table(name, dtype, codes):
    """Addresses of compiled kernels indexed by code, real for ``codes``, for compiled callers.

    Parameters
    ----------
    name : str
        As for :func:`kernel`.
    dtype : numpy dtype
    codes : iterable of int
        The codes the caller may index; at least one.

    Returns
    -------
    ndarray of int64, shape (number of codes in ``name``,)
        Read-only; the kernels stay compiled for the life of the process. On the public path,
        an int32 array of codes (:func:`fastbp.kernels.cpu.public_tables.entries`), for any
        ``codes``.
    """
    codes = frozenset(int(c) for c in codes)
    key = (name, np.dtype(dtype), codes)
    found = _tables.get(key)
    if found is None:
        every = sorted(_TABLES[name][1])  # 0..n-1, so a code is its own index
        if FAST:
            filler = _address(kernel(name, min(codes), dtype))
            found = np.array([_address(kernel(name, c, dtype)) if c in codes else filler
                              for c in every], np.int64)
        else:
            found = _entries(name, every)
        found.flags.writeable = False
        _tables[key] = found
    return found
