"""One start-up measurement, run as a fresh process by ``benchmarks/test_startup.py``.

``python -m benchmarks.startup_probe MODE`` prints one JSON object:

* ``first-fit``: the demo's network (64-64-10, float32, ReLU, softmax, Adam) on scikit-learn's
  digits, one epoch of batch 32: the first ``fit`` in this process, then the same fit again (the
  second is the fit's own cost, with nothing left to compile or load), and the time to import
  fastbp's kernels;
* ``first-use``: after that first fit, what one new thing costs on its first use (a new hidden
  activation, loss, optimizer, dtype, or dropout): each timed as its first fit less the same fit
  repeated;
* ``data-only``: the same imports of NumPy and scikit-learn and the same data, no fastbp: what a
  process pays that fastbp does not add;
* ``fastbp-estimator`` / ``sklearn-estimator``: ``MLPClassifier(random_state=0).fit`` on digits,
  the whole process being what is timed from outside;
* ``first-predict``: a serving process's first calls, ``MLPClassifier().fit`` on iris and its
  ``predict_proba``, the clock around the two calls alone (after ``fastbp warmup``, nothing is
  left to compile: ``tests/test_first_hour.py`` checks that, this times it);
* ``first-forward``: a first float32 ``Sequential.forward`` of 150 rows, timed the same way;
* ``steady-epoch CASE PROFILE``: a case of ``benchmarks/training_cases.py``, once fitted (compiled or
  loaded), then the fastest epoch of many: each round a new model fitted for a few epochs, its time
  divided by them. With the path the CPU kernels took through Numba
  (:mod:`fastbp.kernels.cpu.numba_path`), for ``benchmarks/test_training.py``'s comparison of the
  two.
"""

import json
import sys
import time
import warnings


def _digits():
    import numpy as np
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def first_fit():
    X, y = _digits()
    import fastbp

    start = time.perf_counter()
    from fastbp.kernels import cpu  # noqa: F401  (numba, the kernel modules)
    imported = time.perf_counter()

    def fit():
        model = fastbp.Sequential(
            [fastbp.Dense(64, 64, "relu"), fastbp.Dense(64, 10, "softmax")],
            loss="cross_entropy", dtype="float32", seed=0)
        begin = time.perf_counter()
        model.fit(X, y, epochs=1, batch_size=32, seed=0)
        return time.perf_counter() - begin

    first = fit()
    again = fit()
    return {"import_kernels": imported - start, "first_fit": first, "second_fit": again}


#: name -> (hidden activation, output activation, loss, optimizer, dtype, dropout): one change
#: from the demo's network each
FIRST_USES = {
    "activation (tanh)": ("tanh", "softmax", "cross_entropy", "adam", "float32", 0.0),
    "loss (squared_error)": ("relu", "identity", "squared_error", "adam", "float32", 0.0),
    "optimizer (sgd)": ("relu", "softmax", "cross_entropy", "sgd", "float32", 0.0),
    "dtype (float64)": ("relu", "softmax", "cross_entropy", "adam", "float64", 0.0),
    "dropout": ("relu", "softmax", "cross_entropy", "adam", "float32", 0.2),
}


def first_use():
    X, y = _digits()
    import numpy as np

    import fastbp

    def fit(hidden, output, loss, optimizer, dtype, dropout):
        model = fastbp.Sequential(
            [fastbp.Dense(64, 64, hidden, dropout=dropout), fastbp.Dense(64, 10, output)],
            loss=loss, dtype=dtype, seed=0)
        target = y if loss == "cross_entropy" else np.eye(10)[y]
        begin = time.perf_counter()
        model.fit(X, target, epochs=1, batch_size=32, optimizer=optimizer, seed=0)
        return time.perf_counter() - begin

    result = {"demo network": fit("relu", "softmax", "cross_entropy", "adam", "float32", 0.0)}
    for name, settings in FIRST_USES.items():
        result[name] = fit(*settings) - fit(*settings)
    return result


def data_only():
    _digits()
    return {}


def estimator(library):
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning

    if library == "fastbp":
        from fastbp import MLPClassifier
    else:
        from sklearn.neural_network import MLPClassifier
    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MLPClassifier(random_state=0).fit(X, y)
    return {"train_accuracy": float(model.score(X, y))}


def first_predict():
    from sklearn.datasets import load_iris

    from fastbp import MLPClassifier

    X, y = load_iris(return_X_y=True)
    model = MLPClassifier()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # iris does not converge in 200 epochs: not the point
        start = time.perf_counter()
        model.fit(X, y)
        proba = model.predict_proba(X)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": proba.shape[0], "sums": float(proba.sum())}


def first_forward():
    import numpy as np

    from fastbp import Dense, Sequential

    model = Sequential([Dense(4, 16, "relu"), Dense(16, 3, "softmax")], loss="cross_entropy",
                       dtype="float32", seed=0)
    X = np.random.default_rng(0).random((150, 4), dtype=np.float32)
    start = time.perf_counter()
    out = model.forward(X)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "dtype": str(out.dtype), "shape": list(out.shape)}


#: Epochs per timed round and rounds of ``steady-epoch``, by case: rounds of a tenth of a second
#: or more, so that a slow moment on a shared machine spoils a round, not the minimum.
STEADY = {"a_digits": (20, 15), "b_wide_deep": (1, 7), "c_1024": (1, 5)}


def steady_epoch(case, profile):
    from fastbp.kernels.cpu.numba_path import PATH

    import fastbp
    from benchmarks.training_cases import CASES, case_data, fastbp_model

    data, hidden, batch_size, _, _ = CASES[case]
    X, _, y, _ = case_data(data, profile)
    dims = [X.shape[1], *hidden, 10]
    epochs, rounds = STEADY[case]

    def fit(n_epochs):
        model = fastbp_model(dims)
        begin = time.perf_counter()
        model.fit(X, y, epochs=n_epochs, batch_size=batch_size, optimizer=fastbp.Adam(1e-3),
                  alpha=1e-4, seed=0)
        return time.perf_counter() - begin

    start = time.perf_counter()
    fit(1)  # compiled, or loaded from the cache
    first = time.perf_counter() - start
    best = min(fit(epochs) / epochs for _ in range(rounds))
    return {"case": case, "fast_path": PATH.fast, "first_fit": first, "epoch": best}


MODES = {"first-fit": first_fit, "first-use": first_use, "data-only": data_only,
         "fastbp-estimator": lambda: estimator("fastbp"),
         "sklearn-estimator": lambda: estimator("sklearn"), "first-predict": first_predict,
         "first-forward": first_forward, "steady-epoch": steady_epoch}

if __name__ == "__main__":
    print(json.dumps(MODES[sys.argv[1]](*sys.argv[2:])))
