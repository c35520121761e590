"""Bad input raises a ValueError or TypeError whose message names what was expected and what came.

Each ``match`` pattern asserts both halves: the expectation (a shape, a range, the valid names) and
the offending value. Nothing is silently coerced, truncated or dropped.
"""

import re
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import fastbp

BACKEND = "numpy"  # validation happens before any kernel runs; the kernels are tested elsewhere


def classifier(dtype="float64"):
    """3 inputs -> 4 relu -> 2 softmax, cross-entropy."""
    return fastbp.Sequential([fastbp.Dense(3, 4, "relu"), fastbp.Dense(4, 2, "softmax")],
                             loss="cross_entropy", dtype=dtype, backend=BACKEND, seed=0)


def regressor(n_outputs=2, loss="squared_error", output="identity", dtype="float64"):
    """3 inputs -> ``n_outputs`` units."""
    return fastbp.Sequential([fastbp.Dense(3, n_outputs, output)], loss=loss, dtype=dtype,
                             backend=BACKEND, seed=0)


X = np.ones((4, 3))
LABELS = np.array([0, 1, 1, 0])


def names_pattern(names):
    """A regex matching the list of valid names in a message, in order."""
    return ".*".join(re.escape(repr(name)) for name in names)


# ---- the architecture -----------------------------------------------------------------------

def test_widths_that_do_not_chain():
    with pytest.raises(ValueError, match=r"layers\[1\] expects 5 inputs but layers\[0\] has 4 "
                                         r"outputs"):
        fastbp.Sequential([fastbp.Dense(3, 4), fastbp.Dense(5, 2)])


@pytest.mark.parametrize("value", [2.5, 3.0, "3", None, True])
def test_non_integer_width(value):
    expected = rf"n_in must be a positive integer; got {re.escape(repr(value))}"
    with pytest.raises(TypeError, match=expected):
        fastbp.Dense(value, 2)


@pytest.mark.parametrize("value", [0, -3])
def test_non_positive_width(value):
    with pytest.raises(ValueError, match=rf"n_out must be a positive integer; got {value}"):
        fastbp.Dense(2, value)


def test_unknown_activation_lists_the_valid_ones():
    valid = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "softplus",
             "softmax", "exp"]
    with pytest.raises(ValueError, match=r"unknown activation 'swish'.*" + names_pattern(valid)):
        fastbp.Dense(3, 4, "swish")
    with pytest.raises(TypeError, match=r"activation must be a string.*got 3"):
        fastbp.Dense(3, 4, 3)


def test_unknown_loss_lists_the_valid_ones():
    valid = ["squared_error", "mse", "cross_entropy", "binary_cross_entropy", "poisson"]
    with pytest.raises(ValueError, match=r"unknown loss 'hinge'.*" + names_pattern(valid)):
        fastbp.Sequential([fastbp.Dense(3, 4)], loss="hinge")


def test_unknown_backend_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown backend 'gpu'.*" +
                                         names_pattern(["numpy", "cpu"])):
        fastbp.Sequential([fastbp.Dense(3, 4)], backend="gpu")


def test_unknown_dtype_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown dtype 'float16'.*'float32', 'float64'"):
        fastbp.Sequential([fastbp.Dense(3, 4)], dtype="float16")
    with pytest.raises(ValueError, match=r"unknown dtype 'int64'.*'float32', 'float64'"):
        fastbp.Sequential([fastbp.Dense(3, 4)], dtype=int)
    # np.dtype(None) would be float64: None is refused, not silently given a precision
    with pytest.raises(TypeError, match=r"dtype must be a string, one of \['float32', "
                                        r"'float64'\]; got None"):
        fastbp.Sequential([fastbp.Dense(3, 4)], dtype=None)


def test_unknown_init_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown init 'zeros'.*'glorot_uniform', 'he_uniform'"):
        fastbp.Dense(3, 4, init="zeros")


