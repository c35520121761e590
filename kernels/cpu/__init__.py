"""The Numba CPU backend: the interface of :mod:`fastbp.kernels.reference`, compiled.

This module is the backend's face; the code lives in its kernel files:

* :mod:`~fastbp.kernels.cpu.activations`, :mod:`~fastbp.kernels.cpu.losses` and the optimizer
  steps of :mod:`~fastbp.kernels.cpu.training`: one small body per activation, loss and optimizer,
  compiled per dtype when first used (:mod:`~fastbp.kernels.cpu.tables`);
* :mod:`~fastbp.kernels.cpu.blas`: the GEMMs, BLAS called straight from compiled code;
* :mod:`~fastbp.kernels.cpu.training`: penalties, dropout, the optimizer updates;
* :mod:`~fastbp.kernels.cpu.epoch`: whole epochs (one, or a run of them with their orders drawn by
  :mod:`~fastbp.kernels.cpu.orders`) in one compiled, GIL-free call, across threads;
* :mod:`~fastbp.kernels.cpu.forward`: inference, the whole network in one compiled call, across
  threads (``Inference``: a backend without it runs :func:`dense_forward` layer by layer).

Their speed rests on parts of Numba it does not document, each probed when this package is
imported (:mod:`~fastbp.kernels.cpu.numba_internals`); on an untested Numba, or with
``FASTBP_NUMBA_PUBLIC_ONLY=1``, the same kernels run on Numba's documented API alone
(:mod:`~fastbp.kernels.cpu.numba_path`; ``fastbp info`` says which).

The compiled kernels take C-contiguous arrays; the functions here accept any layout, as the
reference does, and copy an array only where it is not C-contiguous. Every constant is made in the
arrays' dtype (``x.dtype.type(c)``) so a float32 kernel never computes in float64. See
:mod:`fastbp.kernels` for the shared conventions.
"""

import numpy as np

from . import tables as cpu_tables
from .tables import call_3, call_4_float64, call_5
from .blas import affine, gemm
from .epoch import _column_sums, inline, jit, train_epoch, train_epochs
from .threads import training_session
from .forward import Forward as Inference
from .training import (adam_learning_rate, adam_update, dropout_backward, dropout_forward,
                           penalty_backward, penalty_forward, sgd_update)
from ..host_memory import copy_to_device, empty, to_device, to_host

__all__ = [
    "Inference", "activation_backward", "activation_forward", "adam_learning_rate", "adam_update",
    "copy_to_device", "dense_backward", "dense_forward", "dropout_backward", "dropout_forward",
    "empty", "loss_backward", "loss_forward", "penalty_backward",
    "penalty_forward", "sgd_update", "to_device", "to_host", "train_epoch", "train_epochs",
    "training_session",
]

_NO_DX = {}  # dtype -> an empty (0, 0) array: dense_backward's "no dx" in compiled code


def _c(a):
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _written_back(target, result):
    """Copy a result computed in a contiguous stand-in back into a strided output."""
    if result is not target:
        target[...] = result


def activation_forward(out, z, activation):
    """Apply an activation elementwise (row-wise for softmax); ``out`` may be ``z``.

    Parameters
    ----------
    out : ndarray, shape (n, k)
    z : ndarray, shape (n, k)
    activation : int
    """
    # out (n, k) <- act(z (n, k))
    zc = _c(z)
    oc = zc if out is z else _c(out)
    _call_activation(cpu_tables.table("activation_forward", z.dtype, (activation,)), activation,
                     (oc, zc, zc))
    _written_back(out, oc)


def activation_backward(grad, out, pre, activation):
    """Turn dL/da into dL/dz in place, from the saved output (or pre-activation for GELU).

    Parameters
    ----------
    grad : ndarray, shape (n, k)
    out : ndarray, shape (n, k)
    pre : ndarray, shape (n, k)
    activation : int
    """
    # grad (n, k) <- grad * act'(z), from out (n, k) or, for GELU, pre (n, k)
    gc = _c(grad)
    _call_activation(cpu_tables.table("activation_backward", grad.dtype, (activation,)),
                     activation, (gc, _c(out), _c(pre)))
    _written_back(grad, gc)


@jit
def _call_activation(table, code, arrays):
    # the kernels have no wrappers for Python: this is their entry point from it
    call_3(table[code], arrays[0], arrays[1], arrays[2])


@jit
def _call_loss_forward(table, code, arrays):
    return call_4_float64(table[code], arrays[0], arrays[1], arrays[2], arrays[3])


