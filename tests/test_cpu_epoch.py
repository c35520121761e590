"""The CPU epoch split across threads: row shards and parameter chunks against the NumPy reference,
the thread count it picks, BLAS held to one thread, a failing worker, and fork safety."""

import gc
import os
import subprocess
import sys
import textwrap
import threading
import weakref

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_info

from fastbp.kernels import codes, cpu, reference
from fastbp.kernels.cpu import calls as cpu_calls, epoch as cpu_epoch, threads as cpu_threads
from fastbp.kernels.cpu.numba_path import FAST
from helpers import epoch_arguments

DIMS = np.array([5, 16, 12, 3])
BATCH = 32
N = 3 * BATCH + 1  # the last batch has one row: with 2 or 3 shards, some shards get none

OPTIMIZERS = {  # optimizer code, lr, momentum, nesterov
    "sgd-momentum": (codes.SGD, 0.05, 0.9, False),
    "sgd-nesterov": (codes.SGD, 0.05, 0.8, True),
    "adam": (codes.ADAM, 0.01, 0.0, False),
}


def _state(dtype, optimizer, seed=0):
    """Arguments of ``train_epoch`` for a 3-layer classifier with dropout, L2, L1 and weights."""
    rng = np.random.default_rng(seed)
    code, lr, momentum, nesterov = OPTIMIZERS[optimizer]
    size = sum(a * b + b for a, b in zip(DIMS[:-1], DIMS[1:]))
    theta = rng.uniform(-0.5, 0.5, size).astype(dtype)
    return dict(
        parameters=theta, gradient=np.zeros_like(theta), moment_1=np.zeros_like(theta),
        moment_2=np.zeros_like(theta), widths=DIMS,
        activations=np.array([codes.ACTIVATION_CODES["tanh"], codes.ACTIVATION_CODES["relu"],
                              codes.ACTIVATION_CODES["softmax"]]),
        dropout=np.array([0.25, 0.0, 0.0]), loss=codes.LOSS_CODES["cross_entropy"],
        X=rng.standard_normal((N, DIMS[0])).astype(dtype),
        Y=np.eye(DIMS[-1], dtype=dtype)[rng.integers(0, DIMS[-1], N)],
        sample_weight=rng.uniform(0.5, 2.0, N).astype(dtype), order=rng.permutation(N),
        batch_size=BATCH, optimizer=code, lr=lr, momentum=momentum, nesterov=nesterov,
        beta_1=0.9, beta_2=0.999, epsilon=1e-8, l2=1e-2, l1=1e-3, dropout_seed=7, steps_taken=0)


def _sharded(state, n_shards, n_chunks):
    """``train_epoch`` with an explicit number of row shards and parameter chunks."""
    with cpu_threads.training_session():
        return cpu_epoch.split_epoch(n_shards, n_chunks, epoch_arguments(state))