@pytest.mark.parametrize("activation", ["softmax", "exp"])
def test_output_only_activation_before_the_last_layer(activation):
    with pytest.raises(ValueError, match=rf"{activation} is allowed only on the last layer; "
                                         r"layers\[1\] of 3 uses it"):
        fastbp.Sequential([fastbp.Dense(3, 4), fastbp.Dense(4, 4, activation),
                           fastbp.Dense(4, 2)])


@pytest.mark.parametrize("loss, required, output", [("cross_entropy", "softmax", "sigmoid"),
                                                    ("cross_entropy", "softmax", "identity"),
                                                    ("binary_cross_entropy", "sigmoid", "softmax"),
                                                    ("binary_cross_entropy", "sigmoid", "tanh"),
                                                    ("poisson", "exp", "identity"),
                                                    ("poisson", "exp", "softplus")])
def test_loss_that_does_not_fit_the_output_activation(loss, required, output):
    with pytest.raises(ValueError, match=rf"loss '{loss}' needs a {required} output layer; the "
                                         rf"last layer's activation is '{output}'"):
        fastbp.Sequential([fastbp.Dense(3, 2, output)], loss=loss)


def test_layers_that_are_not_dense():
    with pytest.raises(TypeError, match=r"layers\[1\] must be a Dense layer; got int"):
        fastbp.Sequential([fastbp.Dense(3, 4), 4])
    with pytest.raises(TypeError, match=r"non-empty list of Dense; got \[\]"):
        fastbp.Sequential([])


# ---- parameters -----------------------------------------------------------------------------

@pytest.mark.parametrize("name, shape", [("W", (4, 3)), ("W", (3,)), ("b", (3,)), ("b", (4, 1))])
def test_wrong_shape_parameter_assignment(name, shape):
    model = classifier()
    before = getattr(model.layers[0], name).copy()
    expected = "(3, 4)" if name == "W" else "(4,)"
    with pytest.raises(ValueError, match=rf"{name} must have shape {re.escape(expected)} for "
                                         rf"Dense\(3, 4\); got {re.escape(str(shape))}"):
        setattr(model.layers[0], name, np.ones(shape))
    np.testing.assert_array_equal(getattr(model.layers[0], name), before)  # left untouched


def test_non_finite_or_non_numeric_parameter_assignment():
    model = classifier(dtype="float32")
    with pytest.raises(ValueError, match=r"W contains NaN or infinity"):
        model.layers[0].W = np.full((3, 4), np.nan)
    with pytest.raises(ValueError, match=r"W contains NaN or infinity \(after conversion to "
                                         r"float32\)"):
        model.layers[0].W = np.full((3, 4), 1e39)  # finite in float64, not in float32
    with pytest.raises(TypeError, match=r"b must be a real numeric array; got dtype <U1"):
        model.layers[0].b = np.array(["a"] * 4)


def test_a_value_the_dtype_rounds_to_infinity_at_the_build_leaves_the_layers_as_they_were():
    layer, out = fastbp.Dense(3, 4, "relu"), fastbp.Dense(4, 2)
    layer.W = np.full((3, 4), 1e39)  # finite in float64, not in float32
    with pytest.raises(ValueError, match=r"W contains NaN or infinity \(after conversion to "
                                         r"float32\)"):
        fastbp.Sequential([layer, out], dtype="float32", seed=0)
    model = fastbp.Sequential([layer, out], dtype="float64", seed=0)  # the layers are free
    assert model.layers[0].W[0, 0] == 1e39 and model.layers[0].W.dtype == np.float64
    # built later, for the width of the first fit or an explicit build: the model stays unbuilt
    first, second = fastbp.Dense(4, activation="relu"), fastbp.Dense(4, 2)
    second.b = np.array([1.0, -1e39])
    model = fastbp.Sequential([first, second], dtype="float32", seed=0)
    with pytest.raises(ValueError, match=r"b contains NaN or infinity \(after conversion to "
                                         r"float32\)"):
        model.build(3)
    assert not model.built and first.W is None
    with pytest.raises(fastbp.NotBuiltError):  # its input width is unknown again
        first.n_in
    np.testing.assert_array_equal(second.b, [1.0, -1e39])
    second.b = np.array([1.0, -1.0])
    model.build(3)
    assert model.built and model.n_inputs == 3
    np.testing.assert_array_equal(model.layers[1].b, np.array([1.0, -1.0], np.float32))


