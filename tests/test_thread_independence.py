"""Weights after training do not depend on the thread count or on how the process was started.

The CPU epoch cuts a batch into row shards by its size and the machine's cores, never by the
threads it runs on (kernels/cpu/threads.py, ``split``). Here the machine is made to look like it
has three cores, so every batch is cut into three shards on any machine, and one, two and three
threads (``NUMBA_NUM_THREADS``) must give bitwise the same weights, as must a fit in a child
started by fork (after the parent trained), spawn and forkserver.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SCRIPT = textwrap.dedent("""
    import multiprocessing
    import sys

    import numpy as np


    def train(optimizer):
        import fastbp
        from fastbp.kernels.cpu import threads as cpu_threads

        cpu_threads.machine_cores = lambda: 3  # three shards a batch, whatever the machine
        rows, batch = 600, 256
        rng = np.random.default_rng(0)
        X = rng.standard_normal((rows, 100))
        y = rng.integers(0, 10, rows)
        dims = (100, 128, 32, 10)
        # enough work a batch (rows x parameters) for the epoch to split it
        assert cpu_threads.split(batch, sum(a * b + b for a, b in zip(dims, dims[1:]))) == (3, 3)
        model = fastbp.Sequential([fastbp.Dense(100, 128, "relu", dropout=0.2),
                                   fastbp.Dense(128, 32, "tanh", dropout=0.1),
                                   fastbp.Dense(32, 10, "softmax")],
                                  loss="cross_entropy", dtype="float64", seed=1)
        chosen = {"sgd": fastbp.SGD(lr=0.05, momentum=0.9, nesterov=True),
                  "adam": fastbp.Adam(lr=0.01)}[optimizer]
        model.fit(X, np.eye(10)[y], epochs=2, batch_size=batch, optimizer=chosen, seed=3,
                  alpha=1e-3)
        return np.concatenate([np.concatenate([W.ravel(), b]) for W, b in
                               ((layer.W, layer.b) for layer in model.layers)])


    if __name__ == "__main__":
        out = sys.argv[1]
        results = {}
        for optimizer in ("sgd", "adam"):
            results[optimizer + "-here"] = train(optimizer)  # the parent has trained: fork after
            for method in ("fork", "spawn", "forkserver"):
                with multiprocessing.get_context(method).Pool(1) as children:
                    results[optimizer + "-" + method] = children.apply(train, (optimizer,))
        np.savez(out, **results)
""")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """``{threads: {"<optimizer>-<where>": weights}}`` from a process per thread count."""
    folder = tmp_path_factory.mktemp("thread_independence")
    script = folder / "train.py"
    script.write_text(SCRIPT)
    found = {}
    for threads in (1, 2, 3):
        out = folder / f"threads_{threads}.npz"
        env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
        done = subprocess.run([sys.executable, str(script), str(out)], env=env, cwd=folder,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        with np.load(out) as saved:
            found[threads] = dict(saved)
    return found


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("where", ["here", "fork", "spawn", "forkserver"])
@pytest.mark.parametrize("threads", [2, 3])
def test_weights_are_bitwise_equal_for_any_thread_count_and_start_method(weights, optimizer,
                                                                         where, threads):
    expected = weights[1][optimizer + "-here"]
    actual = weights[threads][optimizer + "-" + where]
    assert actual.dtype == np.float64 and actual.shape == expected.shape
    np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("where", ["fork", "spawn", "forkserver"])
def test_one_thread_in_a_child_matches_the_parent(weights, optimizer, where):
    np.testing.assert_array_equal(weights[1][optimizer + "-" + where],
                                  weights[1][optimizer + "-here"])


def test_the_fits_trained_and_the_optimizers_differ(weights):
    """Guards the tests above against comparing weights that never moved."""
    sgd, adam = weights[1]["sgd-here"], weights[1]["adam-here"]
    assert np.all(np.isfinite(sgd)) and np.all(np.isfinite(adam))
    assert not np.array_equal(sgd, adam)
