"""The CPU backend's forward pass (kernels/cpu/forward.py): a batch is split across threads by its
work, in chunks that depend on the batch, the network and the machine only, so that any thread
count gives bitwise the same output; BLAS is held to one thread for every call and given back
after (kernels/cpu/blas_hold.py); the thread policy follows the limits set on BLAS, not fastbp's
own hold."""

import os
import threading
import time

import numba
import numpy as np
import pytest
import threadpoolctl
from threadpoolctl import threadpool_info, threadpool_limits

import fastbp
from fastbp.kernels.cpu import blas_hold, forward as cpu_forward, numba_path, threads as cpu_threads
from fastbp.kernels.cpu.sync import atomic_add

from helpers import DTYPES, assert_close, kernel_rtol

DIMS = (20, 48, 24, 5)
PARAMETERS = 21 * 48 + 49 * 24 + 25 * 5  # 2,309
#: Enough rows for the work to be split, and a last chunk that is not whole.
ROWS = cpu_forward.MIN_FORWARD_WORK // PARAMETERS + 337


def _model(dtype, backend="cpu", hidden="relu"):
    layers = [fastbp.Dense(20, 48, hidden), fastbp.Dense(48, 24, "gelu"),
              fastbp.Dense(24, 5, "softmax")]
    return fastbp.Sequential(layers, loss="cross_entropy", dtype=dtype, backend=backend, seed=3)


def _reference(model):
    """The same network on the NumPy reference kernels."""
    reference = _model(model.dtype, backend="numpy",
                       hidden=model.layers[0].activation)
    reference.set_parameters(model.parameters)
    return reference


def _chunk_by_chunk(model, X, step):
    """The layer-by-layer pass (Sequential._forward, one compiled call per layer) on each chunk of
    ``step`` rows, with single-threaded BLAS: what every thread count must reproduce."""
    params = model._device_parameters()
    with threadpool_limits(limits=1, user_api="blas"):
        # copies: the buffers are reused by the next call
        return np.concatenate([model._forward(X[i:i + step], params).outs[-1].copy()
                               for i in range(0, len(X), step)])