# ---- X --------------------------------------------------------------------------------------

def test_X_of_the_wrong_width():
    with pytest.raises(ValueError, match=r"X has 5 features, but the model's first layer expects "
                                         r"3"):
        classifier().forward(np.ones((4, 5)))


#: scikit-learn's check_array on a 3-D array: its wording since 1.7, and in 1.6
THREE_DIMENSIONS = r"dim 3(, while dim <= 2 is required|\. None expected <= 2)"


@pytest.mark.parametrize("shape, message", [((3,), r"Expected 2D array, got 1D array"),
                                            ((4, 3, 1), THREE_DIMENSIONS),
                                            ((), r"Expected 2D array, got scalar array")])
def test_X_of_the_wrong_rank(shape, message):
    with pytest.raises(ValueError, match=message):
        classifier().forward(np.ones(shape))


@pytest.mark.parametrize("shape", [(0, 3), (4, 0)])
def test_empty_X(shape):
    kind = "sample" if shape[0] == 0 else "feature"
    with pytest.raises(ValueError, match=rf"0 {kind}\(s\) \(shape={re.escape(str(shape))}\) while "
                                         rf"a minimum of 1 is required"):
        classifier().forward(np.ones(shape))


@pytest.mark.parametrize("method", ["forward", "loss", "gradients", "step"])
@pytest.mark.parametrize("bad, message", [(np.nan, r"Input X contains NaN"),
                                          (np.inf, r"Input X contains infinity"),
                                          (-np.inf, r"Input X contains infinity")])
def test_non_finite_X(method, bad, message):
    model = classifier()
    Xbad = X.copy()
    Xbad[2, 1] = bad
    args = {"forward": (Xbad,), "loss": (Xbad, LABELS), "gradients": (Xbad, LABELS),
            "step": (Xbad, LABELS, 0.1)}[method]
    with pytest.raises(ValueError, match=message):
        getattr(model, method)(*args)


def test_X_beyond_the_range_of_float32():
    with pytest.raises(ValueError, match=r"infinity or a value too large for "
                                         r"dtype\('float32'\)"):
        classifier(dtype="float32").forward(np.full((2, 3), 1e39))


def test_non_numeric_X():
    with pytest.raises(ValueError, match=r"could not convert string to float: 'a'"):
        classifier().forward([["a", "b", "c"]])


# ---- y --------------------------------------------------------------------------------------

@pytest.mark.parametrize("model, y", [(classifier, [0, 1, 1]),
                                      (regressor, np.zeros((5, 2)))])
def test_y_of_the_wrong_length(model, y):
    with pytest.raises(ValueError, match=rf"y has {len(y)} samples, but X has 4"):
        model().loss(X, y)


@pytest.mark.parametrize("y", [np.zeros((4, 3)), np.zeros((4, 1)), np.zeros(4)])
def test_y_of_the_wrong_shape_for_regression(y):
    with pytest.raises(ValueError, match=rf"y has shape {re.escape(str(y.shape))}, but the model "
                                         rf"has 2 outputs: expected shape \(4, 2\)"):
        regressor(n_outputs=2).loss(X, y)


