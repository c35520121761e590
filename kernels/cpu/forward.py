"""Inference on the CPU: the whole network's forward pass in one compiled call, large batches split
across the cores.

``Forward`` is what :meth:`fastbp.Sequential.forward` runs on this backend (``cpu.Inference``). One
compiled call runs every layer: one Python-to-compiled transition per prediction rather than one per
layer, which on a single row cost more than the arithmetic. Rows go through the network
``CHUNK_ROWS`` at a time, so each layer's output is still in cache when the next layer reads it.

A GEMM's result for a row depends on how many rows it is computed with, and with how many threads
BLAS cuts it: OpenBLAS picks its kernels and blocking by the shape (rows differ in the last bit
between one GEMM and 256-row pieces of it, and between BLAS on one thread and on two). So a batch
of more than one chunk runs with BLAS held to one thread, and every chunk starts at the same row
and is computed whole by one thread, whichever thread and however many there are: the output is
the same, bit for bit, on any number of threads (``tests/test_forward_threads.py``). The threads
claim chunks one at a time from a shared counter rather than each taking a fixed block: where
other processes slow the cores down unevenly, a thread with a fixed share of the batch leaves the
others idle for part of the call.

Why chunks on the epoch's pool (:mod:`fastbp.kernels.cpu.threads`) rather than BLAS's own threads:
the batch prediction of ``benchmarks/test_prediction.py`` (20,000 rows through 100-256-128-10,
against the FLOPs at the rate of a 2048-square matmul) runs near that rate split into chunks on
these threads, but markedly slower as one call on OpenBLAS's threads, and OpenBLAS's threads on
smaller pieces can stall outright while another process shares the cores.
"""

import threading

import numpy as np

from . import tables as cpu_tables
from .blas import affine, affine_row
from .epoch import jit
from .sync import atomic_add
from .tables import call_3
from .threads import training_session, pool

#: Rows that go through every layer together: 256 rows of the widest layer of the benchmark's
#: 100-256-128-10 network (256 KB in float32, double-buffered) stay in a core's L2 cache.
CHUNK_ROWS = 256

#: Chunks of fewer rows are multiplied one row at a time (BLAS's gemv): gemm's fixed cost (packing
#: the weights) outweighs a few rows' arithmetic, gemv's grows by the row, and they cross near here
#: (the one-row predictions of benchmarks/test_prediction.py and benchmarks/test_model_files.py).
GEMV_ROWS = 8

#: Fewest rows per thread worth waking a pool thread for (fewer finish before it wakes).
MIN_BLOCK_ROWS = 2 * CHUNK_ROWS


@jit
def _forward_rows(theta, dims, table, activations, X, out, space, work):
    # out (n, dims[-1]) <- the network on X (n, dims[0]), work = (claims, chunk): chunk rows at a
    # time, each chunk computed by the thread that claims it first through the shared counter
    # claims[0]; in space (3, chunk * widest): the hidden layers' outputs alternately in its rows 0
    # and 1, each layer's pre-activation in row 2
    scalars = np.empty(2, theta.dtype)  # BLAS's alpha = 1, beta = 0
    scalars[0], scalars[1] = 1, 0
    claims, chunk = work
    n = X.shape[0]
    last = dims.shape[0] - 2
    while True:
        start = atomic_add(claims, 0, 1) * chunk
        if start >= n:
            return
        stop = min(start + chunk, n)
        rows = stop - start
        x = X[start:stop]
        offset = 0
        for i in range(last + 1):
            n_in, n_out = dims[i], dims[i + 1]
            split = offset + n_in * n_out
            W = theta[offset:split].reshape((n_in, n_out))
            b = theta[split:split + n_out]
            offset = split + n_out
            pre = space[2, :rows * n_out].reshape((rows, n_out))
            if rows < GEMV_ROWS:
                for row in range(rows):
                    affine_row(x[row], W, b, pre[row], scalars)
            else:
                affine(x, W, b, pre, scalars)
            if i == last:
                y = out[start:stop]
            else:
                y = space[i % 2, :rows * n_out].reshape((rows, n_out))
            # out of place: in place (y as both output and input), LLVM's overlap check sends the
            # loop to its scalar version, 2x slower than reading pre and writing y
            call_3(table[activations[i]], y, pre, pre)
            x = y


class Forward:
    """A network's forward pass on this backend: its parameters and the tables it calls, bound once,
    and each thread's scratch space.

    Parameters
    ----------
    theta : ndarray, shape (P,)
        The parameters, in the layout of :mod:`fastbp.kernels.layout` (read at each call).
    dims : ndarray of int64, shape (n_layers + 1,)
    activations : ndarray of int64, shape (n_layers,)
    """

    def __init__(self, theta, dims, activations):
        self.theta, self.dims, self.activations = theta, dims, activations
        self.table = cpu_tables.table("activation_forward", theta.dtype, set(activations.tolist()))
        self.widest = max(int(d) for d in dims[1:])
        self._space = threading.local()

    def space(self):
        """This thread's buffers for the layers' outputs and pre-activations."""
        space = getattr(self._space, "array", None)
        if space is None:
            space = self._space.array = np.empty((3, CHUNK_ROWS * self.widest), self.theta.dtype)
        return space

    def rows(self, X, out, claims):
        """The chunks of ``out`` from ``X`` that the calling thread claims first (``claims``: the
        counter of claimed chunks, shared by the threads of one call), BLAS as it is set."""
        _forward_rows(self.theta, self.dims, self.table, self.activations, X, out, self.space(),
                      (claims, CHUNK_ROWS))

    def __call__(self, X, out):
        """``out`` (n, dims[-1]) <- the network on ``X`` (n, dims[0]), both C-contiguous of the
        parameters' dtype.

        One chunk of rows runs on the calling thread with BLAS as it is set (holding BLAS would
        cost more than a one-row prediction). More rows run with BLAS held to one thread, so
        that the output does not depend on how many threads BLAS or fastbp uses, on one thread per
        ``MIN_BLOCK_ROWS`` rows at most. The threads take chunks one at a time as they finish the
        last, so a thread slowed by another process on its core leaves its share to the others.
        """
        n = X.shape[0]
        claims = np.zeros(1, np.int64)
        if n <= CHUNK_ROWS:
            self.rows(X, out, claims)
            return
        with training_session() as threads:
            helpers = max(1, min(threads, n // MIN_BLOCK_ROWS)) - 1
            workers = pool(helpers) if helpers else []
            tasks = [worker.submit(self.rows, X, out, claims) for worker in workers]
            try:
                self.rows(X, out, claims)
            finally:
                for task in tasks:
                    task.result()  # re-raises a helper's error; none writes to out after return
