"""Inference on the CPU: the whole network's forward pass in one compiled call, batches with work
enough split across the cores.

``Forward`` is what :meth:`fastbp.Sequential.forward` runs on this backend (``cpu.Inference``). One
compiled call runs every layer: one Python-to-compiled transition per prediction rather than one per
layer, which on a single row cost more than the arithmetic. Rows go through the network a chunk at
a time, so each layer's output is still in cache when the next layer reads it.

A GEMM's result for a row depends on how many rows it is computed with, and with how many threads
BLAS cuts it: OpenBLAS picks its kernels and blocking by the shape (rows differ in the last bit
between one GEMM and 256-row pieces of it, and between BLAS on one thread and on two). So every
call runs with BLAS held to one thread (the compiled code takes the hold itself,
:mod:`fastbp.kernels.cpu.blas_hold`, at no measurable cost), the chunks depend on the batch, the
network and the machine alone (:func:`plan`), and every chunk is computed whole by one thread,
whichever thread and however many there are: the output is the same, bit for bit, on any number of
threads (``tests/test_forward_threads.py``). The threads claim chunks one at a time from a shared
counter rather than each taking a fixed block: where other processes slow the cores down unevenly,
a thread with a fixed share of the batch leaves the others idle for part of the call.

Whether a batch is split depends on its work, rows times parameters (:func:`plan`), as an epoch's
split does (:func:`fastbp.kernels.cpu.threads.split`): 256 rows through a million parameters are
worth two cores, 1,000 rows through ten thousand are not.

Why chunks on the epoch's pool (:mod:`fastbp.kernels.cpu.threads`) rather than BLAS's own threads:
the batch prediction of ``benchmarks/test_prediction.py`` (20,000 rows through 100-256-128-10,
against the FLOPs at the rate of a 2048-square matmul) runs near that rate split into chunks on
these threads, but markedly slower as one call on OpenBLAS's threads, and OpenBLAS's threads on
smaller pieces can stall outright while another process shares the cores; so can a one-row
``gemv`` split over OpenBLAS's threads beside a busy process (``benchmarks/test_model_files.py``).
"""

import threading
from contextlib import nullcontext

import numpy as np
from numba import njit

from . import blas_hold
from . import tables as cpu_tables
from .blas import affine, affine_row
from .blas_hold import hold_blas, release_blas
from .epoch import jit
from .sync import atomic_add, wait_for
from .tables import call_3
from .threads import blas_hold_state, machine_cores, pool, thread_count, training_session

#: Most rows that go through every layer together: 256 rows of a layer up to 1,024 wide (1 MB in
#: float32) keep each layer's output near the core while the next layer reads it. Wider layers take
#: fewer rows (``CHUNK_ELEMENTS``), down to ``MIN_CHUNK_ROWS``, below which a GEMM's fixed cost
#: (packing the weights, once per call) stops being small beside its arithmetic: single-threaded,
#: 4,096 rows through 784-1024-256-10 took about the same time in chunks of 128 to 1,024 rows, and
#: a sixth longer in chunks of 64 (``benchmarks/test_model_files.py``'s network).
CHUNK_ROWS = 256
CHUNK_ELEMENTS = 256 * 1024
MIN_CHUNK_ROWS = 64

#: Chunks of fewer rows are multiplied one row at a time (BLAS's gemv): gemm's fixed cost (packing
#: the weights) outweighs a few rows' arithmetic, gemv's grows by the row, and they cross near here
#: (the one-row predictions of benchmarks/test_prediction.py and benchmarks/test_model_files.py).
GEMV_ROWS = 8

#: Least work, in rows times parameters, worth splitting a prediction across threads: about half a
#: millisecond of float32 arithmetic on one core, where waking a pool thread and waiting for it
#: (tens of microseconds) is small beside what the second core saves, and where a core taken by
#: another process costs a split batch little (the batches of benchmarks/test_model_files.py and
#: benchmarks/test_prediction.py were 10-20% slower split than on one thread with both cores busy).
#: An epoch's bound, ``MIN_THREADED_WORK``, is a quarter of this: its batches' work is three times a
#: prediction's, and it meets its threads at every batch anyway.
MIN_FORWARD_WORK = 16_000_000


