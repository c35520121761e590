"""The public contract of ``Sequential`` and ``Dense``."""

import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastbp
from helpers import BACKENDS, assert_close, assert_gradients_close, kernel_rtol

DTYPES = ("float32", "float64")


def mlp(dtype="float64", backend="cpu", seed=0, loss="cross_entropy"):
    """5 inputs -> 7 tanh -> 6 relu -> 3 softmax."""
    return fastbp.Sequential([fastbp.Dense(5, 7, "tanh"), fastbp.Dense(7, 6, "relu"),
                              fastbp.Dense(6, 3, "softmax")], loss=loss, dtype=dtype,
                             backend=backend, seed=seed)


def data(n=11, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 5)), rng.integers(0, 3, n)


def numpy_forward(model, X):
    """The network's output written out in NumPy from the layers' W and b (an independent oracle
    for the activations used by :func:`mlp`)."""
    a = np.asarray(X, np.float64)
    for layer in model.layers:
        z = a @ layer.W.astype(np.float64) + layer.b.astype(np.float64)
        if layer.activation == "tanh":
            a = np.tanh(z)
        elif layer.activation == "relu":
            a = np.maximum(z, 0)
        elif layer.activation == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
        else:
            assert layer.activation == "identity"
            a = z
    return a


@pytest.mark.parametrize("backend", BACKENDS)
def test_shapes(backend):
    model = mlp(backend=backend)
    X, y = data(n=11)
    assert model.forward(X).shape == (11, 3)
    gradients = model.gradients(X, y)
    assert [(dW.shape, db.shape) for dW, db in gradients] == [((5, 7), (7,)), ((7, 6), (6,)),
                                                              ((6, 3), (3,))]
    assert [(layer.W.shape, layer.b.shape) for layer in model.layers] == [
        ((5, 7), (7,)), ((7, 6), (6,)), ((6, 3), (3,))]
    assert isinstance(model.loss(X, y), float)
    assert model.n_inputs == 5 and model.n_outputs == 3
    assert model.n_params == 5 * 7 + 7 + 7 * 6 + 6 + 6 * 3 + 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_forward_uses_assigned_parameters(backend):
    model = mlp(backend=backend)
    rng = np.random.default_rng(1)
    for layer in model.layers:
        layer.W = rng.standard_normal((layer.n_in, layer.n_out))
        layer.b = rng.standard_normal(layer.n_out)
    X, _ = data()
    expected = numpy_forward(model, X)
    assert_close(model.forward(X), expected, 1e-12, "forward after assignment")
    # assigning one parameter again changes exactly what it should
    model.layers[2].b = model.layers[2].b + np.array([0.0, 0.0, 50.0])
    assert np.all(model.forward(X).argmax(axis=1) == 2)


def test_assignment_is_validated_and_copied():
    model = mlp(dtype="float32")
    W = np.arange(35, dtype=np.float64).reshape(5, 7)
    model.layers[0].W = W
    assert model.layers[0].W.dtype == np.float32  # converted to the model's dtype
    W[0, 0] = 100.0
    assert model.layers[0].W[0, 0] == 0.0  # the model holds its own copy
    np.testing.assert_array_equal(model.layers[0].W, np.arange(35).reshape(5, 7))


def test_parameters_assigned_before_the_model_is_built_are_kept():
    layer = fastbp.Dense(2, 1, "identity")
    layer.W, layer.b = [[3.0], [4.0]], [0.5]
    model = fastbp.Sequential([layer], dtype="float32", seed=0)
    np.testing.assert_array_equal(model.layers[0].W, [[3.0], [4.0]])
    np.testing.assert_array_equal(model.forward([[1.0, 1.0]]), [[7.5]])