def test_y_of_the_wrong_shape_for_cross_entropy():
    with pytest.raises(ValueError, match=r"y has shape \(4, 3\), but the model has 2 outputs: "
                                         r"expected shape \(4, 2\)"):
        classifier().loss(X, np.eye(3)[[0, 1, 2, 0]])
    with pytest.raises(TypeError, match=r"integer class labels of shape \(n_samples,\) or one-hot "
                                        r"targets of shape \(n_samples, 2\); got float64 labels "
                                        r"of shape \(4,\)"):
        classifier().loss(X, LABELS.astype(float))
    with pytest.raises(ValueError, match=r"class labels must lie in \[0, 2\) for a model with 2 "
                                         r"outputs; got labels from -1 to 1"):
        classifier().loss(X, [0, 1, -1, 0])
    with pytest.raises(ValueError, match=r"labels from 0 to 2"):
        classifier().loss(X, [0, 1, 2, 0])
    for dtype in (np.int8, np.int16, np.int32):  # the smallest of each width, too
        with pytest.raises(ValueError, match=rf"labels from {np.iinfo(dtype).min} to 1"):
            classifier().loss(X, np.array([0, 1, np.iinfo(dtype).min, 0], dtype))
    with pytest.raises(ValueError, match=r"probability rows summing to 1; row 1 sums to 1.5"):
        classifier().loss(X, [[1, 0], [0.5, 1], [0, 1], [1, 0]])


def test_y_out_of_range_for_binary_cross_entropy():
    model = regressor(n_outputs=1, loss="binary_cross_entropy", output="sigmoid")
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]; got values from 0 to 2"):
        model.loss(X, [0, 1, 2, 1])


def test_negative_y_for_poisson():
    model = regressor(n_outputs=1, loss="poisson", output="exp")
    with pytest.raises(ValueError, match=r"poisson targets must be non-negative \(counts or "
                                         r"rates\); got a minimum of -0.5"):
        model.loss(X, [0, 1, -0.5, 3])
    assert np.isfinite(model.loss(X, [0, 1, 0.5, 3]))  # zeros and fractions are fine


def test_y_of_the_wrong_rank():
    with pytest.raises(ValueError, match=THREE_DIMENSIONS):
        regressor().loss(X, np.zeros((4, 2, 1)))


@pytest.mark.parametrize("bad, message", [(np.nan, r"Input y contains NaN"),
                                          (np.inf, r"Input y contains infinity")])
@pytest.mark.parametrize("make_model", [classifier, regressor])
def test_non_finite_y(make_model, bad, message):
    y = np.array([[1.0, 0.0]] * 4)
    y[1, 0] = bad
    with pytest.raises(ValueError, match=message):
        make_model().gradients(X, y)


def test_y_beyond_the_range_of_float32():
    with pytest.raises(ValueError, match=r"y holds values beyond the range of float32"):
        regressor(dtype="float32").loss(X, np.full((4, 2), 1e39))


def test_non_numeric_y():
    with pytest.raises(TypeError, match=r"y must be numeric; got dtype <U1"):
        classifier().loss(X, np.array(["a", "b", "a", "b"]))


# ---- sample weights, learning rate, finite-difference step ----------------------------------

def test_bad_sample_weight():
    model = classifier()
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(4,\); got \(2,\)"):
        model.loss(X, LABELS, sample_weight=[1, 2])
    with pytest.raises(ValueError, match=r"non-negative with a positive sum; got minimum -1"):
        model.loss(X, LABELS, sample_weight=[1, 2, -1, 1])
    with pytest.raises(ValueError, match=r"non-negative with a positive sum; got minimum 0.0 and "
                                         r"sum 0.0"):
        model.loss(X, LABELS, sample_weight=[0, 0, 0, 0])
    with pytest.raises(ValueError, match=r"Input sample_weight contains NaN"):
        model.loss(X, LABELS, sample_weight=[1, np.nan, 1, 1])


@pytest.mark.parametrize("name", ["lr", "eps"])
@pytest.mark.parametrize("value", [0, -0.1, np.nan, np.inf])
def test_lr_and_eps_must_be_finite_and_positive(name, value):
    model = classifier()
    call = (lambda: model.step(X, LABELS, lr=value)) if name == "lr" else (
        lambda: model.numerical_gradients(X, LABELS, eps=value))
    before = [layer.W.copy() for layer in model.layers]
    with pytest.raises(ValueError, match=rf"{name} must be a finite positive number; got "
                                         rf"{re.escape(str(value))}"):
        call()
    for layer, W in zip(model.layers, before):
        np.testing.assert_array_equal(layer.W, W)  # nothing was updated


