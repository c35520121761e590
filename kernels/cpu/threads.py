"""How many threads a CPU epoch may split its batches across, and the threads themselves.

:func:`fastbp.kernels.cpu.train_epoch` runs one compiled, GIL-free worker per thread: the calling
thread and ``threads - 1`` threads of a small pool kept for the process. The workers share out each
mini-batch's row shards, then its chunks of the update, as tasks, each its own first
(:func:`fastbp.kernels.cpu.sync.take`). Each shard calls BLAS itself, which only pays when every
BLAS call stays on its calling thread (an OpenBLAS with its own worker threads, called from two
threads at once, stalls for milliseconds a call), so BLAS is held to one thread (threadpoolctl)
while an epoch runs; where threadpoolctl cannot hold the BLAS that Numba calls (SciPy's), the epoch
runs on one thread. How a batch is cut into shards (:func:`split`) depends on its size and the
machine, not on the threads, so the weights are the same for any thread count.

No Numba parallel region is used: they cost several times the JIT time of serial code, and GNU
OpenMP aborts a ``fork()``ed child that starts one. The pool is dropped in a forked child and made
anew on first use.
"""

import collections
import os
import threading
import time
from contextlib import contextmanager

import numba

from . import blas_hold

#: Fewest rows worth a thread of their own, and fewest parameters worth splitting the optimizer
#: update across threads: set when the epoch ran on Numba's parallel regions, where a second shard
#: paid from 16 rows and splitting the update paid for thousands of parameters, not for hundreds.
#: With the threads of this module, whose meetings cost more, MIN_THREADED_WORK below is the bound
#: that decides (benchmarks/test_training.py).
MIN_SHARD_ROWS = 16
MIN_CHUNK_PARAMETERS = 4096

#: How long a thread that has run out of work keeps checking for more (yielding its core at every
#: check) before it sleeps: epochs follow each other a fraction of a millisecond apart, and a
#: sleeping thread has to be woken for each, which costs a short epoch a measurable share of its
#: time (the fits of benchmarks/test_training.py and benchmarks/test_estimators.py run epochs back
#: to back). GNU OpenMP's threads wait the same way (GOMP_SPINCOUNT) between parallel regions.
SPIN_SECONDS = 0.002

_state = {"blas": None, "blas_limit_holds": None, "pool": []}
_pool_lock = threading.Lock()
_held = threading.local()  # the thread count granted by an enclosing training_session, per thread
_budget = threading.local()  # the thread count set by an enclosing thread_budget, per thread


def _wait_briefly_then_sleep(ready, sleep):
    """Until ``ready()``: check it (yielding the core in between) for up to ``SPIN_SECONDS``, then
    ``sleep()`` (blocks until woken) and start over."""
    while not ready():
        deadline = time.perf_counter() + SPIN_SECONDS
        while not ready() and time.perf_counter() < deadline:
            os.sched_yield()  # lets the GIL and the core go
        if not ready():
            sleep()


class Task:
    """A call handed to a :class:`Worker`; :meth:`result` waits for it."""

    def __init__(self, function, args):
        self.function, self.args = function, args
        self.done = threading.Event()
        self.value = self.error = None

    def run(self):
        try:
            self.value = self.function(*self.args)
        except BaseException as error:  # handed to the caller of result()
            self.error = error
        self.done.set()

    def result(self):
        """The call's return value; re-raises its exception."""
        _wait_briefly_then_sleep(self.done.is_set, self.done.wait)
        if self.error is not None:
            raise self.error
        return self.value


class Worker:
    """A daemon thread that runs the tasks given to it, in order."""

    def __init__(self):
        self._tasks = collections.deque()
        self._wake = threading.Event()
        threading.Thread(target=self._serve, name="fastbp-epoch", daemon=True).start()

    def submit(self, function, *args):
        """Run ``function(*args)`` on this thread; returns its :class:`Task`."""
        task = Task(function, args)
        self._tasks.append(task)
        self._wake.set()
        return task

    def _sleep(self):
        self._wake.wait()
        self._wake.clear()

    def _serve(self):
        while True:
            _wait_briefly_then_sleep(lambda: bool(self._tasks), self._sleep)
            self._tasks.popleft().run()


def _forget_pool_in_child():
    # a forked child has the pool's objects but not its threads
    _state["pool"] = []


os.register_at_fork(after_in_child=_forget_pool_in_child)


