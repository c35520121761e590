"""Tiled GEMM kernels: ``C = op(A) @ op(B)``, optionally with a fused bias-and-activation epilogue.

Three forms cover a dense layer (see ``FORMS``): the forward ``x @ W + b`` with its activation, the
weight gradient ``x.T @ delta`` and the input gradient ``delta @ W.T``. A transposed operand is read
through its indices, never copied: tiles are staged in shared memory as ``tile[p, w]`` (``p`` along
the reduction), and each tile loader walks the operand's contiguous axis with consecutive threads,
so global loads coalesce whichever way the operand is stored.

Two variants, chosen by :data:`fastbp.kernels.cuda.config.GEMM_VARIANT`:

1. plain tiling: ``TILE x TILE`` threads, one output each;
2. register blocking: each thread accumulates ``THREAD_M x THREAD_N`` outputs in registers from
   ``THREAD_M + THREAD_N`` shared-memory reads per step along the reduction, so each shared read
   feeds several multiply-adds. A thread's rows and columns are strided by the thread-grid size,
   which keeps shared-memory reads free of bank conflicts and global stores coalesced. (In the
   fused forward form the activation's branches are too large for the compiler to unroll over the
   register tile, so the finished tile passes once through local memory on its way out; the
   reduction loop itself runs in registers, as the PTX shows.)

Tile shapes are compile-time constants, so kernels are built per shape by cached factories.
"""

import functools

from numba import cuda

from . import config as cuda_config
from .launch import MAX_BLOCK_THREADS, blocks_for, launch
from .math import activate

#: form -> (A read transposed, B read transposed, fused bias-and-activation epilogue)
FORMS = {
    "forward": (False, False, True),  # pre = x @ W + b; out = act(pre)
    "weights": (True, False, False),  # dW = x.T @ delta
    "inputs": (False, True, False),   # dx = delta @ W.T
}

#: The argument kinds of every GEMM kernel (see :mod:`fastbp.kernels.cuda.launch`):
#: ``(out, pre, a, b, bias, activation)``; the unfused forms ignore ``pre``, ``bias`` and
#: ``activation``.
KINDS = "MMMMVi"


@cuda.jit(device=True)
def _store_fused(out, pre, bias, activation, r, c, v):
    z = v + bias[c]
    pre[r, c] = z  # pre may be out itself: out is written last
    out[r, c] = activate(z, activation)


@cuda.jit(device=True)
def _store_plain(out, pre, bias, activation, r, c, v):
    out[r, c] = v


def _tile_loader(depth, width, k_contiguous, n_threads):
    """Device function ``load(tile, m, k0, w0, tid)``: ``tile[p, w] = op(m)[k0 + p, w0 + w]``.

    ``tile`` is ``(depth, width)``; ``m`` is stored ``(width axis, k)`` when ``k_contiguous``, else
    ``(k, width axis)``. Elements outside ``m`` load as zero, which pads ragged edges.
    """
    size = depth * width

    @cuda.jit(device=True)
    def load(tile, m, k0, w0, tid):
        zero = m.dtype.type(0)
        for e in range(tid, size, n_threads):
            if k_contiguous:
                w, p = e // depth, e % depth
                r, c = w0 + w, k0 + p
            else:
                p, w = e // width, e % width
                r, c = k0 + p, w0 + w
            tile[p, w] = m[r, c] if r < m.shape[0] and c < m.shape[1] else zero

    return load


def _parts(form, depth, block_m, block_n, n_threads):
    """The pieces both variants share: tile loaders for A and B, the epilogue, the depth of op(A)."""
    trans_a, trans_b, fused = FORMS[form]
    load_a = _tile_loader(depth, block_m, not trans_a, n_threads)
    load_b = _tile_loader(depth, block_n, trans_b, n_threads)
    store = _store_fused if fused else _store_plain
    k_axis = 0 if trans_a else 1
    return load_a, load_b, store, k_axis


@functools.cache
def plain_kernel(form, tile):
    """Variant 1: ``tile x tile`` threads (a 1-D block), one output per thread."""
    n_threads = tile * tile
    load_a, load_b, store, k_axis = _parts(form, tile, tile, tile, n_threads)

    @cuda.jit
    def gemm(out, pre, a, b, bias, activation):
        # out, pre (m, n) <- op(a) (m, k) @ op(b) (k, n) [+ bias (n,), act]
        a_tile = cuda.shared.array((tile, tile), out.dtype)
        b_tile = cuda.shared.array((tile, tile), out.dtype)
        tid = cuda.threadIdx.x
        tx, ty = tid % tile, tid // tile
        row0, col0 = cuda.blockIdx.x * tile, cuda.blockIdx.y * tile
        acc = out.dtype.type(0)
        for k0 in range(0, a.shape[k_axis], tile):
            load_a(a_tile, a, k0, row0, tid)
            load_b(b_tile, b, k0, col0, tid)
            cuda.syncthreads()
            for p in range(tile):
                acc += a_tile[p, ty] * b_tile[p, tx]
            cuda.syncthreads()
        r, c = row0 + ty, col0 + tx
        if r < out.shape[0] and c < out.shape[1]:
            store(out, pre, bias, activation, r, c, acc)

    return gemm


