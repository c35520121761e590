"""``fastbp demo``: train on scikit-learn's digits, check the gradients, race MLPClassifier.

Both contenders get the same split, architecture, optimizer, learning rate, L2 penalty, batch
size, number of epochs and float32 data. Two speed-ups are reported side by side. *Per epoch*: each
epoch is timed on its own and the speed-up is the ratio of the median epoch times, so fastbp's
one-off JIT compile (reported separately) does not count in its favour or against it. *Whole fit*:
fastbp's whole ``fit`` call against scikit-learn's whole ``fit`` (``max_iter`` the same number of
epochs, no early stop), each timed from call to return: what a user waits for. fastbp's is a second
fit of a fresh network, once the first has compiled the kernels (or loaded them from the cache);
the first fit's time, compile included, is reported beside it.
"""

import time

import numpy as np

from .gradient_cost import gradient_error

#: The demo's settings: one hidden ReLU layer, Adam at scikit-learn's defaults.
HIDDEN = 64
BATCH_SIZE = 32
LEARNING_RATE = 1e-3
ALPHA = 1e-4
GRADIENT_TOLERANCE = 1e-4  # float32: max |cpu - numpy| / max |numpy| over one batch


def _digits(seed):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)  # pixel intensities 0..16 scaled to [0, 1]
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)


def _network(n_inputs, n_classes, seed, backend):
    from ..layers import Dense
    from ..model import Sequential

    return Sequential([Dense(n_inputs, HIDDEN, "relu"), Dense(HIDDEN, n_classes, "softmax")],
                      loss="cross_entropy", dtype="float32", backend=backend, seed=seed)


def gradient_check(model, X, y):
    """Max relative difference between ``model``'s gradients and the NumPy reference backend's.

    A copy of ``model`` on the ``numpy`` backend gets the same weights; both differentiate the
    batch ``(X, y)``.
    """
    reference = _network(model.n_inputs, model.n_outputs, 0, "numpy")
    for mine, theirs in zip(model.layers, reference.layers):
        theirs.W, theirs.b = mine.W, mine.b
    return gradient_error(model.gradients(X, y), reference.gradients(X, y))


def _sklearn_model(epochs, seed):
    """scikit-learn's MLPClassifier with the demo's settings, ``epochs`` epochs in a ``fit``."""
    from sklearn.neural_network import MLPClassifier

    # n_iter_no_change = epochs: its loss-based stop can never end a fit early, as fastbp's
    # fit (no early stopping asked) runs every epoch
    return MLPClassifier(hidden_layer_sizes=(HIDDEN,), activation="relu", solver="adam",
                         alpha=ALPHA, batch_size=BATCH_SIZE, learning_rate_init=LEARNING_RATE,
                         max_iter=epochs, n_iter_no_change=epochs, random_state=seed)


def _sklearn_epochs(X, y, epochs, seed):
    """Train scikit-learn's MLPClassifier epoch by epoch; returns (model, seconds per epoch)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    model = _sklearn_model(epochs, seed)
    classes = np.unique(y)
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(epochs):
            start = time.perf_counter()
            model.partial_fit(X, y, classes=classes)  # one pass over the data, shuffled
            times.append(time.perf_counter() - start)
    return model, times


def _sklearn_fit_seconds(X, y, epochs, seed):
    """Seconds of one whole scikit-learn ``fit`` of ``epochs`` epochs (it warns that it did not
    converge in them: the count is the point)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    model = _sklearn_model(epochs, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y)
        return time.perf_counter() - start