def pool(workers):
    """The process's epoch worker threads, at least ``workers`` of them (made on first use).

    Returns
    -------
    list of Worker
    """
    with _pool_lock:
        while len(_state["pool"]) < workers:
            _state["pool"].append(Worker())
        return list(_state["pool"])


def blas_controllers():
    """threadpoolctl's handle on the BLAS libraries loaded, SciPy's (Numba's) among them (a
    ``ThreadpoolController`` selection, made on first use)."""
    if _state["blas"] is None:
        from . import blas  # noqa: F401  (loads the BLAS Numba calls, if not yet)
        from threadpoolctl import ThreadpoolController
        _state["blas"] = ThreadpoolController().select(user_api="blas")
    return _state["blas"]


def blas_hold_state():
    """The process's compiled BLAS hold (:func:`fastbp.kernels.cpu.blas_hold.hold`), made on first
    use for the libraries of :func:`blas_controllers`."""
    return blas_hold.hold(blas_controllers())


@contextmanager
def training_session():
    """Context for one epoch, a whole training run or a forward pass: yields how many threads it
    may use, with BLAS held to one thread while it runs.

    BLAS is held at one fastbp thread too, for two reasons. OpenBLAS's threads group a GEMM's
    sums differently from its single thread, and the weights must not depend on the thread
    count. And a batch's GEMMs are too small for BLAS's own threads to pay, while beside another
    busy process they stall: ``benchmarks/test_contention.py`` times a digits fit with a second
    fastbp fit beside it, which at one fastbp thread with OpenBLAS left on its own threads took
    several times as long as with BLAS held, and its slowest runs many times as long.

    Yields
    ------
    int
        :func:`thread_count` where BLAS can be held to one thread, else 1.
    """
    granted = getattr(_held, "threads", 0)
    if granted:  # inside a training session: BLAS is already held
        yield granted
        return
    threads = thread_count()
    blas = blas_controllers()
    if not blas.lib_controllers:
        yield 1  # a BLAS threadpoolctl cannot limit
        return
    with _blas_on_one_thread(blas):
        if _state["blas_limit_holds"] is None:
            _state["blas_limit_holds"] = all(info["num_threads"] == 1 for info in blas.info())
        _held.threads = threads if _state["blas_limit_holds"] else 1
        try:
            yield _held.threads
        finally:
            _held.threads = 0


_blas_hold = {"sessions": 0, "limiter": None}  # training sessions open in the process
_blas_hold_lock = threading.Lock()


@contextmanager
def _blas_on_one_thread(blas):
    """BLAS held to one thread while any training session or compiled forward pass of the process
    runs: by the compiled hold they share (:mod:`.blas_hold`), or where it does not cover the BLAS
    loaded, by threadpoolctl's limit, counted here. The limits are process-wide: two sessions each
    setting and restoring their own would let the one that ends last restore the one thread the
    other had set, for good. The session that sets the limit and the one that restores it may run
    on different threads."""
    state = blas_hold_state()
    if blas_hold.available():
        blas_hold.take(state)
        try:
            yield
        finally:
            blas_hold.give_back(state)
        return
    with _blas_hold_lock:
        if _blas_hold["sessions"] == 0:
            _take_blas_control(blas)
            _blas_hold["limiter"] = blas.limit(limits=1)
        _blas_hold["sessions"] += 1
    try:
        yield
    finally:
        with _blas_hold_lock:
            _blas_hold["sessions"] -= 1
            if _blas_hold["sessions"] == 0:
                _take_blas_control(blas)
                _blas_hold["limiter"].restore_original_limits()
                _blas_hold["limiter"] = None
                _take_blas_control(blas)  # and leave it to whoever sets a limit next


def _take_blas_control(blas):
    """Let this thread's limits reach OpenBLAS. Since threadpoolctl 3.8 only the first thread to
    limit an OpenBLAS with its own thread pool (in practice the main thread, once it has trained)
    may change it, and the others' limits are silently dropped: two fits in two threads then ran
    every GEMM on OpenBLAS's threads, fighting over them, many times slower than one after the
    other. Clearing threadpoolctl's record of that thread (its documented
    ``clear_controlling_thread``) lets the next limit through."""
    for library in blas.lib_controllers:
        clear = getattr(type(library), "clear_controlling_thread", None)
        if clear is not None:
            clear(force=True)