@functools.cache
def blocked_kernel(form, block_m, block_n, block_k, thread_m, thread_n):
    """Variant 2: each thread accumulates ``thread_m x thread_n`` outputs in registers."""
    rows_t, cols_t = block_m // thread_m, block_n // thread_n  # the block's grid of threads
    n_threads = rows_t * cols_t
    load_a, load_b, store, k_axis = _parts(form, block_k, block_m, block_n, n_threads)

    @cuda.jit
    def gemm(out, pre, a, b, bias, activation):
        # out, pre (m, n) <- op(a) (m, k) @ op(b) (k, n) [+ bias (n,), act]
        dtype = out.dtype
        a_tile = cuda.shared.array((block_k, block_m), dtype)
        b_tile = cuda.shared.array((block_k, block_n), dtype)
        acc = cuda.local.array((thread_m, thread_n), dtype)
        a_reg = cuda.local.array(thread_m, dtype)
        b_reg = cuda.local.array(thread_n, dtype)
        tid = cuda.threadIdx.x
        tx, ty = tid % cols_t, tid // cols_t
        row0, col0 = cuda.blockIdx.x * block_m, cuda.blockIdx.y * block_n
        for i in range(thread_m):
            for j in range(thread_n):
                acc[i, j] = dtype.type(0)
        for k0 in range(0, a.shape[k_axis], block_k):
            load_a(a_tile, a, k0, row0, tid)
            load_b(b_tile, b, k0, col0, tid)
            cuda.syncthreads()
            for p in range(block_k):
                for i in range(thread_m):
                    a_reg[i] = a_tile[p, ty + i * rows_t]
                for j in range(thread_n):
                    b_reg[j] = b_tile[p, tx + j * cols_t]
                for i in range(thread_m):
                    for j in range(thread_n):
                        acc[i, j] += a_reg[i] * b_reg[j]
            cuda.syncthreads()
        for i in range(thread_m):
            r = row0 + ty + i * rows_t
            for j in range(thread_n):
                c = col0 + tx + j * cols_t
                if r < out.shape[0] and c < out.shape[1]:
                    store(out, pre, bias, activation, r, c, acc[i, j])

    return gemm


def configured(form, variant=None):
    """The GEMM kernel of ``form`` for the current config, with its output tile and block size.

    Returns
    -------
    kernel, (block_m, block_n), n_threads
    """
    c = cuda_config
    variant = c.GEMM_VARIANT if variant is None else variant
    if variant == 1:
        _check_block(c.TILE * c.TILE, "TILE * TILE")
        return plain_kernel(form, c.TILE), (c.TILE, c.TILE), c.TILE * c.TILE
    if variant == 2:
        if c.BLOCK_M % c.THREAD_M or c.BLOCK_N % c.THREAD_N:
            raise ValueError(f"BLOCK_M x BLOCK_N = {c.BLOCK_M} x {c.BLOCK_N} must be a multiple of "
                             f"THREAD_M x THREAD_N = {c.THREAD_M} x {c.THREAD_N}")
        n_threads = (c.BLOCK_M // c.THREAD_M) * (c.BLOCK_N // c.THREAD_N)
        _check_block(n_threads, "(BLOCK_M / THREAD_M) * (BLOCK_N / THREAD_N)")
        kernel = blocked_kernel(form, c.BLOCK_M, c.BLOCK_N, c.BLOCK_K, c.THREAD_M, c.THREAD_N)
        return kernel, (c.BLOCK_M, c.BLOCK_N), n_threads
    raise ValueError(f"GEMM_VARIANT must be 1 or 2; got {variant!r}")


def _check_block(n_threads, what):
    if not 1 <= n_threads <= MAX_BLOCK_THREADS:
        raise ValueError(f"{what} = {n_threads} threads per block; CUDA allows 1 to "
                         f"{MAX_BLOCK_THREADS}")


def gemm(form, out, pre, a, b, bias, activation, variant=None):
    """Launch the GEMM of ``form`` writing ``out`` (and ``pre`` for the fused forward form).

    Parameters
    ----------
    form : {"forward", "weights", "inputs"}
    out, pre : device array, shape (m, n)
    a, b : device arrays whose ``op(a) @ op(b)`` is ``(m, n)``
    bias : device array, shape (n,); read only by the forward form
    activation : int
    variant : {1, 2} or None
        None takes :data:`~fastbp.kernels.cuda.config.GEMM_VARIANT`.
    """
    # out, pre (m, n) <- op(a) (m, k) @ op(b) (k, n) [+ bias (n,), act]
    kernel, (block_m, block_n), n_threads = configured(form, variant)
    m, n = out.shape
    launch(kernel, (blocks_for(m, block_m), blocks_for(n, block_n)), n_threads)(
        out, pre, a, b, bias, activation)