def _blas_threads():
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def test_a_batch_is_split_by_its_work_not_its_rows():
    threshold = cpu_forward.MIN_FORWARD_WORK
    digits = (64, 128, 10)  # 9,610 parameters
    wide = (784, 1024, 256, 10)  # 1,068,810 parameters
    assert cpu_forward.plan(200, digits, 2) == (256, False)
    assert cpu_forward.plan(1000, digits, 2) == (256, False)
    assert cpu_forward.plan(2000, digits, 2) == (250, True)  # 8 chunks: 4 per core
    assert cpu_forward.plan(256, wide, 2) == (128, True)
    assert cpu_forward.plan(1000, wide, 2) == (250, True)
    assert cpu_forward.plan(20_000, wide, 2) == (250, True)  # 80 chunks
    assert cpu_forward.plan(20_000, wide, 1) == (256, False)  # one core: never split
    rows = -(-threshold // 1_068_810)  # the fewest rows whose work reaches the bound
    assert cpu_forward.plan(rows - 1, wide, 2)[1] is False
    assert cpu_forward.plan(rows, wide, 2)[1] is True
    for dims in (digits, wide, DIMS, (10, 4096, 10)):
        largest = cpu_forward.largest_chunk(dims)
        for cores in (2, 3, 8):
            for n in (1, 7, 255, 256, 257, 1000, 4097, 20_000):
                chunk, split = cpu_forward.plan(n, dims, cores)
                assert 1 <= chunk <= largest
                if split:  # at least a chunk per core, cut evenly: less than a row short each
                    pieces = -(-n // chunk)
                    assert pieces >= min(cores, n) and pieces * chunk - n < pieces


def test_chunks_follow_the_widest_layer():
    assert cpu_forward.largest_chunk((20, 48, 5)) == 256
    assert cpu_forward.largest_chunk((784, 1024, 256, 10)) == 256
    assert cpu_forward.largest_chunk((10, 2048, 10)) == 128
    assert cpu_forward.largest_chunk((10, 8192, 10)) == cpu_forward.MIN_CHUNK_ROWS == 64


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cores", [2, 3])
def test_split_forward_is_bitwise_that_of_one_thread(dtype, cores, monkeypatch):
    monkeypatch.setattr(cpu_forward, "machine_cores", lambda: cores)
    model = _model(dtype)
    X = np.random.default_rng(0).standard_normal((ROWS, 20)).astype(dtype)
    chunk, split = cpu_forward.plan(ROWS, np.array(DIMS), cores)
    assert split and ROWS % chunk
    expected = _chunk_by_chunk(model, X, chunk)
    submitted = []
    real_pool = cpu_forward.pool

    def counting_pool(workers):
        submitted.append(workers)
        return real_pool(workers)

    monkeypatch.setattr(cpu_forward, "pool", counting_pool)
    for threads in (1, 2, 3, 5):
        # both: a BLAS the compiled hold does not cover (the public-API path) takes the count
        # through training_session
        monkeypatch.setattr(cpu_forward, "thread_count", lambda threads=threads: threads)
        monkeypatch.setattr(cpu_threads, "thread_count", lambda threads=threads: threads)
        out = model.forward(X)
        assert out.dtype == dtype and out.shape == (ROWS, 5)
        np.testing.assert_array_equal(out, expected, err_msg=f"{threads} threads")
    assert submitted == [1, 2, 4]  # the 2-, 3- and 5-thread passes handed chunks to the pool
    assert_close(model.forward(X), _reference(model).forward(X), kernel_rtol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
# the last: a whole chunk and one of GEMV_ROWS
@pytest.mark.parametrize("rows", [1, 3, cpu_forward.GEMV_ROWS,
                                  cpu_forward.CHUNK_ROWS + cpu_forward.GEMV_ROWS])
def test_small_batches_match_the_layer_by_layer_pass(dtype, rows):
    model = _model(dtype, hidden="tanh")
    X = np.random.default_rng(rows).standard_normal((rows, 20)).astype(dtype)
    assert cpu_forward.plan(rows, np.array(DIMS), 2) == (cpu_forward.CHUNK_ROWS, False)
    out = model.forward(X)
    if rows >= cpu_forward.GEMV_ROWS:  # the same GEMMs on the same rows
        np.testing.assert_array_equal(out, _chunk_by_chunk(model, X, cpu_forward.CHUNK_ROWS))
    # rows by BLAS's matrix-vector product: the same sums, in BLAS's order for it
    assert_close(out, _reference(model).forward(X), kernel_rtol(dtype))
    assert_close(out[:1], model.forward(X[:1]), kernel_rtol(dtype))


def _in_pool():
    return threading.current_thread().name == "fastbp-epoch"  # kernels/cpu/threads.py's Worker


@numba.njit
def _claim_one(claims):
    return atomic_add(claims, cpu_forward.CLAIMED, 1)


def test_an_error_in_a_pool_thread_reaches_the_caller(monkeypatch):
    monkeypatch.setattr(cpu_forward, "machine_cores", lambda: 2)
    monkeypatch.setattr(cpu_forward, "thread_count", lambda: 2)
    model = _model(np.float64)
    X = np.zeros((ROWS, 20))
    inference = model._inference()
    real_rows = type(inference).rows

    def rows(self, X, out, claims, chunk, waits):
        if _in_pool():
            _claim_one(claims)  # a chunk it never computes: the caller cannot finish without it
            raise RuntimeError("chunk failed")
        while claims[cpu_forward.CLAIMED] == 0:  # the pool thread has taken its chunk
            time.sleep(0.001)
        real_rows(self, X, out, claims, chunk, waits)

    monkeypatch.setattr(type(inference), "rows", rows)
    with pytest.raises(RuntimeError, match="chunk failed"):
        model.forward(X)
    assert cpu_threads.blas_hold_state()[blas_hold.HOLDERS] == 0  # every thread gave it back


def test_the_caller_does_not_wait_for_a_pool_thread_that_found_no_chunk(monkeypatch):
    monkeypatch.setattr(cpu_forward, "machine_cores", lambda: 2)
    monkeypatch.setattr(cpu_forward, "thread_count", lambda: 2)
    model = _model(np.float64)
    X = np.random.default_rng(4).standard_normal((ROWS, 20))
    expected = model.forward(X)
    inference = model._inference()
    real_rows = type(inference).rows
    release = threading.Event()
    late = []

    def rows(self, X, out, claims, chunk, waits):
        if _in_pool():
            release.wait()  # kept off its core until the caller has returned
            before = out.copy()
            real_rows(self, X, out, claims, chunk, waits)
            late.append(np.array_equal(out, before))
            return
        real_rows(self, X, out, claims, chunk, waits)

    monkeypatch.setattr(type(inference), "rows", rows)
    returned = []
    caller = threading.Thread(target=lambda: returned.append(model.forward(X)))
    caller.start()
    caller.join(timeout=10)  # it returns with the pool thread still held back
    release.set()
    caller.join()
    assert len(returned) == 1, "the caller waited for a pool thread with no chunk to do"
    np.testing.assert_array_equal(returned[0], expected)
    deadline = time.monotonic() + 10
    while not late and time.monotonic() < deadline:
        time.sleep(0.001)
    # it found every chunk claimed and left out as it was (as did any pool thread still late from
    # the unpatched call above)
    assert late and all(late)


needs_threaded_blas = pytest.mark.skipif(
    max(_blas_threads() or [1]) < 2 and numba.config.NUMBA_NUM_THREADS < 2,
    reason="BLAS runs on a single thread on this machine: there is no limit to hold or lower")


@needs_threaded_blas
@pytest.mark.skipif(not numba_path.FAST, reason="the compiled hold calls BLAS through addresses, "
                    "a Numba internal: on the public-API path threadpoolctl's limit holds BLAS "
                    "(test_a_prediction_gives_blas_back_as_it_found_it)")
def test_the_hold_sets_blas_to_one_thread_until_its_last_holder_leaves():
    _model(np.float64).forward(np.zeros((1, 20)))  # makes the hold from the BLAS loaded
    state = cpu_threads.blas_hold_state()
    controllers = cpu_threads.blas_controllers().lib_controllers
    if not all(hasattr(controller, "dynlib") for controller in controllers):
        pytest.skip(f"threadpoolctl {threadpoolctl.__version__} gives no handle on the BLAS "
                    f"library (dynlib): threadpoolctl's limit holds BLAS "
                    f"(test_a_prediction_gives_blas_back_as_it_found_it)")
    assert blas_hold.available()
    before = _blas_threads()
    assert max(before) > 1
    blas_hold.take(state)
    blas_hold.take(state)  # a second holder: another thread's prediction or epoch
    assert _blas_threads() == [1] * len(before)
    blas_hold.give_back(state)
    assert _blas_threads() == [1] * len(before)
    assert cpu_threads.thread_count() == numba.config.NUMBA_NUM_THREADS  # fastbp's own hold
    blas_hold.give_back(state)
    assert _blas_threads() == before
    with threadpool_limits(limits=1, user_api="blas"):  # the user's limit, then fastbp's hold
        blas_hold.take(state)
        blas_hold.give_back(state)
        assert _blas_threads() == [1] * len(before)
    assert _blas_threads() == before


@needs_threaded_blas
@pytest.mark.parametrize("rows", [1, ROWS])
def test_a_prediction_gives_blas_back_as_it_found_it(rows, monkeypatch):
    monkeypatch.setattr(cpu_forward, "machine_cores", lambda: 2)
    model = _model(np.float32)
    X = np.ones((rows, 20), np.float32)
    before = _blas_threads()
    model.forward(X)
    assert _blas_threads() == before
    with threadpool_limits(limits=1, user_api="blas"):
        model.forward(X)
        assert _blas_threads() == [1] * len(before)
    assert _blas_threads() == before


@needs_threaded_blas
def test_predictions_in_several_threads_at_once_hold_blas_together(monkeypatch):
    monkeypatch.setattr(cpu_forward, "machine_cores", lambda: 2)
    model = _model(np.float64)
    batches = [np.random.default_rng(i).standard_normal((n, 20)) for i, n in
               enumerate((1, 9, 300, ROWS))]
    expected = [model.forward(X) for X in batches]
    before = _blas_threads()
    failures = []

    def stream(offset):
        for i in range(40):
            k = (i + offset) % len(batches)
            if not np.array_equal(model.forward(batches[k]), expected[k]):
                failures.append(k)

    threads = [threading.Thread(target=stream, args=(offset,)) for offset in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert cpu_threads.blas_hold_state()[blas_hold.HOLDERS] == 0
    assert _blas_threads() == before


@needs_threaded_blas
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() on this platform")
def test_a_child_forked_during_a_hold_gets_blas_back():
    _model(np.float64).forward(np.zeros((1, 20)))
    state = cpu_threads.blas_hold_state()
    before = _blas_threads()
    blas_hold.take(state)
    try:
        pid = os.fork()
        if pid == 0:  # the child: its threads count from the parent's saved counts
            code = 0 if (_blas_threads() == before and state[blas_hold.HOLDERS] == 0) else 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
    finally:
        blas_hold.give_back(state)
    assert os.waitstatus_to_exitcode(status) == 0
    assert _blas_threads() == before


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                    reason="Numba has a single thread on this machine: no limit to lower")
def test_thread_count_follows_a_threadpoolctl_limit_on_blas():
    assert cpu_threads.thread_count() == numba.config.NUMBA_NUM_THREADS
    with threadpool_limits(limits=1, user_api="blas"):
        assert cpu_threads.thread_count() == 1
        with cpu_threads.training_session() as granted:
            assert granted == 1
    assert cpu_threads.thread_count() == numba.config.NUMBA_NUM_THREADS


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                    reason="Numba has a single thread on this machine: BLAS runs on one anyway")
def test_one_epoch_thread_still_holds_blas_to_one_thread():
    before = _blas_threads()
    assert max(before) > 1
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with cpu_threads.training_session() as granted:
            assert granted == 1
            assert _blas_threads() == [1] * len(before)
    finally:
        numba.set_num_threads(previous)
    assert _blas_threads() == before


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows", [1, 7, 300, ROWS])  # gemv rows, one chunk, two, split over threads
def test_the_compiled_pass_reports_a_value_that_is_not_finite_wherever_it_is(dtype, rows):
    # the estimators and Sequential.forward leave the finiteness check to the compiled pass: it
    # must see NaN and infinity in any chunk and at any column, and report nothing otherwise
    model = _model(dtype)
    inference = model._inference()
    X = np.random.default_rng(1).standard_normal((rows, 20)).astype(dtype)
    out = np.empty((rows, 5), dtype)
    assert inference(X, out) is True
    np.testing.assert_array_equal(out, model.forward(X))
    for row, column, value in [(0, 0, np.nan), (rows - 1, 19, np.inf), (rows // 2, 7, -np.inf)]:
        bad = X.copy()
        bad[row, column] = value
        assert inference(bad, out) is False
        with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
            model.forward(bad)
    assert inference(X, out) is True  # the flag is the call's own


def test_an_unbuilt_model_refuses_input_that_is_not_finite_before_it_builds():
    model = fastbp.Sequential([fastbp.Dense(3, activation="relu"), fastbp.Dense(2)], seed=0)
    X = np.ones((4, 6), np.float32)
    X[1, 2] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        model.forward(X)
    assert not model.built  # as before the call
    assert model.forward(np.ones((4, 6), np.float32)).shape == (4, 2)
