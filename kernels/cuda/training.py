"""CUDA kernels of training: penalties, dropout, optimizer updates and mini-batch assembly.

The optimizer kernels take a ``halt`` flag (an int64 device scalar) and leave every parameter alone
once it is set: :func:`fastbp.kernels.cuda.epoch.train_epoch` queues a whole epoch without waiting
for the host, and a non-finite batch loss (found on the device, by ``finish_batch_loss``) must stop
the updates exactly where the CPU trainer stops. Reductions write float64 partial sums at
``partial[at + block]`` so that one buffer collects the loss and every layer's penalty of a batch.
"""

import math

import numpy as np
from numba import cuda, float64

from .launch import MAX_BLOCK_THREADS, kernel
from .math import block_total

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@kernel("DiMff", uses_float64=True)
def penalty_partials(partial, at, W, half_l2, l1):
    # partial[at + block] <- sum over the block's share of W (n_in, n_out) of half_l2 w^2 + l1 |w|
    n, k = W.shape
    buf = cuda.shared.array(MAX_BLOCK_THREADS, float64)
    s = 0.0
    for e in range(cuda.grid(1), n * k, cuda.gridsize(1)):
        w = np.float64(W[e // k, e % k])
        s += half_l2 * w * w + l1 * abs(w)
    total = block_total(buf, s)
    if cuda.threadIdx.x == 0:
        partial[at + cuda.blockIdx.x] = total


@kernel("MMSS")
def penalty_gradient(dW, W, l2, l1):
    # dW (n_in, n_out) += l2 * W + l1 * sign(W)
    n, k = W.shape
    e = cuda.grid(1)
    if e < n * k:
        i, j = e // k, e % k
        w = W[i, j]
        t = type(w)
        zero, one = t(0), t(1)
        sign = one if w > zero else (-one if w < zero else zero)
        dW[i, j] += l2 * w + l1 * sign


@cuda.jit(device=True)
def _dropout_uniform(key, index):
    """splitmix64 of (key, element index) -> a uniform float64 in [0, 1); as the CPU kernel."""
    z = key ^ (np.uint64(index) * _MIX2)
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return np.float64(z >> np.uint64(11)) * 2.0**-53


@kernel("MMMSfiii", uses_float64=True)
def dropout_mask(dropped, mask, out, keep, rate, seed, step, layer):
    # dropped, mask (n, k) <- out (n, k) with units dropped at rate (float64 draws, as the CPU's)
    n, k = out.shape
    e = cuda.grid(1)
    if e < n * k:
        i, j = e // k, e % k
        key = np.uint64(seed) ^ (np.uint64(step) * _GOLDEN) ^ (np.uint64(layer) * _MIX1)
        s = keep if _dropout_uniform(key, e) >= rate else type(keep)(0)
        mask[i, j] = s
        dropped[i, j] = out[i, j] * s


@kernel("MM")
def multiply_in_place(grad, mask):
    # grad (n, k) *= mask (n, k)
    n, k = grad.shape
    e = cuda.grid(1)
    if e < n * k:
        grad[e // k, e % k] *= mask[e // k, e % k]


@kernel("VVVSSbI")
def sgd_step(theta, grad, velocity, lr, momentum, nesterov, halt):
    # theta, velocity (P,) <- grad (P,), unless halt[0]
    i = cuda.grid(1)
    if i < theta.shape[0] and halt[0] == 0:
        g = grad[i]
        v = momentum * velocity[i] - lr * g
        velocity[i] = v
        theta[i] += momentum * v - lr * g if nesterov else v


@kernel("VVVVSSSSSSI")
def adam_step(theta, grad, m, v, lr_t, beta_1, beta_2, one_minus_beta_1, one_minus_beta_2,
              epsilon, halt):
    # theta, m, v (P,) <- grad (P,), unless halt[0]
    i = cuda.grid(1)
    if i < theta.shape[0] and halt[0] == 0:
        g = grad[i]
        m[i] = beta_1 * m[i] + one_minus_beta_1 * g
        v[i] = beta_2 * v[i] + one_minus_beta_2 * g * g
        theta[i] -= lr_t * m[i] / (math.sqrt(v[i]) + epsilon)


@kernel("MMIi")
def gather_rows(dst, src, order, start):
    # dst (m, d) <- src[order[start:start + m]] (n, d)
    m, d = dst.shape
    e = cuda.grid(1)
    if e < m * d:
        r, j = e // d, e % d
        dst[r, j] = src[order[start + r], j]


@kernel("VVIi", uses_float64=True)
def batch_weights(weight, sample_weight, order, start):
    # weight (m,) <- sample_weight[order[start:start + m]] normalised to sum 1; one block
    m = weight.shape[0]
    buf = cuda.shared.array(MAX_BLOCK_THREADS, float64)
    tid, n_threads = cuda.threadIdx.x, cuda.blockDim.x
    s = 0.0
    for r in range(tid, m, n_threads):
        s += np.float64(sample_weight[order[start + r]])
    total = block_total(buf, s)
    for r in range(tid, m, n_threads):
        weight[r] = sample_weight[order[start + r]] / total


@kernel("DDiI", uses_float64=True)
def finish_batch_loss(losses, partial, b, halt):
    # losses[b] <- sum of partial (float64); halt[0] <- 1 if it is not finite; one block
    buf = cuda.shared.array(MAX_BLOCK_THREADS, float64)
    tid, n_threads = cuda.threadIdx.x, cuda.blockDim.x
    s = 0.0
    for e in range(tid, partial.shape[0], n_threads):
        s += partial[e]
    total = block_total(buf, s)
    if tid == 0:
        losses[b] = total
        if not math.isfinite(total):
            halt[0] = 1
