"""Property-based checks of the public API's contract on generated input.

Every call either succeeds with finite results of the documented shape, or raises ``ValueError`` or
``TypeError`` and leaves the model (weights, samples seen) and the optimizer exactly as they were.
Inputs: arrays of many dtypes, byte orders, layouts and shapes, holding NaN, infinities and values
beyond float32's range; targets and sample weights of every kind; hyper-parameters at and past their
bounds. Tiny models on the ``numpy`` and ``cpu`` backends keep each example to milliseconds; the
``max_examples`` below add up to 10,000 cases per run.
"""

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning

import fastbp

N_FEATURES = 3
SETTINGS = dict(deadline=None, suppress_health_check=list(HealthCheck))
REFUSALS = (ValueError, TypeError)

#: (loss, output activation, outputs): every output stays bounded behind a tanh hidden layer.
LOSSES = [("squared_error", "identity", 2), ("mse", "identity", 1),
          ("cross_entropy", "softmax", 3), ("binary_cross_entropy", "sigmoid", 2)]

DTYPES = ["float16", "float32", "float64", ">f8", ">f4", "int8", "int64", "uint8", "bool",
          "complex128", "object"]
SPECIAL = [np.nan, np.inf, -np.inf, 1e39, -1e300, 1e-320, 0.0, -0.0]


def _model(backend, dtype, loss, activation, n_out):
    return fastbp.Sequential([fastbp.Dense(N_FEATURES, 3, "tanh"),
                              fastbp.Dense(3, n_out, activation)],
                             loss=loss, dtype=dtype, backend=backend, seed=0)


models = st.builds(lambda backend, dtype, spec: _model(backend, dtype, *spec),
                   st.sampled_from(["numpy", "cpu"]), st.sampled_from(["float32", "float64"]),
                   st.sampled_from(LOSSES))

values = st.one_of(st.floats(-10, 10), st.sampled_from(SPECIAL))


#: targets: no value whose square overflows float64 (the loss is then inf, its true value)
target_values = st.one_of(st.floats(-10, 10), st.sampled_from([np.nan, np.inf, 1e39, -1e15, 0.0]))