def run(epochs=30, seed=0, verbose=1, print_fn=print):
    """Run the demo and print its report.

    Parameters
    ----------
    epochs : int
    seed : int
    verbose : {0, 1}
        1 shows fastbp's progress bar.
    print_fn : callable

    Returns
    -------
    dict
        ``accuracy``, ``sklearn_accuracy``, ``epoch_s``, ``sklearn_epoch_s``, ``first_epoch_s``,
        ``speedup`` (per epoch), ``fit_s`` (a whole fit once compiled), ``first_fit_s`` (the
        first, compile included), ``sklearn_fit_s``, ``fit_speedup`` (whole fit),
        ``gradient_error``.

    Raises
    ------
    AssertionError
        If the compiled gradients disagree with the NumPy reference.
    """
    X_train, X_test, y_train, y_test = _digits(seed)
    n_classes = int(y_train.max()) + 1
    model = _network(X_train.shape[1], n_classes, seed, "cpu")
    print_fn(f"fastbp demo: {X_train.shape[1]}-{HIDDEN}-{n_classes} MLP (relu, softmax, "
             f"cross-entropy, float32, Adam lr {LEARNING_RATE}, batch {BATCH_SIZE}) on "
             f"scikit-learn's digits: {len(X_train)} training / {len(X_test)} test images")

    error = gradient_check(model, X_train[:BATCH_SIZE], y_train[:BATCH_SIZE])
    verdict = "ok" if error <= GRADIENT_TOLERANCE else "FAILED"
    print_fn(f"gradient check against the NumPy reference on one batch of {BATCH_SIZE}: max "
             f"relative difference {error:.1e} ({verdict})")
    if verdict != "ok":
        raise AssertionError(f"compiled gradients differ from the NumPy reference by {error:.1e}, "
                             f"more than {GRADIENT_TOLERANCE:.0e}")

    start = time.perf_counter()
    history = model.fit(X_train, y_train, epochs=epochs, batch_size=BATCH_SIZE,
                        optimizer="adam", alpha=ALPHA, seed=seed, verbose=verbose)
    first_fit_s = time.perf_counter() - start
    accuracy = float(np.mean(model.forward(X_test).argmax(axis=1) == y_test))
    again = _network(X_train.shape[1], n_classes, seed, "cpu")
    start = time.perf_counter()
    again.fit(X_train, y_train, epochs=epochs, batch_size=BATCH_SIZE, optimizer="adam",
              alpha=ALPHA, seed=seed, verbose=0)
    fit_s = time.perf_counter() - start
    sklearn_model, sklearn_times = _sklearn_epochs(X_train, y_train, epochs, seed)
    sklearn_accuracy = float(sklearn_model.score(X_test, y_test))
    sklearn_fit_s = _sklearn_fit_seconds(X_train, y_train, epochs, seed)

    steady = history.time[1:] or history.time  # the first epoch includes the JIT compile
    epoch_s, sklearn_epoch_s = float(np.median(steady)), float(np.median(sklearn_times))
    speedup, fit_speedup = sklearn_epoch_s / epoch_s, sklearn_fit_s / fit_s
    print_fn(f"fastbp        test accuracy {accuracy:.3f}  time per epoch {epoch_s * 1e3:.2f} ms "
             f"(median of {len(steady)}; first epoch {history.time[0]:.2f} s, with the JIT "
             f"compile or its load from the cache)")
    print_fn(f"scikit-learn  test accuracy {sklearn_accuracy:.3f}  time per epoch "
             f"{sklearn_epoch_s * 1e3:.2f} ms (MLPClassifier, median of {len(sklearn_times)})")
    print_fn(f"whole fit     fastbp {fit_s:.4g} s (a second fit; the first, with the JIT compile "
             f"or its load from the cache, {first_fit_s:.2f} s), scikit-learn "
             f"{sklearn_fit_s:.4g} s (MLPClassifier.fit, max_iter {epochs})")
    print_fn(f"speed-up over scikit-learn: {speedup:.1f}x per epoch, {fit_speedup:.1f}x whole fit "
             f"({epochs} epochs each, same data and settings)")
    return dict(accuracy=accuracy, sklearn_accuracy=sklearn_accuracy, epoch_s=epoch_s,
                sklearn_epoch_s=sklearn_epoch_s, first_epoch_s=history.time[0], speedup=speedup,
                fit_s=fit_s, first_fit_s=first_fit_s, sklearn_fit_s=sklearn_fit_s,
                fit_speedup=fit_speedup,
                gradient_error=error)
