"""The CPU backend's forward pass (kernels/cpu/forward.py): large batches split across threads give
bitwise the output of one thread, and the thread policy follows the limits set on BLAS."""

import threading

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import fastbp
from fastbp.kernels.cpu import forward as cpu_forward, threads as cpu_threads

from helpers import DTYPES, assert_close, kernel_rtol

#: Enough rows for three blocks of whole chunks, and a last chunk that is not whole.
ROWS = 3 * cpu_forward.MIN_BLOCK_ROWS + 37


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


def _chunk_by_chunk(model, X):
    """The layer-by-layer pass (Sequential._forward, one compiled call per layer) on each chunk of
    ``CHUNK_ROWS`` rows, with single-threaded BLAS: what every thread count must reproduce."""
    params, step = model._device_parameters(), cpu_forward.CHUNK_ROWS
    with threadpool_limits(limits=1, user_api="blas"):
        # copies: the buffers are reused by the next call
        return np.concatenate([model._forward(X[i:i + step], params).outs[-1].copy()
                               for i in range(0, len(X), step)])


@pytest.mark.parametrize("dtype", DTYPES)
def test_split_forward_is_bitwise_that_of_one_thread(dtype, monkeypatch):
    model = _model(dtype)
    X = np.random.default_rng(0).standard_normal((ROWS, 20)).astype(dtype)
    expected = _chunk_by_chunk(model, X)
    submitted = []
    real_pool = cpu_forward.pool

    def counting_pool(workers):
        submitted.append(workers)
        return real_pool(workers)

    monkeypatch.setattr(cpu_forward, "pool", counting_pool)
    for threads in (1, 2, 3):
        monkeypatch.setattr(cpu_threads, "thread_count", lambda threads=threads: threads)
        out = model.forward(X)
        assert out.dtype == dtype and out.shape == (ROWS, 5)
        np.testing.assert_array_equal(out, expected, err_msg=f"{threads} threads")
    assert submitted == [1, 2]  # the 2- and 3-thread passes handed blocks to the pool
    assert_close(model.forward(X), _reference(model).forward(X), kernel_rtol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
# the last: a whole chunk and one of GEMV_ROWS
@pytest.mark.parametrize("rows", [1, 3, cpu_forward.GEMV_ROWS,
                                  cpu_forward.CHUNK_ROWS + cpu_forward.GEMV_ROWS])
def test_small_batches_match_the_layer_by_layer_pass(dtype, rows):
    model = _model(dtype, hidden="tanh")
    X = np.random.default_rng(rows).standard_normal((rows, 20)).astype(dtype)
    out = model.forward(X)
    if rows >= cpu_forward.GEMV_ROWS:  # the same GEMMs on the same rows
        np.testing.assert_array_equal(out, _chunk_by_chunk(model, X))
    # rows by BLAS's matrix-vector product: the same sums, in BLAS's order for it
    assert_close(out, _reference(model).forward(X), kernel_rtol(dtype))
    assert_close(out[:1], model.forward(X[:1]), kernel_rtol(dtype))


def test_an_error_in_a_pool_thread_reaches_the_caller(monkeypatch):
    model = _model(np.float64)
    X = np.zeros((ROWS, 20))
    monkeypatch.setattr(cpu_threads, "thread_count", lambda: 2)
    inference = model._inference()
    real_rows = type(inference).rows

    def failing_rows(self, X, out, claims):
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("block failed")
        real_rows(self, X, out, claims)

    monkeypatch.setattr(type(inference), "rows", failing_rows)
    with pytest.raises(RuntimeError, match="block failed"):
        model.forward(X)


def _blas_threads():
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


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