@st.composite
def arrays(draw, rows, cols=None, small_ints=False, elements=values):
    """An array of ``rows`` (and ``cols``) or a nearby wrong shape, of any dtype, byte order and
    layout, mostly of ordinary values with some NaN, infinity and out-of-range ones."""
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = (rows,) if cols is None else (rows, cols)
    if draw(st.integers(0, 9)) == 0:  # now and then a wrong shape
        shape = draw(st.sampled_from([(), (0,), (rows, 1, 1), (rows + 1,) + shape[1:],
                                      (rows, (cols or 1) + 1)]))
    clean = draw(st.integers(0, 3)) > 0
    elements = st.integers(0, 2) if small_ints else (st.floats(-10, 10) if clean else elements)
    base = np.array(draw(st.lists(elements, min_size=int(np.prod(shape)),
                                  max_size=int(np.prod(shape)))), dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # casting NaN/inf to an integer dtype
        array = base.reshape(shape).astype(dtype)
    layout = draw(st.sampled_from(["C", "F", "strided", "list"]))
    if layout == "F":
        array = np.asfortranarray(array)
    elif layout == "strided" and array.ndim:
        array = np.repeat(array, 2, axis=0)[::2]
    elif layout == "list":
        return array.tolist()
    return array


@st.composite
def problems(draw):
    model = draw(models)
    n = draw(st.integers(1, 6))
    X = draw(arrays(n, N_FEATURES))
    if model.loss_name == "cross_entropy" and draw(st.booleans()):
        y = draw(arrays(n, small_ints=True))
    elif model.n_outputs == 1:
        y = draw(arrays(n, elements=target_values))
    else:
        y = draw(arrays(n, model.n_outputs, small_ints=model.loss_name != "squared_error",
                        elements=target_values))
    weight = draw(st.one_of(st.none(), arrays(n), st.just(np.full(n, 1e307))))
    return model, X, y, weight


hyper = st.one_of(st.floats(1e-4, 1.0), st.sampled_from([0, -1.0, 0.0, np.nan, np.inf, 1e39,
                                                         1e-50, True, "0.1", None, 1e30]))


def _state(model, optimizer=None):
    state = [model.parameters.copy(), model.samples_seen]
    if optimizer is not None:
        state += [optimizer.steps] + [a.copy() for a in (optimizer.moments or ())]
    return state


def _unchanged(before, after):
    assert len(before) == len(after)
    for a, b in zip(before, after):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b


def _finite(*arrays):
    for a in arrays:
        assert np.all(np.isfinite(np.asarray(a, np.float64)))


def _call(check, model, optimizer, call):
    """Run ``call``: its result must pass ``check``, or it must refuse and change nothing."""
    before = _state(model, optimizer)
    try:
        result = call()
    except fastbp.DivergenceError:
        _finite(model.parameters)  # training ran and stopped: the kept weights are finite
        return
    except REFUSALS:
        _unchanged(before, _state(model, optimizer))
        return
    check(result)
    _finite(model.parameters)


@settings(max_examples=2500, **SETTINGS)
@given(problems())
def test_forward(problem):
    model, X, _, _ = problem

    def check(out):
        assert out.shape == (np.shape(X)[0], model.n_outputs) and out.dtype == model.dtype
        _finite(out)

    _call(check, model, None, lambda: model.forward(X))


@settings(max_examples=2000, **SETTINGS)
@given(problems())
def test_loss(problem):
    model, X, y, weight = problem

    def check(loss):
        assert isinstance(loss, float) and np.isfinite(loss)

    _call(check, model, None, lambda: model.loss(X, y, sample_weight=weight))


@settings(max_examples=1200, **SETTINGS)
@given(problems())
def test_gradients(problem):
    model, X, y, weight = problem

    def check(grads):
        for (dW, db), layer in zip(grads, model.layers):
            assert dW.shape == layer.W.shape and db.shape == layer.b.shape
            _finite(dW, db)

    _call(check, model, None, lambda: model.gradients(X, y, sample_weight=weight))


@settings(max_examples=1500, **SETTINGS)
@given(problems(), hyper)
def test_step(problem, lr):
    model, X, y, weight = problem
    _call(lambda loss: _finite(loss), model, None,
          lambda: model.step(X, y, lr=lr, sample_weight=weight))


@settings(max_examples=400, **SETTINGS)
@given(problems(), st.one_of(st.floats(1e-7, 1e-2), st.sampled_from([1e-12, 1e30, 0, -1e-3,
                                                                      np.nan, "1e-6"])))
def test_numerical_gradients(problem, eps):
    model, X, y, weight = problem

    def check(grads):
        for dW, db in grads:
            _finite(dW, db)

    _call(check, model, None,
          lambda: model.numerical_gradients(X, y, eps=eps, sample_weight=weight))


@settings(max_examples=1500, **SETTINGS)
@given(problems(), hyper, st.sampled_from([1, 2, 0, -1, None, 2.5, True]),
       st.sampled_from([None, 1, 3, 0, 10**9, 1.5]), st.sampled_from([0.0, 0.5, 1.0, -0.1, 0.99]),
       st.sampled_from([0.0, 1e-3, -1.0, np.nan]))
def test_fit(problem, lr, epochs, batch_size, validation_split, alpha):
    model, X, y, weight = problem
    optimizer = fastbp.Adam(lr) if isinstance(lr, float) and 0 < lr < 1 else "adam"

    def check(history):
        _finite(history.loss)

    _call(check, model, None if isinstance(optimizer, str) else optimizer,
          lambda: model.fit(X, y, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
                            sample_weight=weight, validation_split=validation_split, alpha=alpha,
                            seed=0))


@st.composite
def estimator_problems(draw):
    n = draw(st.integers(2, 8))
    X = draw(arrays(n, N_FEATURES))
    classifier = draw(st.booleans())
    y = draw(arrays(n, small_ints=classifier, elements=target_values))
    weight = draw(st.one_of(st.none(), arrays(n)))
    params = dict(hidden_layer_sizes=(2,), max_iter=draw(st.sampled_from([1, 2])),
                  backend=draw(st.sampled_from(["numpy", "cpu"])), random_state=0,
                  solver=draw(st.sampled_from(["adam", "sgd", "lbfgs"])),
                  batch_size=draw(st.sampled_from(["auto", 1, 3])),
                  learning_rate_init=draw(st.sampled_from([1e-3, 0.1])))
    make = fastbp.MLPClassifier if classifier else fastbp.MLPRegressor
    return make(**params), X, y, weight


@settings(max_examples=900, **SETTINGS)
@given(estimator_problems())
def test_estimator_fit_and_predict(problem):
    est, X, y, weight = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", DataConversionWarning)
        # scikit-learn's own warning, kept by fastbp, for a batch_size above the sample count
        warnings.filterwarnings("ignore", "Got `batch_size`", UserWarning)
        try:
            est.fit(X, y, sample_weight=weight)
        except fastbp.DivergenceError:
            assert all(np.all(np.isfinite(c)) for c in est.coefs_)
            return
        except REFUSALS:
            assert not hasattr(est, "coefs_")  # a refused first fit leaves nothing fitted
            return
    assert all(np.all(np.isfinite(c)) for c in est.coefs_)
    predicted = est.predict(X)
    assert len(predicted) == len(X)
    if isinstance(est, fastbp.MLPClassifier):
        proba = est.predict_proba(X)
        assert proba.shape == (len(X), max(2, len(est.classes_)))
        _finite(proba)
    else:
        _finite(predicted)