@pytest.mark.parametrize("assigned", [(0,), (1,), (2,), (0, 2), (1, 2), (0, 1, 2)])
def test_assigned_layers_leave_the_drawn_ones_as_the_seed_draws_them(assigned):
    # the build skips the draws nothing needs (those of assigned layers after the last drawing
    # one); a drawing layer still gets what the seed gives it with nothing assigned
    def network(assign):
        layers = [fastbp.Dense(4, 5, "tanh"), fastbp.Dense(5, 3, "relu"), fastbp.Dense(3, 2)]
        for i in assign:
            layers[i].W = np.full((layers[i].n_in, layers[i].n_out), i + 0.5)
            layers[i].b = np.full(layers[i].n_out, -i - 0.25)
        return fastbp.Sequential(layers, dtype="float64", seed=3)

    drawn, model = network(()), network(assigned)
    for i, (layer, reference) in enumerate(zip(model.layers, drawn.layers)):
        if i in assigned:
            np.testing.assert_array_equal(layer.W, np.full(layer.W.shape, i + 0.5))
            np.testing.assert_array_equal(layer.b, np.full(layer.b.shape, -i - 0.25))
        else:
            np.testing.assert_array_equal(layer.W, reference.W)
            np.testing.assert_array_equal(layer.b, reference.b)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_dtype_is_kept_end_to_end(dtype, backend):
    model = mlp(dtype=dtype, backend=backend)
    X, y = data()
    for layer in model.layers:
        assert layer.W.dtype == layer.b.dtype == np.dtype(dtype)
    assert model.forward(X).dtype == np.dtype(dtype)
    for arrays in (model.gradients(X, y), model.numerical_gradients(X, y, eps=1e-3)):
        for dW, db in arrays:
            assert dW.dtype == db.dtype == np.dtype(dtype)
    assert isinstance(model.step(X, y, 0.1), float)
    for layer in model.layers:
        assert layer.W.dtype == layer.b.dtype == np.dtype(dtype)
    # the input's dtype does not leak in either way
    assert model.forward(X.astype(np.float32 if dtype == "float64" else np.float64)).dtype == dtype


def test_defaults():
    model = fastbp.Sequential([fastbp.Dense(2, 3)])
    assert model.dtype == np.float32
    assert model.backend == "cpu"
    assert model.loss_name == "squared_error"
    assert model.layers[0].activation == "identity"


@pytest.mark.parametrize("spelling", [np.float64, "f8", "double", np.dtype("float64"), "float64"])
def test_dtype_spellings(spelling):
    assert fastbp.Sequential([fastbp.Dense(2, 3)], dtype=spelling).dtype == np.float64


def test_same_seed_same_weights():
    first, second, other = mlp(seed=7), mlp(seed=7), mlp(seed=8)
    for a, b, c in zip(first.layers, second.layers, other.layers):
        np.testing.assert_array_equal(a.W, b.W)
        np.testing.assert_array_equal(a.b, b.b)
        assert not np.array_equal(a.W, c.W)
    # and the seed does not depend on the backend
    for a, b in zip(mlp(seed=7, backend="numpy").layers, first.layers):
        np.testing.assert_array_equal(a.W, b.W)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
def test_backends_agree(dtype, loss):
    X, y = data(n=23)
    if loss == "squared_error":
        y = np.eye(3)[y]
    numpy_model, cpu_model = mlp(dtype, "numpy", 3, loss), mlp(dtype, "cpu", 3, loss)
    rtol = kernel_rtol(dtype)
    assert_close(cpu_model.forward(X), numpy_model.forward(X), rtol, "forward")
    assert cpu_model.loss(X, y) == pytest.approx(numpy_model.loss(X, y), rel=rtol)
    assert_gradients_close(cpu_model.gradients(X, y), numpy_model.gradients(X, y), rtol)


@pytest.mark.parametrize("backend", BACKENDS)
def test_step_is_one_gradient_descent_step(backend):
    model = mlp(backend=backend)
    X, y = data()
    before = [(layer.W.copy(), layer.b.copy()) for layer in model.layers]
    loss, gradients = model.loss(X, y), model.gradients(X, y)
    assert model.step(X, y, lr=0.25) == loss
    for layer, (W, b), (dW, db) in zip(model.layers, before, gradients):
        assert_close(layer.W, W - 0.25 * dW, 1e-15, "W after the step")
        assert_close(layer.b, b - 0.25 * db, 1e-15, "b after the step")