@jit
def _call_loss_backward(table, code, arrays):
    call_5(table[code], arrays[0], arrays[1], arrays[2], arrays[3], arrays[4])


@jit
def _dense_forward(out, pre, x, W, b, forward, activation):
    # out, pre (n, n_out) <- act(x (n, n_in) @ W (n_in, n_out) + b (n_out,))
    affine(x, W, b, pre, _scalars_like(pre))
    call_3(forward[activation], out, pre, pre)


@inline
def _scalars_like(a):
    scalars = np.empty(2, a.dtype)  # BLAS's alpha = 1, beta = 0
    scalars[0], scalars[1] = 1, 0
    return scalars


def dense_forward(out, pre, x, W, b, activation):
    """One dense layer: ``out = act(x @ W + b)``; ``pre`` may be ``out`` itself.

    Parameters
    ----------
    out : ndarray, shape (n, n_out)
    pre : ndarray, shape (n, n_out)
    x : ndarray, shape (n, n_in)
    W : ndarray, shape (n_in, n_out)
    b : ndarray, shape (n_out,)
    activation : int
    """
    oc = _c(out)
    pc = oc if pre is out else _c(pre)
    table = cpu_tables.table("activation_forward", out.dtype, (activation,))
    _dense_forward(oc, pc, _c(x), _c(W), _c(b), table, activation)
    _written_back(out, oc)
    if pre is not out:
        _written_back(pre, pc)


@jit
def _dense_backward(dx, dW, db, grad, x, W, out, pre, backward, activation):
    # dx (n, n_in) unless empty, dW (n_in, n_out), db (n_out,) <- grad (n, n_out) through act
    call_3(backward[activation], grad, out, pre)
    scalars = _scalars_like(grad)
    gemm(x, True, grad, False, dW, scalars)  # BLAS reads x transposed in place
    _column_sums(db, grad)
    if dx.shape[0] == grad.shape[0]:
        gemm(grad, False, W, True, dx, scalars)


def dense_backward(dx, dW, db, grad, x, W, out, pre, activation):
    """Backpropagate through one dense layer; ``grad`` is overwritten with delta.

    Parameters
    ----------
    dx : ndarray, shape (n, n_in), or None
        dL/dx = delta @ W.T; None skips it (the first layer).
    dW : ndarray, shape (n_in, n_out)
    db : ndarray, shape (n_out,)
    grad : ndarray, shape (n, n_out)
        dL/d(out) on entry, delta = dL/d(pre) on exit.
    x, W, out, pre : as in :func:`dense_forward`.
    activation : int
    """
    dtype = grad.dtype
    if dx is None:
        dxc = _NO_DX.get(dtype)
        if dxc is None:
            dxc = _NO_DX.setdefault(dtype, np.empty((0, 0), dtype))
    else:
        dxc = _c(dx)
    if grad.shape[0] == 0:
        dW[...] = 0
        db[...] = 0
        return
    dWc, dbc, gc = _c(dW), _c(db), _c(grad)
    table = cpu_tables.table("activation_backward", dtype, (activation,))
    _dense_backward(dxc, dWc, dbc, gc, _c(x), _c(W), _c(out), _c(pre), table, activation)
    for target, result in ((dW, dWc), (db, dbc), (grad, gc)):
        _written_back(target, result)
    if dx is not None:
        _written_back(dx, dxc)


def loss_forward(pre, out, y, weight, loss):
    """Weighted loss of a batch, accumulated in float64.

    Parameters
    ----------
    pre : ndarray, shape (n, k)
    out : ndarray, shape (n, k)
    y : ndarray, shape (n, k)
    weight : ndarray, shape (n,)
    loss : int

    Returns
    -------
    float
    """
    # () <- pre, out, y (n, k), weight (n,)
    return _call_loss_forward(cpu_tables.table("loss_forward", out.dtype, (loss,)), loss,
                              (_c(pre), _c(out), _c(y), _c(weight)))


def loss_backward(grad, pre, out, y, weight, loss):
    """Gradient of :func:`loss_forward` w.r.t. ``out`` (w.r.t. ``pre`` for the logits-form losses).

    Parameters
    ----------
    grad : ndarray, shape (n, k)
    pre, out, y, weight, loss : as in :func:`loss_forward`.
    """
    # grad (n, k) <- d loss / d out (or d pre for the logits-form losses)
    gc = _c(grad)
    _call_loss_backward(cpu_tables.table("loss_backward", out.dtype, (loss,)), loss,
                        (gc, _c(pre), _c(out), _c(y), _c(weight)))
    _written_back(grad, gc)