@pytest.mark.parametrize("name, value", [
    (name, value) for name in ("lr", "eps") for value in ("0.1", None, True, [0.1])
    # eps=None is numerical_gradients' default, the dtype's step (tests/test_keras_habits.py)
    if (name, value) != ("eps", None)])
def test_lr_and_eps_must_be_real_numbers(name, value):
    model = classifier()
    call = (lambda: model.step(X, LABELS, lr=value)) if name == "lr" else (
        lambda: model.numerical_gradients(X, LABELS, eps=value))
    with pytest.raises(TypeError, match=rf"{name} must be a positive real number; got "
                                        rf"{re.escape(repr(value))}"):
        call()


#: Every whole-number setting, by how it is given: each goes through the same check.
WHOLE_NUMBER_SETTINGS = {
    "n_in": lambda v: fastbp.Dense(v, 2),
    "epochs": lambda v: classifier().fit(X, LABELS, epochs=v),
    "batch_size": lambda v: classifier().fit(X, LABELS, batch_size=v),
    "patience": lambda v: fastbp.EarlyStopping(monitor="loss", patience=v),
    "step_size": lambda v: fastbp.schedules.StepDecay(step_size=v),
    "T_max": lambda v: fastbp.schedules.CosineAnnealing(T_max=v),
}


@pytest.mark.parametrize("name", list(WHOLE_NUMBER_SETTINGS))
@pytest.mark.parametrize("value, error", [(2.5, TypeError), ("3", TypeError), (True, TypeError),
                                          (0, ValueError), (-2, ValueError)])
def test_every_whole_number_setting_refuses_the_same_mistakes_the_same_way(name, value, error):
    with pytest.raises(error, match=rf"{name} must be a positive integer; got {re.escape(repr(value) if error is TypeError else str(value))}"):
        WHOLE_NUMBER_SETTINGS[name](value)


@pytest.mark.parametrize("make", [lambda v: fastbp.Dense(2, 2, dropout=v),
                                  lambda v: fastbp.SGD(0.1, momentum=v),
                                  lambda v: fastbp.Adam(0.1, beta_1=v)])
@pytest.mark.parametrize("value, error", [("0.5", TypeError), (True, TypeError), (1.0, ValueError),
                                          (-0.1, ValueError), (float("nan"), ValueError)])
def test_every_fraction_setting_refuses_the_same_mistakes_the_same_way(make, value, error):
    with pytest.raises(error, match=r"must be (a real number )?in \[0, 1\); got"):
        make(value)


@pytest.mark.parametrize("weight", [0j, 1 + 2j, np.complex64(1)])
@pytest.mark.parametrize("make", [fastbp.MLPClassifier, fastbp.MLPRegressor])
def test_estimators_refuse_a_complex_scalar_sample_weight(make, weight):
    est = make(hidden_layer_sizes=(2,), max_iter=1, backend=BACKEND, random_state=0)
    with pytest.raises(TypeError, match=r"sample_weight must be real; got the complex number"):
        est.fit(X, LABELS, sample_weight=weight)
    assert not hasattr(est, "coefs_")


def test_a_real_scalar_sample_weight_weighs_every_sample_alike():
    def fitted(weight):
        est = fastbp.MLPClassifier(hidden_layer_sizes=(2,), max_iter=3, backend=BACKEND,
                                   random_state=0, solver="sgd", tol=0.0, n_iter_no_change=10)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # three epochs, on purpose
            return est.fit(X + np.arange(4)[:, None], LABELS, sample_weight=weight).coefs_

    # equal up to the rounding of the normalised weights
    for scalar, unweighted in zip(fitted(2.5), fitted(None)):
        np.testing.assert_allclose(scalar, unweighted, rtol=1e-6)