@pytest.mark.parametrize("backend", BACKENDS)
def test_loss_conventions(backend):
    """Each loss against its formula written out in NumPy."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((6, 3))
    for loss, activation in [("squared_error", "identity"), ("mse", "identity"),
                             ("cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid")]:
        model = fastbp.Sequential([fastbp.Dense(3, 4, activation)], loss=loss, dtype="float64",
                                  backend=backend, seed=0)
        p = model.forward(X)
        if loss == "cross_entropy":
            labels = rng.integers(0, 4, 6)
            expected = -np.mean(np.log(p[np.arange(6), labels]))
            y = labels
        elif loss == "binary_cross_entropy":
            y = rng.integers(0, 2, (6, 4))
            # summed over outputs, averaged over samples (scikit-learn's convention)
            expected = -np.mean(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p), axis=1))
        else:
            y = rng.standard_normal((6, 4))
            expected = np.mean((p - y) ** 2) * (0.5 if loss == "squared_error" else 1.0)
        assert model.loss(X, y) == pytest.approx(expected, rel=1e-12), loss


@pytest.mark.parametrize("backend", BACKENDS)
def test_integer_labels_equal_one_hot_targets(backend):
    model = mlp(backend=backend)
    X, y = data()
    assert model.loss(X, y) == model.loss(X, np.eye(3)[y])
    assert_gradients_close(model.gradients(X, y), model.gradients(X, np.eye(3)[y]), 0.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sample_weight_is_a_weighted_mean(backend):
    """Weight 2 on a sample equals the sample appearing twice; uniform weights change nothing."""
    model = mlp(backend=backend)
    X, y = data(n=6)
    weights = np.array([2, 1, 1, 1, 1, 1])
    X2, y2 = np.vstack([X, X[:1]]), np.concatenate([y, y[:1]])
    assert model.loss(X, y, sample_weight=weights) == pytest.approx(model.loss(X2, y2), rel=1e-12)
    assert_gradients_close(model.gradients(X, y, sample_weight=weights), model.gradients(X2, y2),
                           1e-12)
    assert model.loss(X, y, sample_weight=np.full(6, 3.0)) == pytest.approx(model.loss(X, y),
                                                                             rel=1e-12)


def test_logistic_is_an_alias_of_sigmoid():
    layer = fastbp.Dense(3, 2, activation="logistic")
    assert layer.activation == "sigmoid"
    model = fastbp.Sequential([layer], loss="binary_cross_entropy", dtype="float64", seed=0)
    X = np.random.default_rng(0).standard_normal((4, 3))
    expected = 1 / (1 + np.exp(-(X @ model.layers[0].W + model.layers[0].b)))
    assert_close(model.forward(X), expected, 1e-14, "logistic output")


def test_summary_and_repr():
    model = mlp()
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    for layer in model.layers:
        assert f"{layer.n_in} -> {layer.n_out}" in text and layer.activation in text
    assert f"Total params: {model.n_params:,}" in text
    assert repr(model).startswith("Sequential([Dense(5, 7, activation='tanh')")


@pytest.mark.parametrize("activation, init, bound", [
    ("tanh", None, math.sqrt(6 / (300 + 200))),
    ("identity", None, math.sqrt(6 / (300 + 200))),
    ("sigmoid", None, math.sqrt(2 / (300 + 200))),  # scikit-learn's bound for logistic
    ("relu", None, math.sqrt(6 / (300 + 200))),  # Glorot for every activation by default
    ("elu", None, math.sqrt(6 / (300 + 200))),
    ("relu", "he_uniform", math.sqrt(6 / 300)),
    ("tanh", "he_uniform", math.sqrt(6 / 300)),
    ("relu", "glorot_uniform", math.sqrt(6 / (300 + 200))),
])
def test_initialisation_bounds(activation, init, bound):
    model = fastbp.Sequential([fastbp.Dense(300, 200, activation, init=init)], dtype="float64",
                              seed=0)
    W, b = model.layers[0].W, model.layers[0].b
    for values in (W, b):
        assert np.abs(values).max() <= bound
    # 60,000 uniform draws: the largest lands within 0.1% of the bound, and they look uniform
    assert np.abs(W).max() >= 0.999 * bound
    assert np.mean(W) == pytest.approx(0.0, abs=0.02 * bound)
    assert np.std(W) == pytest.approx(bound / math.sqrt(3), rel=0.02)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_seed_draws_the_weights_rng_uniform_draws_layer_by_layer(dtype):
    """The initial weights of a seed: each layer's W, then its b, as ``Generator.uniform`` draws
    them in float64, rounded to the model's dtype (the build draws both in one call and writes
    them into the model's vector as it rounds them)."""
    model = fastbp.Sequential([fastbp.Dense(7, 5, "tanh"), fastbp.Dense(5, 3, "sigmoid",
                                                                       init="he_uniform")],
                              dtype=dtype, seed=11)
    rng = np.random.default_rng(11)
    for layer, bound in zip(model.layers, (math.sqrt(6 / 12), math.sqrt(6 / 5))):
        W = rng.uniform(-bound, bound, (layer.n_in, layer.n_out)).astype(dtype)
        b = rng.uniform(-bound, bound, layer.n_out).astype(dtype)
        np.testing.assert_array_equal(layer.W, W)
        np.testing.assert_array_equal(layer.b, b)


