"""``fastbp warmup``: compile the CPU backend into Numba's on-disk cache ahead of use.

A fresh machine, container or CI runner otherwise pays the JIT compile in its first ``fit``. This
compiles every activation, loss and optimizer kernel for each dtype asked, then trains, evaluates
and differentiates one tiny network per dtype so that the epoch and the dense layer are compiled
too. Later processes (same machine, same Python, same ``NUMBA_CACHE_DIR``) load it all from disk.
"""

import numpy as np

DTYPES = ("float32", "float64")


def _network_task(dtype):
    def run():
        from .layers import Dense
        from .model import Sequential

        rng = np.random.default_rng(0)
        X = rng.standard_normal((64, 3))
        y = rng.integers(0, 2, 64)
        model = Sequential([Dense(3, 4, "relu"), Dense(4, 2, "softmax")],
                           loss="cross_entropy", dtype=dtype, backend="cpu", seed=0)
        model.fit(X, y, epochs=1, batch_size=32, validation_split=0.25)
        model.gradients(X[:4], y[:4])
    return f"epoch and dense layer ({dtype})", run


def tasks(dtypes=DTYPES):
    """``(label, callable)`` pairs, each compiling one piece for one dtype.

    Parameters
    ----------
    dtypes : sequence of {"float32", "float64"}
    """
    from .kernels import cpu_tables

    found = []
    for dtype in dtypes:
        for table, code in cpu_tables.every_kernel():
            found.append((f"{table} {code} ({dtype})",
                          lambda t=table, c=code, d=dtype: cpu_tables.kernel(t, c, d)))
        found.append(_network_task(dtype))
    return found