def _epochs(train, state, epochs=3):
    losses = []
    for epoch in range(epochs):
        loss, state["steps_taken"] = train(state)
        losses.append(loss)
        state["order"] = np.roll(state["order"], 5 + epoch)  # a different visiting order
    return np.array(losses)


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("n_shards, n_chunks", [(1, 1), (2, 1), (1, 2), (2, 2), (3, 3)])
def test_sharded_epoch_matches_the_reference(optimizer, n_shards, n_chunks):
    expected, actual = _state(np.float64, optimizer), _state(np.float64, optimizer)
    expected_losses = _epochs(lambda s: reference.train_epoch(*epoch_arguments(s)), expected)
    losses = _epochs(lambda s: _sharded(s, n_shards, n_chunks), actual)
    np.testing.assert_allclose(actual["parameters"], expected["parameters"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(actual["moment_1"], expected["moment_1"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(actual["moment_2"], expected["moment_2"], rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-9)
    assert actual["steps_taken"] == expected["steps_taken"] == 3 * 4
    assert not np.allclose(actual["parameters"], _state(np.float64, optimizer)["parameters"])


def test_float32_shards_agree_with_one_shard():
    one, two = _state(np.float32, "adam"), _state(np.float32, "adam")
    _epochs(lambda s: _sharded(s, 1, 1), one)
    _epochs(lambda s: _sharded(s, 2, 2), two)
    assert two["parameters"].dtype == np.float32
    np.testing.assert_allclose(two["parameters"], one["parameters"], rtol=1e-4, atol=1e-5)


def test_a_diverging_sharded_epoch_returns_nan():
    state = _state(np.float64, "sgd-momentum")
    state["lr"] = 1e30
    losses = _epochs(lambda s: _sharded(s, 2, 2), state, epochs=2)
    assert np.isnan(losses).any()


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                    reason="Numba has a single thread on this machine: nothing to split")
def test_train_epoch_uses_every_thread_and_restores_blas():
    blas_before = [(i["filepath"], i["num_threads"]) for i in threadpool_info()
                   if i["user_api"] == "blas"]
    previous = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            with cpu_threads.training_session() as granted:
                assert granted == threads
                with cpu_threads.training_session() as nested:  # an epoch inside a training session
                    assert nested == granted
                # each shard's BLAS calls stay on its own thread; one thread too, because
                # OpenBLAS's threads would group a GEMM's sums differently
                assert all(i["num_threads"] == 1 for i in threadpool_info()
                           if i["user_api"] == "blas")
            public, explicit = _state(np.float64, "adam"), _state(np.float64, "adam")
            _epochs(lambda s: cpu.train_epoch(*epoch_arguments(s)), public)
            shards, chunks = cpu_threads.split(BATCH, public["parameters"].size)
            _epochs(lambda s: _sharded(s, shards, chunks), explicit)
            np.testing.assert_array_equal(public["parameters"], explicit["parameters"])
    finally:
        numba.set_num_threads(previous)
    assert [(i["filepath"], i["num_threads"]) for i in threadpool_info()
            if i["user_api"] == "blas"] == blas_before


def test_a_failing_worker_stops_the_others_instead_of_hanging(monkeypatch):
    real_entry_point = cpu_epoch._entry_point

    def entry_point_whose_worker_one_fails(args):
        compiled = real_entry_point(args)

        def run(worker, *rest):
            if worker == 1:
                raise RuntimeError("worker 1 failed")
            return compiled(worker, *rest)
        return run

    monkeypatch.setattr(cpu_epoch, "_entry_point", entry_point_whose_worker_one_fails)
    outcome = {}

    def run():
        try:
            _sharded(_state(np.float64, "adam"), 2, 2)
        except RuntimeError as error:
            outcome["error"] = str(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the epoch hung waiting for the failed worker"
    assert outcome == {"error": "worker 1 failed"}


def test_a_worker_that_starts_late_holds_no_one_up(monkeypatch):
    """A thread kept off its core (here: asleep until the epoch is over) has taken no task, so
    the other does every shard and chunk, and the epoch trains as on one thread."""
    real_entry_point = cpu_epoch._entry_point
    finished = threading.Event()
    woken_by_worker_0 = []

    def entry_point_whose_worker_one_is_late(args):
        compiled = real_entry_point(args)

        def run(worker, *rest):
            if worker == 1:  # a barrier would keep worker 0 waiting for it: this times out
                woken_by_worker_0.append(finished.wait(timeout=10))
            result = compiled(worker, *rest)
            if worker == 0:
                finished.set()  # worker 0 got through the whole epoch without worker 1
            return result
        return run

    expected = _state(np.float64, "adam")
    expected_losses = _epochs(lambda s: _sharded(s, 2, 2), expected)
    monkeypatch.setattr(cpu_epoch, "_entry_point", entry_point_whose_worker_one_is_late)
    late = _state(np.float64, "adam")

    def sharded_on_two_threads(s):
        finished.clear()
        with cpu_threads.training_session():
            return cpu_epoch.split_epoch(2, 2, epoch_arguments(s), threads=2)

    np.testing.assert_array_equal(_epochs(sharded_on_two_threads, late), expected_losses)
    assert woken_by_worker_0 == [True, True, True]
    for name in ("parameters", "moment_1", "moment_2"):
        np.testing.assert_array_equal(late[name], expected[name])


#: Epochs each of two threads trains at once: their workers share the pool's threads, one epoch
#: at a time (the epoch lock in kernels/cpu/epoch.py).
EPOCHS_AT_ONCE = 100


def test_threaded_epochs_from_two_threads_at_once_finish_with_their_own_results():
    """Two fits training at once from two Python threads, each epoch on three threads of the
    shared pool: neither may wait for ever for a pool thread busy with the other's epoch, and
    BLAS's thread count is restored when both are done."""
    expected = _state(np.float64, "adam")
    _epochs(lambda s: _sharded(s, 3, 3), expected, epochs=EPOCHS_AT_ONCE)
    states = [_state(np.float64, "adam") for _ in range(2)]

    def train(state):
        _epochs(lambda s: _sharded(s, 3, 3), state, epochs=EPOCHS_AT_ONCE)

    blas_before = [(i["filepath"], i["num_threads"]) for i in threadpool_info()
                   if i["user_api"] == "blas"]
    threads = [threading.Thread(target=train, args=(state,), daemon=True) for state in states]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "two threaded epochs deadlocked"
    for state in states:
        np.testing.assert_array_equal(state["parameters"], expected["parameters"])
    # BLAS's own thread count is back, not left at the one thread the epochs held it to
    assert [(i["filepath"], i["num_threads"]) for i in threadpool_info()
            if i["user_api"] == "blas"] == blas_before


def test_an_epoch_keeps_no_training_data_alive():
    state = _state(np.float64, "adam")
    cpu.train_epoch(*epoch_arguments(state))
    X = weakref.ref(state["X"])
    del state
    gc.collect()
    assert X() is None, "the training data outlived its epoch"


def test_the_epochs_of_one_fit_prepare_the_worker_once_and_train_as_if_each_did(monkeypatch):
    """Epochs that pass the same network and arrays reuse the first one's workspace and compiled
    worker (typing its arguments costs more than a small epoch); a changed setting, or other
    arrays, prepares anew. Either way each epoch trains exactly as a freshly prepared one."""
    calls = []
    real_entry_point = cpu_epoch._entry_point

    def counting_entry_point(args):
        calls.append(1)
        return real_entry_point(args)

    monkeypatch.setattr(cpu_epoch, "_entry_point", counting_entry_point)
    state = _state(np.float64, "adam")
    network = epoch_arguments(state)[1]

    def same_network(s):  # as fit does: one Network record for all its epochs
        args = list(epoch_arguments(s))
        args[1] = network
        return cpu.train_epoch(*args)

    cpu_epoch._last_epoch.value = None
    losses = _epochs(same_network, state, epochs=4)
    assert len(calls) == 1
    state["dropout_seed"] += 1  # another setting: prepared anew
    losses = np.append(losses, _epochs(same_network, state, epochs=1))
    assert len(calls) == 2

    fresh = _state(np.float64, "adam")
    fresh_losses = []
    for seed in (7, 7, 7, 7, 8):  # a new Network record per epoch: prepared every time
        fresh["dropout_seed"] = seed
        fresh_losses.extend(_epochs(lambda s: cpu.train_epoch(*epoch_arguments(s)), fresh,
                                    epochs=1))
        fresh["order"] = np.roll(fresh["order"], len(fresh_losses) - 1)  # with _epochs' 5: as above
    assert len(calls) == 7
    np.testing.assert_array_equal(losses, fresh_losses)
    for name in ("parameters", "moment_1", "moment_2"):
        np.testing.assert_array_equal(state[name], fresh[name])


def test_shard_and_chunk_counts(monkeypatch):
    assert cpu_threads.shard_count(2, 200) == 2
    assert cpu_threads.shard_count(8, 40) == 40 // cpu_threads.MIN_SHARD_ROWS
    assert cpu_threads.shard_count(2, cpu_threads.MIN_SHARD_ROWS) == 1
    assert cpu_threads.shard_count(1, 10_000) == 1
    assert cpu_threads.chunk_count(2, cpu_threads.MIN_CHUNK_PARAMETERS) == 2
    assert cpu_threads.chunk_count(2, cpu_threads.MIN_CHUNK_PARAMETERS - 1) == 1
    work = cpu_threads.MIN_THREADED_WORK
    for cores in (1, 2, 3):
        monkeypatch.setattr(cpu_threads, "machine_cores", lambda cores=cores: cores)
        # enough work: one shard and chunk per core, whatever the thread count
        assert cpu_threads.split(256, work // 256) == (cores, cores)
        assert cpu_threads.split(256, work // 256 - 1) == (1, 1)  # too little: one


def test_machine_cores_is_the_affinity_mask():
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert cpu_threads.machine_cores() == expected >= 1


FORK = textwrap.dedent("""
    import os, sys
    import numpy as np
    import fastbp

    X = np.random.default_rng(0).standard_normal((256, 8))
    y = (X[:, 0] > 0).astype(int)
    def fit():
        model = fastbp.Sequential([fastbp.Dense(8, 32, "relu"), fastbp.Dense(32, 2, "softmax")],
                                  loss="cross_entropy", seed=0)
        model.fit(X, y, epochs=2, batch_size=128)
        return model.parameters
    import numba

    @numba.njit(parallel=True)
    def own_parallel_work(n):  # the user's own: starts Numba's threads (GNU OpenMP, where it is
        total = 0.0            # the layer), which a fork()ed child could not use
        for i in numba.prange(n):
            total += i
        return total

    own_parallel_work(1000)
    print(numba.threading_layer(), flush=True)
    pid = os.fork()
    if pid == 0:
        child = fit()
        os._exit(0 if np.all(np.isfinite(child)) else 3)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status))
""")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")
def test_fit_in_a_forked_child_of_a_process_that_ran_numba_parallel_code():
    # GNU OpenMP cannot serve a fork()ed child: Numba aborts it at its first parallel launch. The
    # CPU epoch starts none, so a child trains even when the parent ran parallel code of its own
    # (and never trained, so nothing of fastbp's saw the parent start GNU OpenMP)
    done = subprocess.run([sys.executable, "-c", FORK], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    layer, child_status = done.stdout.split()
    assert child_status == "0", f"threading layer {layer}: the child failed: {done.stderr}"


@pytest.mark.skipif(not FAST, reason="the public Numba path calls the parts by name, not through "
                    "addresses: its calls are checked by Numba's own typing")
def test_a_part_called_with_types_it_was_not_compiled_for_is_a_compile_error(monkeypatch):
    """The epoch calls its shard pass and its update through addresses (kernels/cpu/calls.py); a
    call whose argument types differ from those the address was compiled for must not compile."""
    vector = numba.float64[::1]
    monkeypatch.setattr(cpu_calls, "_expected", {"update_chunk": (vector,) * 6 + (numba.int64,)})

    def caller(address, x, step):
        return cpu_calls.call_update_chunk(address, x, x, x, x, x, x, step)

    matching = numba.njit(caller).compile((numba.int64, vector, numba.int64))  # compiles
    assert matching is not None
    with pytest.raises(numba.core.errors.TypingError, match="update_chunk.*compiled for"):
        numba.njit(caller).compile((numba.int64, numba.float32[::1], numba.int64))