def test_import_loads_neither_numba_nor_sklearn():
    """The structural half of the 'import fastbp under 1 s' target (no timings in tests/); Dask
    only with ``fastbp.dask``."""
    code = ("import json, sys; import fastbp; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('numba', 'sklearn', 'scipy', 'llvmlite', 'dask', 'distributed', 'dask_ml'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    heavy = json.loads(result.stdout)
    assert not [m for m in heavy if m.split(".")[0] in ("numba", "sklearn", "llvmlite", "dask",
                                                        "distributed", "dask_ml")], heavy


def test_training_on_the_cpu_does_not_import_scipy_linalg():
    """SciPy's BLAS is loaded on its own (kernels/cpu/blas.py), not through scipy.linalg's package,
    which imports all of SciPy's linear algebra; a later import of that package still works."""
    code = textwrap.dedent("""
        import sys
        import numpy as np
        import fastbp
        model = fastbp.Sequential([fastbp.Dense(4, 8, "relu"), fastbp.Dense(8, 2, "softmax")],
                                  loss="cross_entropy", seed=0)
        X = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32)
        y = (X[:, 0] > 0).astype(int)
        history = model.fit(X, y, epochs=5, batch_size=16, optimizer=fastbp.Adam(0.05), seed=0)
        print(history.loss[-1] < history.loss[0], "scipy.linalg" in sys.modules)
        import scipy.linalg
        print(scipy.linalg.solve(np.eye(2) * 2, np.ones(2)).tolist())
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.split("\n")[:2] == ["True False", "[0.5, 0.5]"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_parameter_vector_is_the_layers_weights_in_order(backend):
    model = mlp(backend=backend)
    expected = np.concatenate([np.concatenate([layer.W.ravel(), layer.b])
                               for layer in model.layers])
    np.testing.assert_array_equal(model.parameters, expected)
    assert model.parameters.shape == (model.n_params,)
    with pytest.raises(ValueError, match="read-only"):
        model.parameters[0] = 1.0  # changes go through set_parameters
    for (W, b), layer in zip(model.layer_views(model.parameters), model.layers):
        np.testing.assert_array_equal(W, layer.W)
        np.testing.assert_array_equal(b, layer.b)


@pytest.mark.parametrize("backend", BACKENDS)
def test_set_parameters_changes_every_layer_and_the_output(backend):
    model, other = mlp(backend=backend), mlp(backend=backend, seed=5)
    X, _ = data()
    model.set_parameters(other.parameters)
    np.testing.assert_array_equal(model.layers[1].W, other.layers[1].W)
    np.testing.assert_array_equal(model.forward(X), other.forward(X))
    assert_close(model.forward(X), numpy_forward(other, X), 1e-12, "forward after set_parameters")


def test_set_parameters_refuses_what_it_cannot_hold_and_changes_nothing():
    model = mlp(dtype="float32")
    before = model.parameters.copy()
    P = model.n_params
    with pytest.raises(ValueError, match=rf"must have shape \({P},\); got \({P + 1},\)"):
        model.set_parameters(np.zeros(P + 1))
    with pytest.raises(TypeError, match="real numeric array; got dtype <U1"):
        model.set_parameters(np.full(P, "a"))
    with pytest.raises(ValueError, match="beyond the range of float32"):
        model.set_parameters(np.full(P, 1e300))
    np.testing.assert_array_equal(model.parameters, before)


@pytest.mark.parametrize("backend", BACKENDS)
def test_evaluate_and_loss_and_gradient_agree_with_the_public_passes(backend):
    model = mlp(backend=backend)
    X, y = data()
    prepared = model.prepare(X, y)
    loss, output = model.evaluate(*prepared)
    assert loss == model.loss(X, y)
    np.testing.assert_array_equal(output, model.forward(X))
    loss_again, gradient = model.loss_and_gradient(*prepared)
    assert loss_again == loss
    for (dW, db), (eW, eb) in zip(model.layer_views(gradient), model.gradients(X, y)):
        np.testing.assert_array_equal(dW, eW)
        np.testing.assert_array_equal(db, eb)
    # evaluate at another parameter vector leaves the model's own alone
    other = mlp(backend=backend, seed=9)
    at_other, _ = model.evaluate(*prepared, model.kernels.to_device(np.array(other.parameters)))
    assert at_other == other.loss(X, y) and loss == model.loss(X, y)
