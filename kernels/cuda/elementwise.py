"""CUDA kernels outside the GEMMs: elementwise maps, row kernels and the column-sum reduction.

Elementwise kernels run one thread per element of a flattened ``(n, k)`` array; row kernels
(softmax, the loss) one thread per row, since softmax is only ever an output layer of a few units.
Launched by :mod:`fastbp.kernels.cuda`, which sets the grids.
"""

import math

import numpy as np
from numba import cuda, float64

from .launch import MAX_BLOCK_THREADS, kernel
from .math import activate, block_total, delta, reduce_rows, row_loss


@kernel("MMi")
def activation_elementwise(out, z, activation):
    # out (n, k) <- act(z (n, k)), every activation but softmax
    n, k = z.shape
    e = cuda.grid(1)
    if e < n * k:
        i, j = e // k, e % k
        out[i, j] = activate(z[i, j], activation)


@kernel("MM")
def softmax_rows(out, z):
    # out (n, k) <- softmax of each row of z (n, k); out may be z
    n, k = z.shape
    i = cuda.grid(1)
    if i < n:
        t = z.dtype.type
        m = z[i, 0]
        for j in range(1, k):
            m = max(m, z[i, j])
        s = t(0)
        for j in range(k):
            e = math.exp(z[i, j] - m)
            out[i, j] = e
            s += e
        inv = t(1) / s
        for j in range(k):
            out[i, j] *= inv


@kernel("MMMi")
def delta_elementwise(grad, out, pre, activation):
    # grad (n, k) <- grad * act'(z), from out (n, k) or, for GELU, pre (n, k); not softmax
    n, k = grad.shape
    e = cuda.grid(1)
    if e < n * k:
        i, j = e // k, e % k
        grad[i, j] = delta(grad[i, j], out[i, j], pre[i, j], activation)


@kernel("MM")
def softmax_backward_rows(grad, out):
    # grad (n, k) <- out * (grad - <grad, out>) per row: softmax's Jacobian-vector product
    n, k = grad.shape
    i = cuda.grid(1)
    if i < n:
        dot = grad.dtype.type(0)
        for j in range(k):
            dot += grad[i, j] * out[i, j]
        for j in range(k):
            grad[i, j] = out[i, j] * (grad[i, j] - dot)


@kernel("VM")
def column_sums(sums, values):
    # sums (k,) <- column sums of values (n, k); a (cols, rows) block sums cols columns
    n, k = values.shape
    cols, rows = cuda.blockDim.x, cuda.blockDim.y
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    c = cuda.blockIdx.x * cols + tx
    buf = cuda.shared.array(MAX_BLOCK_THREADS, values.dtype)
    s = values.dtype.type(0)
    if c < k:
        for i in range(ty, n, rows):
            s += values[i, c]
    buf[ty * cols + tx] = s
    reduce_rows(buf, tx, ty, cols, rows)
    if ty == 0 and c < k:
        sums[c] = buf[tx]


@kernel("DiMMMVi", uses_float64=True)
def loss_rows(partial, at, pre, out, y, weight, loss):
    # partial[at + block] <- the block's share of sum_i weight[i] * loss of row i, in float64
    n = out.shape[0]
    s = 0.0
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        s += row_loss(pre, out, y, i, loss) * np.float64(weight[i])
    buf = cuda.shared.array(MAX_BLOCK_THREADS, float64)
    total = block_total(buf, s)
    if cuda.threadIdx.x == 0:
        partial[at + cuda.blockIdx.x] = total


@kernel("MMMVS")
def loss_gradient(grad, out, y, weight, scale):
    # grad (n, k) <- (out - y) * weight[i] * scale
    n, k = out.shape
    e = cuda.grid(1)
    if e < n * k:
        i, j = e // k, e % k
        grad[i, j] = (out[i, j] - y[i, j]) * (weight[i] * scale)
