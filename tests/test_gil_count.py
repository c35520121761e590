"""A fit takes the GIL back a fixed few times, not once per batch nor once per epoch.

Beside a busy pure-Python thread, a thread that hands the GIL over (to compiled code, or inside a
NumPy operation on a large array) must wait to get it back: it blocks, which the kernel counts as
one of its voluntary context switches (``getrusage(RUSAGE_THREAD).ru_nvcsw``, Linux). The count
during a fit beside such a thread is the measure here; no clock is read. Its expected values come
from the fit's own structure: a fit of E epochs trains its first epoch alone (to time it), then
the rest in runs (:mod:`fastbp.training.runs`), here made as long as the fit so that the count
cannot depend on the machine's speed. Each claim is shown to be able to fail: the same
measurement of a fit made to call the backend once per batch, or once per epoch, does grow.
"""

import resource
import sys
import threading
import time

import numpy as np
import pytest

import fastbp
from fastbp.kernels.cpu import threads as cpu_threads
from fastbp.kernels.records import Batches
from fastbp.training import runs as training_runs

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="counts a thread's voluntary context switches, which only Linux reports per thread")

#: Switches (one to three a wait) a fit may gain from more batches or more epochs: the noise of
#: a loaded machine, whose other processes keep the spinning thread, holding the GIL, off its core.
MARGIN = 12
ROWS, FEATURES, HIDDEN, CLASSES = 16384, 32, 512, 4


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((ROWS, FEATURES)).astype(np.float32)
    return X, (X[:, :CLASSES] ** 2).argmax(axis=1)


def _switches(function):
    """Voluntary context switches of this thread while ``function`` runs beside a thread
    spinning in pure Python: the times this thread waited, mostly for the GIL."""
    stop = []

    def spin():
        x = 0
        while not stop:
            x += 1

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    time.sleep(0.02)
    try:
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw
        function()
        return resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw - before
    finally:
        stop.append(True)
        spinner.join()


def _fit(epochs, batch_size):
    """A float32 fit, on one thread (the pool's threads would add waits of their own)."""
    X, y = _data()
    model = fastbp.Sequential([fastbp.Dense(FEATURES, HIDDEN, "relu"),
                               fastbp.Dense(HIDDEN, CLASSES, "softmax")],
                              loss="cross_entropy", dtype="float32", seed=0)
    with cpu_threads.thread_budget(1):
        model.fit(X, y, epochs=epochs, batch_size=batch_size, seed=1)


def _fewest_switches(few, many, repeats=3):
    """The fewest switches of ``repeats`` fits of each of two settings, ``(epochs, batch_size)``
    each, taken in turn (the machine's other load only adds switches, to both alike)."""
    counts = {few: [], many: []}
    for _ in range(repeats):
        for setting in (few, many):
            counts[setting].append(_switches(lambda: _fit(*setting)))
    return min(counts[few]), min(counts[many])


@pytest.fixture
def long_runs(monkeypatch):
    """Runs as long as the fit: the first epoch alone, then every other in one call."""
    monkeypatch.setattr(training_runs, "RUN_SECONDS", 1e9)
    _fit(2, 256)  # compiled (or loaded) before anything is counted


def _per_batch_train_epochs(kernels):
    """``train_epochs`` as a backend that went back to Python after every batch would run it."""
    def train_epochs(state, network, batches, optimizer, penalty, dropout_seed, steps, run):
        vectors = (state.parameters, state.moment_1, state.moment_2)
        for saved, vector in zip((run.parameters, run.moment_1, run.moment_2), vectors):
            saved[0] = vector
        run.steps[0] = steps
        n, size = batches.order.shape[1], batches.batch_size
        for e, lr in enumerate(run.lrs):
            order = batches.order[e % batches.order.shape[0]]
            if run.rng is not None:
                order[:] = run.rng.permutation(n)
            total = 0.0
            for start in range(0, n, size):
                batch = Batches(batches.X, batches.Y, batches.sample_weight,
                                order[start:start + size], size)
                loss, steps = kernels.train_epoch(state, network, batch,
                                                  optimizer._replace(lr=float(lr)), penalty,
                                                  dropout_seed, steps)
                total += loss * min(size, n - start)
            run.losses[e], run.steps[e + 1] = total / n, steps
            for saved, vector in zip((run.parameters, run.moment_1, run.moment_2), vectors):
                saved[e + 1] = vector
        return len(run.lrs), steps
    return train_epochs


# Each claim, then the same measurement of a fit made to break it: the claim's assertion fails.
BATCHES = ((3, ROWS // 4), (3, ROWS // 64))  # 4 against 64 batches an epoch
EPOCHS = ((3, ROWS // 4), (15, ROWS // 4))


def test_the_count_does_not_grow_with_the_batches(long_runs):
    few, many = _fewest_switches(*BATCHES)
    assert many <= few + MARGIN, (few, many)


def test_the_count_would_grow_with_a_call_per_batch(long_runs, monkeypatch):
    from fastbp.kernels import cpu

    monkeypatch.setattr(cpu, "train_epochs", _per_batch_train_epochs(cpu))
    few, many = _fewest_switches(*BATCHES, repeats=2)
    assert many > few + MARGIN, (few, many)  # 180 calls more, each a chance to wait


def test_the_count_does_not_grow_with_the_epochs(long_runs):
    few, many = _fewest_switches(*EPOCHS)
    assert many <= few + MARGIN, (few, many)


#: The epochs' claim broken: 40 calls more, not 12, so that one wait for some calls (not every
#: call waits on a loaded machine) still clears the margin.
MANY_EPOCHS = ((3, ROWS // 4), (43, ROWS // 4))


def test_the_count_would_grow_with_a_call_per_epoch(long_runs, monkeypatch):
    monkeypatch.setattr(training_runs, "RUN_SECONDS", 0.0)  # every run one epoch long
    few, many = _fewest_switches(*MANY_EPOCHS, repeats=2)
    assert many > few + MARGIN, (few, many)  # 40 calls more, each long enough to wait
