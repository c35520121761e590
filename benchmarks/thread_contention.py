"""The thread cases of ``benchmarks/test_contention.py``, each run in a fresh process:
``python -m benchmarks.thread_contention CASE ENGINE SETTING PROFILE`` prints one JSON line, the
seconds of each timed run.

Cases (``CASES``), each for fastbp, scikit-learn's ``MLPClassifier`` and PyTorch (``ENGINES``):

* ``digits_fit``: ``MLPClassifier(hidden_layer_sizes=(128,), max_iter=100)`` fitted on
  scikit-learn's ``load_digits`` (PyTorch: the same network, Adam and batches of 200, 100 epochs);
* ``wide_fit``: 40,000 x 100 rows of ``make_classification``, 100-256-128-10, batches of 256,
  3 epochs, float32, Adam (lr 1e-3, alpha 1e-4), as case (b) of ``benchmarks/test_training.py``;
* ``stream``: 1,000 ``predict_proba`` calls on 200 rows of digits, with the digits model;
* ``batch``: one ``predict_proba`` call on 20,000 rows of digits (tiled), with the digits model.

Settings: ``alone`` (the case once, nothing else running in the process), ``busy`` (the case once
beside a pure-Python thread that counts in a loop, taking the GIL whenever it may), ``pair``
(``ROUNDS`` rounds, each the case twice one after the other, then twice at once in two threads).
Everything the case needs is made, and fastbp's kernels loaded or compiled, before anything is
timed. The parent sets ``NUMBA_NUM_THREADS=1``: the threads of the process are the callers'.
"""

import json
import sys
import threading
import time
import warnings

import numpy as np

CASES = ("digits_fit", "wide_fit", "stream", "batch")
ENGINES = ("fastbp", "sklearn", "torch")
SETTINGS = ("alone", "busy", "pair")
#: profile -> (digits epochs, wide-fit rows, wide-fit epochs, calls per stream, batch rows, rounds)
SIZES = {"full": (100, 40_000, 3, 1000, 20_000, 3), "quick": (5, 4_000, 1, 50, 2_000, 1)}


def _digits():
    from sklearn.datasets import load_digits

    return load_digits(return_X_y=True)


def _digits_estimator(engine, epochs):
    """An unfitted digits classifier of ``engine`` (PyTorch: a small object with fit and
    predict_proba, the loop of ``benchmarks/baselines.py``)."""
    if engine == "fastbp":
        import fastbp

        return fastbp.MLPClassifier(hidden_layer_sizes=(128,), max_iter=epochs, random_state=0)
    if engine == "sklearn":
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier(hidden_layer_sizes=(128,), max_iter=epochs, random_state=0)
    return _TorchClassifier((128,), 200, epochs)


class _TorchClassifier:
    """PyTorch's side of the cases, as a user would write it: the network and Adam of
    ``benchmarks/baselines.py``, an idiomatic loop over shuffled batches, softmax to predict."""

    def __init__(self, hidden, batch_size, epochs):
        self.hidden, self.batch_size, self.epochs = hidden, batch_size, epochs

    def fit(self, X, y):
        import torch

        from .baselines import torch_adam, torch_network

        torch.manual_seed(0)
        self.net = torch_network(torch, [X.shape[1], *self.hidden, int(y.max()) + 1])
        optimizer = torch_adam(torch, self.net, self.batch_size, 1e-4)
        loss_fn = torch.nn.CrossEntropyLoss()
        Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        yt = torch.from_numpy(y.astype(np.int64))
        generator = torch.Generator().manual_seed(0)
        for _ in range(self.epochs):
            for idx in torch.randperm(len(Xt), generator=generator).split(self.batch_size):
                optimizer.zero_grad(set_to_none=True)
                loss_fn(self.net(Xt[idx]), yt[idx]).backward()
                optimizer.step()
        return self

    def predict_proba(self, X):
        import torch

        with torch.no_grad():
            return torch.softmax(self.net(torch.from_numpy(X)), dim=1).numpy()


def _wide_fit(engine, rows, epochs):
    """A callable that runs the wide fit of ``engine`` once."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=rows, n_features=100, n_informative=20, n_classes=10,
                               random_state=0)
    X = X.astype(np.float32)
    if engine == "fastbp":
        import fastbp

        from .training_cases import fastbp_model

        def fit():
            fastbp_model((100, 256, 128, 10)).fit(
                X, y, epochs=epochs, batch_size=256, optimizer=fastbp.Adam(1e-3), alpha=1e-4,
                seed=0)
        fastbp_model((100, 256, 128, 10)).fit(X[:256], y[:256], epochs=1, batch_size=256)
        return fit
    if engine == "sklearn":
        from .baselines import sklearn_fit

        return lambda: sklearn_fit(X, y, (256, 128), 256, epochs)
    return lambda: _TorchClassifier((256, 128), 256, epochs).fit(X, y)


def case(name, engine, profile):
    """The callable that runs case ``name`` of ``engine`` once, everything it needs made."""
    digits_epochs, wide_rows, wide_epochs, calls, batch_rows, _ = SIZES[profile]
    if name == "wide_fit":
        return _wide_fit(engine, wide_rows, wide_epochs)
    X, y = _digits()
    if engine == "torch":
        X = X.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few epochs do not converge
        _digits_estimator(engine, 2).fit(X, y)  # fastbp's kernels loaded or compiled
        if name == "digits_fit":
            def fit():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    _digits_estimator(engine, digits_epochs).fit(X, y)
            return fit
        fitted = _digits_estimator(engine, digits_epochs).fit(X, y)
    if name == "stream":
        rows = np.ascontiguousarray(X[:200])
        fitted.predict_proba(rows)

        def stream():
            for _ in range(calls):
                fitted.predict_proba(rows)
        return stream
    batch = np.ascontiguousarray(np.resize(X, (batch_rows, X.shape[1])))
    fitted.predict_proba(batch)
    return lambda: fitted.predict_proba(batch)


def _timed(run):
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def _beside_busy_thread(run):
    """``run``'s seconds with a pure-Python thread counting in a loop beside it."""
    stop = threading.Event()
    counted = [0]

    def busy():
        count = 0
        while not stop.is_set():
            count += 1
        counted[0] = count

    thread = threading.Thread(target=busy, daemon=True)
    thread.start()
    time.sleep(0.01)  # it is running, and wants the GIL, before the case starts
    try:
        return _timed(run)
    finally:
        stop.set()
        thread.join()


def _in_two_threads(run):
    """Seconds for ``run`` twice at once, in two threads started together."""
    start_line = threading.Barrier(3)
    errors = []

    def worker():
        start_line.wait()
        try:
            run()
        except BaseException as error:  # reported by the parent
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    start_line.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    if errors:
        raise errors[0]
    return seconds


def measure(name, engine, setting, profile):
    """The timings of one setting of one case: ``{"seconds": [...]}`` for ``alone``/``busy``,
    ``{"sequential": [...], "threads": [...]}`` for ``pair``."""
    run = case(name, engine, profile)
    if setting == "alone":
        return {"seconds": [_timed(run)]}
    if setting == "busy":
        return {"seconds": [_beside_busy_thread(run)]}
    sequential, threads = [], []
    for _ in range(SIZES[profile][-1]):
        sequential.append(_timed(lambda: (run(), run())))
        threads.append(_in_two_threads(run))
    return {"sequential": sequential, "threads": threads}


def main(argv):
    name, engine, setting, profile = argv
    if engine == "torch":
        import torch  # noqa: F401  (ImportError: the parent reports PyTorch missing)
    np.seterr(all="ignore")
    print(json.dumps(measure(name, engine, setting, profile)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
