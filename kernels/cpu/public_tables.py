"""The kernel tables on the public path (:mod:`fastbp.kernels.cpu.numba_path`): codes and branches.

On the fast path a table holds the addresses of kernels compiled one by one
(:mod:`fastbp.kernels.cpu.tables`). Numba's documented API has no call to an address, so here a
table holds each kernel's code (an activation's backward kernel its code plus :data:`BACKWARD`),
as int32, and :func:`call_3` and its siblings branch on it to an ``@njit`` call of the kernel's
body. Each of them is compiled, and cached, once per dtype with every body of its tables: a longer
cold compile than the fast path's, which compiles only the kernels a network uses, for the same
code at run time.
"""

import numpy as np
from numba import njit

from . import activations as act
from . import losses as lss
from . import training as trn
from ..codes import (ADAM, BINARY_CROSS_ENTROPY, CROSS_ENTROPY, ELU, EXP, GELU, IDENTITY,
                     LEAKY_RELU, MSE, RELU, SGD, SIGMOID, SOFTMAX, SOFTPLUS, SQUARED_ERROR, TANH)
from ..disk_cache import check_once

check_once()  # before anything here can be loaded from Numba's disk cache (kernels/disk_cache.py)

#: Added to an activation's code in the entries of an ``activation_backward`` table, so that one
#: :func:`call_3` serves both activation tables.
BACKWARD = 16

_TABLE_OFFSETS = {"activation_forward": 0, "activation_backward": BACKWARD, "loss_forward": 0,
                  "loss_backward": 0, "optimizer_step": 0}


def entries(name, every_code):
    """The public path's table ``name``: one int32 entry per code of ``every_code`` (codes
    ``0..n-1``).

    Returns
    -------
    ndarray of int32
    """
    return np.array([_TABLE_OFFSETS[name] + code for code in every_code], np.int32)


_jit = njit(cache=True, nogil=True, error_model="numpy")

_identity_f, _identity_b = _jit(act.identity_forward), _jit(act.identity_backward)
_sigmoid_f, _sigmoid_b = _jit(act.sigmoid_forward), _jit(act.sigmoid_backward)
_tanh_f, _tanh_b = _jit(act.tanh_forward), _jit(act.tanh_backward)
_relu_f, _relu_b = _jit(act.relu_forward), _jit(act.relu_backward)
_leaky_relu_f, _leaky_relu_b = _jit(act.leaky_relu_forward), _jit(act.leaky_relu_backward)
_elu_f, _elu_b = _jit(act.elu_forward), _jit(act.elu_backward)
_gelu_f, _gelu_b = _jit(act.gelu_forward), _jit(act.gelu_backward)
_softplus_f, _softplus_b = _jit(act.softplus_forward), _jit(act.softplus_backward)
_softmax_f, _softmax_b = _jit(act.softmax_forward), _jit(act.softmax_backward)
_exp_f, _exp_b = _jit(act.exp_forward), _jit(act.exp_backward)

_squared_error_f = _jit(lss.squared_error_forward)
_squared_error_b = _jit(lss.squared_error_backward)
_mse_f, _mse_b = _jit(lss.mse_forward), _jit(lss.mse_backward)
_cross_entropy_f = _jit(lss.cross_entropy_forward)
_binary_cross_entropy_f = _jit(lss.binary_cross_entropy_forward)
_poisson_f = _jit(lss.poisson_forward)
_logits_b = _jit(lss.logits_backward)

_sgd, _adam = _jit(trn.sgd_step), _jit(trn.adam_step)


@_jit
def call_3(entry, a, b, c):
    """Call the activation kernel of table entry ``entry``: ``(out, z, pre)`` forward, ``(grad,
    out, pre)`` backward."""
    if entry == IDENTITY:
        _identity_f(a, b, c)
    elif entry == SIGMOID:
        _sigmoid_f(a, b, c)
    elif entry == TANH:
        _tanh_f(a, b, c)
    elif entry == RELU:
        _relu_f(a, b, c)
    elif entry == LEAKY_RELU:
        _leaky_relu_f(a, b, c)
    elif entry == ELU:
        _elu_f(a, b, c)
    elif entry == GELU:
        _gelu_f(a, b, c)
    elif entry == SOFTPLUS:
        _softplus_f(a, b, c)
    elif entry == SOFTMAX:
        _softmax_f(a, b, c)
    elif entry == EXP:
        _exp_f(a, b, c)
    elif entry == BACKWARD + IDENTITY:
        _identity_b(a, b, c)
    elif entry == BACKWARD + SIGMOID:
        _sigmoid_b(a, b, c)
    elif entry == BACKWARD + TANH:
        _tanh_b(a, b, c)
    elif entry == BACKWARD + RELU:
        _relu_b(a, b, c)
    elif entry == BACKWARD + LEAKY_RELU:
        _leaky_relu_b(a, b, c)
    elif entry == BACKWARD + ELU:
        _elu_b(a, b, c)
    elif entry == BACKWARD + GELU:
        _gelu_b(a, b, c)
    elif entry == BACKWARD + SOFTPLUS:
        _softplus_b(a, b, c)
    elif entry == BACKWARD + SOFTMAX:
        _softmax_b(a, b, c)
    elif entry == BACKWARD + EXP:
        _exp_b(a, b, c)


@_jit
def call_4_float64(entry, pre, out, y, weight):
    """Call the loss-forward kernel of ``entry``: ``(pre, out, y, weight) -> float``."""
    if entry == SQUARED_ERROR:
        return _squared_error_f(pre, out, y, weight)
    if entry == MSE:
        return _mse_f(pre, out, y, weight)
    if entry == CROSS_ENTROPY:
        return _cross_entropy_f(pre, out, y, weight)
    if entry == BINARY_CROSS_ENTROPY:
        return _binary_cross_entropy_f(pre, out, y, weight)
    return _poisson_f(pre, out, y, weight)  # POISSON


@_jit
def call_5(entry, grad, pre, out, y, weight):
    """Call the loss-backward kernel of ``entry``: ``(grad, pre, out, y, weight)``."""
    if entry == SQUARED_ERROR:
        _squared_error_b(grad, pre, out, y, weight)
    elif entry == MSE:
        _mse_b(grad, pre, out, y, weight)
    else:  # cross_entropy, binary_cross_entropy, poisson: the logits-form gradient
        _logits_b(grad, pre, out, y, weight)


@_jit
def call_7(entry, theta, grad, moment_1, moment_2, hyper, lr, step):
    """Call the optimizer step of ``entry``: ``(theta, grad, m1, m2, hyper, lr, step)``."""
    if entry == SGD:
        _sgd(theta, grad, moment_1, moment_2, hyper, lr, step)
    elif entry == ADAM:
        _adam(theta, grad, moment_1, moment_2, hyper, lr, step)