def largest_chunk(dims):
    """Most rows per chunk for a network: ``CHUNK_ROWS``, fewer where its widest layer's chunk
    would pass ``CHUNK_ELEMENTS``, never fewer than ``MIN_CHUNK_ROWS``.

    Parameters
    ----------
    dims : sequence of int
        Layer widths, the input first.

    Returns
    -------
    int
    """
    widest = max(int(d) for d in dims[1:])
    return max(MIN_CHUNK_ROWS, min(CHUNK_ROWS, CHUNK_ELEMENTS // widest))


def plan(rows, dims, cores):
    """How a batch goes through the network: in chunks of how many rows, and whether split across
    threads.

    A batch is split where its work, rows times the network's parameters, reaches
    ``MIN_FORWARD_WORK`` on a machine of several cores. Unsplit, its chunks have
    :func:`largest_chunk` rows; split, the batch is cut evenly into a multiple of ``cores`` chunks
    of at most that many rows, so that every core has as many rows to do. The chunks decide which
    rows each GEMM computes together, hence the outputs' last bits, so they depend on the batch,
    the network and the machine, never on the thread count: any number of threads computes the
    same chunks.

    Parameters
    ----------
    rows : int
        The batch's rows.
    dims : sequence of int
        Layer widths, the input first.
    cores : int
        The machine's cores (:func:`fastbp.kernels.cpu.threads.machine_cores`).

    Returns
    -------
    chunk : int
        Rows per chunk (the last may have fewer).
    split : bool
        Whether the chunks are shared out among threads.
    """
    largest = largest_chunk(dims)
    parameters = sum((int(a) + 1) * int(b) for a, b in zip(dims[:-1], dims[1:]))
    if cores < 2 or rows * parameters < MIN_FORWARD_WORK:
        return largest, False
    pieces = cores * -(-rows // (cores * largest))
    return -(-rows // pieces), True


#: The entries of a call's ``claims`` array: chunks claimed, chunks done, a flag a helper thread
#: that failed raises, so that the calling thread stops waiting for the chunk it held, and a flag
#: raised where a chunk's input holds NaN or infinity.
CLAIMED, DONE, FAILED, NON_FINITE = 0, 1, 2, 3


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc"})
def _all_finite(x):
    # x * 0 is 0 for a finite x and NaN for NaN or infinity, and a NaN makes the whole sum NaN in
    # whatever order it is added: "reassoc" lets LLVM add in vector lanes and keeps NaN and
    # infinity as they are. 256 x 784 float32 rows take 9 us so, against 3.5 ms for the first
    # layer's GEMM; added one at a time they took 165 us, as they did when this was inlined into
    # its caller (which drops the flag) or looped over x.ravel() instead of row by row
    total = x.dtype.type(0)
    for i in range(x.shape[0]):
        row = x[i]
        for j in range(row.shape[0]):
            total += row[j] * x.dtype.type(0)
    return total == 0


@jit
def _forward_rows(theta, dims, table, activations, X, out, space, work, hold):
    # out (n, dims[-1]) <- the network on X (n, dims[0]), work = (claims, chunk, waits): chunk rows
    # at a time, each chunk computed by the thread that claims it first through the shared counter
    # claims[CLAIMED], then counted in claims[DONE]; in space (3, chunk * widest): the hidden
    # layers' outputs alternately in its rows 0 and 1, each layer's pre-activation in row 2; BLAS
    # held to one thread meanwhile (hold). The calling thread (waits) then waits until every chunk
    # is done, or a helper failed: not for helper threads that found no chunk left, which another
    # process may keep off their cores for a while
    hold_blas(hold)
    scalars = np.empty(2, theta.dtype)  # BLAS's alpha = 1, beta = 0
    scalars[0], scalars[1] = 1, 0
    claims, chunk, waits = work
    n = X.shape[0]
    last = dims.shape[0] - 2
    while True:
        start = atomic_add(claims, CLAIMED, 1) * chunk
        if start >= n:
            break
        stop = min(start + chunk, n)
        rows = stop - start
        x = X[start:stop]
        if not _all_finite(x):
            claims[NON_FINITE] = 1  # the output is then unspecified; the caller reports X
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
        atomic_add(claims, DONE, 1)
    release_blas(hold)
    if waits:
        wait_for(claims, DONE, (n + chunk - 1) // chunk, FAILED)


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
        self.largest = largest_chunk(dims)
        self.hold = blas_hold_state()
        self.compiled_hold = blas_hold.available()
        self._space = threading.local()
        self._plans = {}  # rows -> plan(rows, ...): the same batch sizes come back call after call

    def space(self):
        """This thread's buffers for the layers' outputs and pre-activations, and the counter of
        claimed chunks for the calls it makes."""
        arrays = getattr(self._space, "arrays", None)
        if arrays is None:
            arrays = self._space.arrays = (
                np.empty((3, self.largest * self.widest), self.theta.dtype), np.zeros(4, np.int64))
        return arrays

    def rows(self, X, out, claims, chunk, waits):
        """The chunks of ``chunk`` rows of ``out`` from ``X`` that the calling thread claims first
        (``claims``: the counters of one call, shared by its threads, :data:`CLAIMED`), with BLAS
        held to one thread; ``waits``: then wait until every chunk is done (the calling thread)."""
        _forward_rows(self.theta, self.dims, self.table, self.activations, X, out,
                      self.space()[0], (claims, chunk, waits), self.hold)

    def helper_rows(self, X, out, claims, chunk):
        """:meth:`rows` on a pool thread: an error there flags the call (:data:`FAILED`), so that
        the calling thread stops waiting for a chunk that will never be done."""
        try:
            self.rows(X, out, claims, chunk, False)
        except BaseException:
            claims[FAILED] = 1
            raise

    def plan(self, rows):
        """:func:`plan` for this network on this machine, kept per batch size."""
        found = self._plans.get(rows)
        if found is None:
            if len(self._plans) > 64:
                self._plans.clear()
            found = self._plans[rows] = plan(rows, self.dims, machine_cores())
        return found

    def __call__(self, X, out):
        """``out`` (n, dims[-1]) <- the network on ``X`` (n, dims[0]), both C-contiguous of the
        parameters' dtype. Returns whether every value of ``X`` is finite, which the compiled pass
        checks as it reads each chunk (a NumPy check beforehand would be one more pass, and one
        more release of the GIL); where it is not, ``out`` is unspecified.

        BLAS runs on one thread (the compiled pass holds it so itself, :mod:`.blas_hold`), so that
        the output does not depend on how many threads BLAS or fastbp uses. A batch with work
        enough (:func:`plan`) is split across :func:`~fastbp.kernels.cpu.threads.thread_count`
        threads, which take its chunks one at a time as they finish the last, so a thread slowed by
        another process on its core leaves its share to the others; a smaller one runs on the
        calling thread. The calling thread returns once every chunk is done: a pool thread that
        another process keeps off its core until the others have done every chunk holds nothing up.
        """
        chunk, split = self.plan(X.shape[0])
        if self.compiled_hold and not split:  # the latency path: nothing but the compiled call
            space, claims = self.space()
            claims[CLAIMED] = claims[NON_FINITE] = 0
            _forward_rows(self.theta, self.dims, self.table, self.activations, X, out, space,
                          (claims, chunk, False), self.hold)
            return not claims[NON_FINITE]
        # counters of this call alone: a helper thread that starts after the call has returned
        # finds every chunk claimed and leaves without touching X or out
        claims = np.zeros(4, np.int64)
        session = nullcontext(thread_count()) if self.compiled_hold else training_session()
        with session as threads:  # (threadpoolctl's limit where the compiled hold cannot hold)
            helpers = min(threads, -(-X.shape[0] // chunk)) - 1 if split else 0
            tasks = [worker.submit(self.helper_rows, X, out, claims, chunk)
                     for worker in (pool(helpers)[:helpers] if helpers > 0 else [])]
            try:
                self.rows(X, out, claims, chunk, True)
            except BaseException:
                claims[FAILED] = 1
                raise
            if claims[FAILED]:
                for task in tasks:
                    task.result()  # re-raises the helper's error
        return not claims[NON_FINITE]