@contextmanager
def thread_budget(threads):
    """Context in which epochs started by the calling thread use ``threads`` threads (where BLAS
    can be held to one), whatever Numba's setting says.

    For a caller that owns a share of the cores, such as a task on a Dask worker
    (:mod:`fastbp.dask`): Numba's setting is one figure for the whole process, and
    ``numba.set_num_threads`` would start Numba's own pool just to record it.

    Parameters
    ----------
    threads : int
        At least 1.
    """
    if isinstance(threads, bool) or not isinstance(threads, int):
        raise TypeError(f"threads must be an integer >= 1; got {threads!r}")
    if threads < 1:
        raise ValueError(f"threads must be an integer >= 1; got {threads!r}")
    previous = getattr(_budget, "threads", None)
    _budget.threads = threads
    try:
        yield
    finally:
        _budget.threads = previous


def thread_count():
    """Threads an epoch may use: the calling thread's :func:`thread_budget` inside one, else
    ``numba.get_num_threads()``, the knob users set with ``numba.set_num_threads`` or
    ``NUMBA_NUM_THREADS`` (which joblib's workers set to their share of the cores), or fewer where
    BLAS is limited to fewer (``threadpoolctl.threadpool_limits``, ``OPENBLAS_NUM_THREADS``): a
    limit meant for a process's compute threads applies to fastbp's. BLAS held to one thread by
    fastbp itself (an epoch or a prediction on another thread, :mod:`.blas_hold`) is not such a
    limit: the count it saved is read instead (where threadpoolctl's limit stands in for that
    hold, it still counts).

    Reading Numba's count starts Numba's own thread pool (the epoch does not use it), so until
    something has started that pool, the number it would report is read from Numba's
    configuration instead.
    """
    budget = getattr(_budget, "threads", None)
    if budget is not None:
        return budget
    if _numba_threads_started():
        threads = numba.get_num_threads()
    else:
        threads = numba.config.NUMBA_NUM_THREADS
    if threads < 2 or getattr(_held, "threads", 0):
        return threads  # inside an epoch on this thread, BLAS's limit is fastbp's own
    blas = blas_controllers()
    state = blas_hold_state()
    if blas_hold.available():  # the limit set before fastbp's hold, if one is taken
        limit = blas_hold.user_limit(state)
        return max(1, min(threads, limit)) if limit > 0 else threads
    return max(1, min([threads, *(library.num_threads for library in blas.lib_controllers)]))


def _numba_threads_started():
    """Whether Numba's own thread pool has started: ``numba.threading_layer()``, its public
    function, names the layer once it has and raises ``ValueError`` until then. Were it to answer
    otherwise, the count would be read from ``numba.get_num_threads()``, which starts the pool:
    a cost, not a wrong count."""
    try:
        numba.threading_layer()
    except ValueError:
        return False
    return True


#: Least work per batch, in rows times parameters (a sixth of its GEMM FLOPs), worth splitting
#: across threads: below it, handing each epoch to a second thread and meeting it twice per batch
#: cost more than the second core saved. Set by benchmarks/test_training.py: its case (a) (200
#: rows x 7,510 parameters) runs faster on one thread, cases (b) and (c) (256 x 59k and 256 x 113k)
#: faster on two; and a small fit split over two threads slows down beside another process (the
#: setting of benchmarks/test_contention.py).
MIN_THREADED_WORK = 4_000_000


def machine_cores():
    """The cores this process may run on (its CPU affinity), whatever thread count is asked for.
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity on macOS and Windows
        return os.cpu_count() or 1


def split(rows, n_parameters):
    """``(row shards, parameter chunks)`` of an epoch whose batches have ``rows`` rows: one of
    each unless the batch's work reaches ``MIN_THREADED_WORK``, else one per core of the machine.

    The split decides how the gradient's sums are grouped, hence the weights' last bits, so it
    depends on the work and the machine only: any number of threads runs the same shards and
    chunks (a thread takes several where there are fewer threads than shards) and gets bitwise
    the same weights.
    """
    if rows * n_parameters < MIN_THREADED_WORK:
        return 1, 1
    cores = machine_cores()
    return shard_count(cores, rows), chunk_count(cores, n_parameters)


def shard_count(cores, rows):
    """Row shards per batch of ``rows``: one per core, each of at least ``MIN_SHARD_ROWS``."""
    return max(1, min(cores, rows // MIN_SHARD_ROWS))


def chunk_count(cores, n_parameters):
    """Pieces the optimizer update is split into: one per core for large enough models."""
    return cores if n_parameters >= MIN_CHUNK_PARAMETERS else 1
