"""fastbp.save/load: bitwise round trips, bitwise resumed training, atomic writes, committed files.

"Resumed training is bitwise equal" means, for each object:

- ``Sequential``: ``fit(..., optimizer=opt, seed=s1)`` then ``fit(..., optimizer=opt, seed=s2)``
  against the same first fit, ``save(model, path, optimizer=opt)``, ``load(path,
  return_optimizer=True)`` and the second fit on the loaded model with the loaded optimizer and
  ``seed=s2``. The seed of each fit feeds shuffling and dropout; the file restores the weights, the
  optimizer's moments and step count, and the samples-seen clock of ``invscaling``.
- Estimators: ``partial_fit`` k times, save with ``include_optimizer=True``, load, ``partial_fit``
  m more times, against k + m calls on the original; and a ``warm_start`` ``fit`` after loading
  against one without the round trip (it keeps the loss curve and the stopping rule's state, and
  draws from the same ``random_state``, an int or a saved ``RandomState``).
"""

import json
import os
import pathlib
import pickle

import numpy as np
import pytest

import fastbp
from fastbp import Dense, MLPClassifier, MLPRegressor, ModelFileError, Sequential
from fastbp.io import format as fmt

from data.make_files import parameter_digest

DATA = pathlib.Path(__file__).parent / "data"

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _bits(array):
    return np.ascontiguousarray(array).view(np.uint8)


def assert_bitwise(a, b, what="array"):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, f"{what}: {a.dtype}{a.shape} vs " \
                                                      f"{b.dtype}{b.shape}"
    assert np.array_equal(_bits(a), _bits(b)), f"{what}: not bitwise equal"


def assert_same_network(a, b):
    assert [repr(layer) for layer in a.layers] == [repr(layer) for layer in b.layers]
    assert [layer.init for layer in a.layers] == [layer.init for layer in b.layers]
    assert [layer.dropout for layer in a.layers] == [layer.dropout for layer in b.layers]
    assert (a.loss_name, a.dtype, a.backend) == (b.loss_name, b.dtype, b.backend)
    for i, (la, lb) in enumerate(zip(a.layers, b.layers)):
        assert_bitwise(la.W, lb.W, f"layers[{i}].W")
        assert_bitwise(la.b, lb.b, f"layers[{i}].b")


def _data(n=120, d=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng


def _network(dtype, loss="cross_entropy", out="softmax", k=3, hidden="gelu", dropout=0.2):
    return Sequential([Dense(5, 8, hidden, dropout=dropout), Dense(8, 6, "tanh", init="he_uniform"),
                       Dense(6, k, out)], loss=loss, dtype=dtype, seed=3)


# ---- Sequential ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("hidden, loss, out, k", [
    ("gelu", "cross_entropy", "softmax", 3), ("elu", "binary_cross_entropy", "sigmoid", 2),
    ("softplus", "poisson", "exp", 1), ("leaky_relu", "mse", "identity", 2)])
def test_sequential_round_trip_is_bitwise(tmp_path, dtype, hidden, loss, out, k):
    X, rng = _data()
    y = {"cross_entropy": rng.integers(0, 3, 120), "binary_cross_entropy": rng.integers(0, 2, (120, 2)),
         "poisson": rng.poisson(1.0, (120, 1)), "mse": rng.standard_normal((120, 2))}[loss]
    model = _network(dtype, loss, out, k, hidden)
    model.fit(X, y, epochs=2, seed=0)
    fastbp.save(model, tmp_path / "m.safetensors")
    loaded = fastbp.load(tmp_path / "m.safetensors")
    assert_same_network(model, loaded)
    assert_bitwise(loaded.forward(X), model.forward(X), "forward")
    loaded_again, optimizer = fastbp.load(tmp_path / "m.safetensors", return_optimizer=True)
    assert optimizer is None
    assert_same_network(model, loaded_again)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("make_optimizer, schedule", [
    (lambda: fastbp.Adam(3e-3), None),
    (lambda: fastbp.SGD(0.05, momentum=0.9, nesterov=True), "invscaling"),
], ids=["adam", "sgd-nesterov-invscaling"])
def test_sequential_resumed_training_is_bitwise_uninterrupted_training(tmp_path, dtype,
                                                                        make_optimizer, schedule):
    X, rng = _data()
    y = rng.integers(0, 3, 120)
    fit = dict(batch_size=16, schedule=schedule)
    uninterrupted, opt = _network(dtype), make_optimizer()
    uninterrupted.fit(X, y, epochs=3, optimizer=opt, seed=11, **fit)
    stopped, opt_stopped = _network(dtype), make_optimizer()
    stopped.fit(X, y, epochs=3, optimizer=opt_stopped, seed=11, **fit)
    fastbp.save(stopped, tmp_path / "checkpoint.safetensors", optimizer=opt_stopped)
    del stopped, opt_stopped

    resumed, opt_resumed = fastbp.load(tmp_path / "checkpoint.safetensors",
                                       return_optimizer=True)
    assert type(opt_resumed) is type(opt) and opt_resumed.steps == opt.steps > 0
    uninterrupted.fit(X, y, epochs=2, optimizer=opt, seed=12, **fit)
    resumed.fit(X, y, epochs=2, optimizer=opt_resumed, seed=12, **fit)
    assert_same_network(uninterrupted, resumed)
    assert opt_resumed.steps == opt.steps
    for a, b in zip(opt.moments, opt_resumed.moments):
        assert_bitwise(a, b, "optimizer state")


def test_resuming_without_the_optimizer_state_differs(tmp_path):
    """The control for the test above: a fresh optimizer after loading is not the same run."""
    X, rng = _data()
    y = rng.integers(0, 3, 120)
    a, opt = _network("float64"), fastbp.Adam(3e-3)
    a.fit(X, y, epochs=2, optimizer=opt, seed=1)
    fastbp.save(a, tmp_path / "m.safetensors")
    b = fastbp.load(tmp_path / "m.safetensors")
    a.fit(X, y, epochs=1, optimizer=opt, seed=2)
    b.fit(X, y, epochs=1, optimizer=fastbp.Adam(3e-3), seed=2)
    assert not np.array_equal(a.layers[0].W, b.layers[0].W)


def test_load_can_switch_backend(tmp_path):
    X, _ = _data()
    model = _network("float64")
    fastbp.save(model, tmp_path / "m.safetensors")
    reference = fastbp.load(tmp_path / "m.safetensors", backend="numpy")
    assert reference.backend == "numpy"
    np.testing.assert_allclose(reference.forward(X), model.forward(X), rtol=1e-12)


# ---- estimators ---------------------------------------------------------------------------------
def _assert_same_estimator(a, b, X):
    assert type(a) is type(b)
    pa, pb = a.get_params(), b.get_params()
    for name in pa:
        if isinstance(pa[name], np.random.RandomState):
            assert_bitwise(pa[name].get_state()[1], pb[name].get_state()[1], "random_state")
        else:
            assert pa[name] == pb[name] and type(pa[name]) is type(pb[name]), name
    for name in ("n_features_in_", "n_iter_", "t_", "n_outputs_", "n_layers_", "out_activation_",
                 "loss_", "best_loss_", "loss_curve_", "validation_scores_",
                 "validation_loss_curve_", "best_validation_score_"):
        assert getattr(a, name, "absent") == getattr(b, name, "absent"), name
    for name in ("classes_", "feature_names_in_"):
        if hasattr(a, name):
            np.testing.assert_array_equal(getattr(b, name), getattr(a, name))
            assert getattr(b, name).dtype == getattr(a, name).dtype, name
    for i in range(len(a.coefs_)):
        assert_bitwise(a.coefs_[i], b.coefs_[i], f"coefs_[{i}]")
        assert_bitwise(a.intercepts_[i], b.intercepts_[i], f"intercepts_[{i}]")
    assert_bitwise(a.predict(X), b.predict(X), "predict")
    if hasattr(a, "predict_proba"):
        assert_bitwise(a.predict_proba(X), b.predict_proba(X), "predict_proba")


def _classification(kind, rng, n=150):
    labels = rng.integers(0, 3, n)
    return {"int": labels, "str": np.array(["cat", "dog", "émeu"])[labels],
            "bool": labels == 1, "multilabel": rng.integers(0, 2, (n, 4)),
            "int32-binary": (labels == 2).astype(np.int32) + 7}[kind]


def _round_trip(estimator, path, **options):
    fastbp.save(estimator, path, **options)
    return fastbp.load(path)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("labels", ["int", "str", "bool", "multilabel", "int32-binary"])
def test_classifier_round_trip_is_bitwise(tmp_path, dtype, labels):
    X, rng = _data(150)
    y = _classification(labels, rng)
    est = MLPClassifier((7, 5), activation="elu", max_iter=4, random_state=0,
                        class_weight=None if labels == "multilabel" else "balanced",
                        validation=labels == "int")
    est.fit(X.astype(dtype), y)
    loaded = _round_trip(est, tmp_path / "c.safetensors")
    _assert_same_estimator(est, loaded, X.astype(dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss, k, solver", [("squared_error", 1, "adam"),
                                             ("squared_error", 3, "sgd"),
                                             ("poisson", 2, "lbfgs")])
def test_regressor_round_trip_is_bitwise(tmp_path, dtype, loss, k, solver):
    X, rng = _data(150)
    y = rng.poisson(2.0, (150, k)).astype(float)
    est = MLPRegressor(loss, (6,), activation="softplus", solver=solver, max_iter=5, dtype=dtype,
                       random_state=np.random.RandomState(4), early_stopping=solver == "sgd",
                       n_iter_no_change=np.inf)
    est.fit(X, y[:, 0] if k == 1 else y)
    loaded = _round_trip(est, tmp_path / "r.safetensors", include_optimizer=True)
    _assert_same_estimator(est, loaded, X)


@pytest.mark.filterwarnings("ignore:X does not have valid feature names:UserWarning")
def test_feature_names_and_float_classes_survive(tmp_path):
    X, rng = _data(60)
    est = MLPClassifier((4,), max_iter=3, random_state=0).fit(X, rng.integers(0, 2, 60) * 1.0)
    # as a data frame's columns leave them (no data-frame library is a test dependency)
    est.feature_names_in_ = np.array(["a", "b", "c", "d", "é"], dtype=object)
    loaded = _round_trip(est, tmp_path / "c.safetensors")
    _assert_same_estimator(est, loaded, X)
    assert loaded.classes_.dtype == np.float64 and loaded.feature_names_in_.dtype == object


@pytest.mark.parametrize("cls, solver, extra", [
    (MLPClassifier, "sgd", dict(learning_rate="invscaling", momentum=0.8)),
    (MLPClassifier, "adam", dict(dropout=0.3)),
    (MLPRegressor, "sgd", dict(learning_rate="adaptive", tol=10.0, n_iter_no_change=1)),
], ids=["classifier-sgd-invscaling", "classifier-adam-dropout", "regressor-sgd-adaptive"])
def test_estimator_partial_fit_resumed_is_bitwise_uninterrupted(tmp_path, cls, solver, extra):
    X, rng = _data(150)
    y = rng.integers(0, 3, 150) if cls is MLPClassifier else rng.standard_normal(150)
    first = {"classes": np.arange(3)} if cls is MLPClassifier else {}
    make = lambda: cls(hidden_layer_sizes=(9,), solver=solver, batch_size=32,  # noqa: E731
                       learning_rate_init=0.01, random_state=5, **extra)
    uninterrupted, stopped = make(), make()
    for est in (uninterrupted, stopped):
        est.partial_fit(X, y, **first)
        est.partial_fit(X, y)
        est.partial_fit(X, y)
    resumed = _round_trip(stopped, tmp_path / "e.safetensors", include_optimizer=True)
    for est in (uninterrupted, resumed):
        est.partial_fit(X, y)
        est.partial_fit(X, y)
    _assert_same_estimator(uninterrupted, resumed, X)


def test_estimator_partial_fit_without_optimizer_state_differs(tmp_path):
    X, rng = _data(150)
    y = rng.standard_normal(150)
    est = MLPRegressor(hidden_layer_sizes=(9,), random_state=5).partial_fit(X, y).partial_fit(X, y)
    loaded = _round_trip(est, tmp_path / "e.safetensors")
    est.partial_fit(X, y)
    loaded.partial_fit(X, y)
    assert not np.array_equal(est.coefs_[0], loaded.coefs_[0])


@pytest.mark.parametrize("random_state", [3, "RandomState"])
def test_estimator_warm_start_fit_after_loading_is_bitwise(tmp_path, random_state):
    X, rng = _data(150)
    y = rng.integers(0, 3, 150)
    make = lambda: MLPClassifier((8,), max_iter=4, warm_start=True,  # noqa: E731
                                 early_stopping=True, n_iter_no_change=50,
                                 random_state=np.random.RandomState(3)
                                 if random_state == "RandomState" else random_state)
    uninterrupted, stopped = make().fit(X, y), make().fit(X, y)
    resumed = _round_trip(stopped, tmp_path / "w.safetensors", include_optimizer=True)
    uninterrupted.fit(X, y)
    resumed.fit(X, y)
    _assert_same_estimator(uninterrupted, resumed, X)
    assert len(resumed.loss_curve_) == 8


def test_loaded_estimator_pickles_and_loaded_pickle_saves(tmp_path):
    X, rng = _data(80)
    est = MLPClassifier((5,), max_iter=3, random_state=0).fit(X, rng.integers(0, 2, 80))
    loaded = pickle.loads(pickle.dumps(_round_trip(est, tmp_path / "a.safetensors")))
    again = _round_trip(loaded, tmp_path / "b.safetensors")
    _assert_same_estimator(est, again, X)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pickle_round_trip_is_bitwise(dtype):
    X, rng = _data(80)
    est = MLPRegressor(hidden_layer_sizes=(5,), max_iter=3, random_state=0, dtype=dtype).fit(X, rng.random(80))
    _assert_same_estimator(est, pickle.loads(pickle.dumps(est)), X)
    model = _network(dtype)
    clone = pickle.loads(pickle.dumps(model))
    assert_same_network(model, clone)
    assert_bitwise(clone.forward(X), model.forward(X), "forward")
    # the layers are views of the unpickled parameter vector again: training moves them
    clone.fit(X, rng.integers(0, 3, 80), epochs=1, seed=0)
    assert not np.array_equal(clone.layers[0].W, model.layers[0].W)
    assert np.shares_memory(clone.layers[0].W, clone.parameters)


# ---- what save refuses, and atomic writes -------------------------------------------------------
def test_save_refuses_what_it_cannot_store(tmp_path):
    path = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match="Sequential, MLPClassifier or MLPRegressor"):
        fastbp.save({"W": np.zeros(3)}, path)
    with pytest.raises(ValueError, match="not fitted"):
        fastbp.save(MLPClassifier(), path)
    with pytest.raises(ValueError, match="pass the one given to fit"):
        fastbp.save(_network("float32"), path, include_optimizer=True)
    with pytest.raises(TypeError, match="optimizer= is for a Sequential"):
        X, rng = _data(40)
        est = MLPRegressor(hidden_layer_sizes=(3,), max_iter=2).fit(X, rng.random(40))
        fastbp.save(est, path, optimizer=fastbp.Adam())
    other, opt = _network("float32"), fastbp.Adam()
    X, rng = _data()
    Sequential([Dense(5, 2)], dtype="float32").fit(X, rng.random((120, 2)), optimizer=opt)
    with pytest.raises(ValueError, match="used to train another model"):
        fastbp.save(other, path, optimizer=opt)
    assert not path.exists() and os.listdir(tmp_path) == []


def test_an_interrupted_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    old = _network("float32")
    fastbp.save(old, path)
    before = path.read_bytes()

    def crash(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", crash)
    new = Sequential([Dense(5, 2)], dtype="float64", seed=1)
    with pytest.raises(KeyboardInterrupt):
        fastbp.save(new, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.safetensors"]
    monkeypatch.undo()
    fastbp.save(new, path)
    assert_same_network(new, fastbp.load(path))


def test_saved_file_is_plain_safetensors_with_readable_metadata(tmp_path):
    from safetensors import safe_open

    model = _network("float32")
    fastbp.save(model, tmp_path / "m.safetensors")
    with safe_open(tmp_path / "m.safetensors", framework="numpy") as f:
        header = json.loads(f.metadata()["fastbp"])
        assert_bitwise(f.get_tensor("layers.1.W"), model.layers[1].W)
    assert header["format"] == "fastbp-model" and header["format_version"] == fmt.FORMAT_VERSION
    assert header["kind"] == "sequential" and [la["activation"] for la in header["layers"]] == \
        ["gelu", "tanh", "softmax"]


# ---- committed files of each format version -----------------------------------------------------
def _committed():
    expected = json.loads((DATA / "expected.json").read_text())
    return [(name, case) for name, case in sorted(expected["files"].items())]


@pytest.mark.parametrize("name, case", _committed(), ids=[name for name, _ in _committed()])
def test_committed_files_of_every_format_version_still_load(name, case):
    loaded = fastbp.load(DATA / name)
    X = np.array(case["X"])
    assert type(loaded).__name__ == case["type"]
    for key, expected in case["outputs"].items():
        got = loaded.forward(X) if key == "forward" else getattr(loaded, key)(X)
        expected = np.array(expected, dtype=got.dtype if key != "predict" else None)
        if got.dtype.kind == "f":
            # BLAS and thread count change the last bits of a sum, not the file's numbers
            np.testing.assert_allclose(got, expected, rtol=case["rtol"], atol=case["rtol"])
        else:
            np.testing.assert_array_equal(got, expected)
    pairs = ([(layer.W, layer.b) for layer in loaded.layers] if hasattr(loaded, "layers")
             else list(zip(loaded.coefs_, loaded.intercepts_)))
    assert parameter_digest(pairs) == case["parameters_sha256"]


def test_every_format_version_up_to_this_one_has_a_committed_file():
    versions = {case["format_version"] for _, case in _committed()}
    assert versions == set(range(1, fmt.FORMAT_VERSION + 1))
    kinds = {name.split("-", 1)[1].split(".")[0] for name, _ in _committed()}
    assert kinds == set(fmt.KINDS)


def test_load_refuses_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        fastbp.load(tmp_path / "nope.safetensors")
    with pytest.raises(TypeError, match="return_optimizer applies to a saved Sequential"):
        fastbp.load(DATA / "v1-mlp_regressor.safetensors", return_optimizer=True)
    assert issubclass(ModelFileError, ValueError)


def test_save_and_load_methods_round_trip_and_refuse_the_wrong_kind(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    model = Sequential([Dense(3, 4, "tanh"), Dense(4, 2, "softmax")], loss="cross_entropy",
                       dtype="float64", seed=0)
    optimizer = fastbp.Adam(1e-2)
    model.fit(X, y, epochs=2, batch_size=8, optimizer=optimizer, seed=0)
    model.save(tmp_path / "net.safetensors", optimizer=optimizer)
    loaded, loaded_optimizer = Sequential.load(tmp_path / "net.safetensors", return_optimizer=True)
    assert_bitwise(loaded.forward(X), model.forward(X), "network method round trip")
    assert loaded_optimizer.steps == optimizer.steps
    clf = MLPClassifier((5,), max_iter=5, random_state=0).fit(X, y)
    clf.save(tmp_path / "clf.safetensors")
    assert_bitwise(MLPClassifier.load(tmp_path / "clf.safetensors").predict_proba(X),
                   clf.predict_proba(X), "estimator method round trip")
    with pytest.raises(TypeError, match="holds a MLPClassifier, not a Sequential"):
        Sequential.load(tmp_path / "clf.safetensors")
    with pytest.raises(TypeError, match="holds a Sequential, not a MLPRegressor"):
        MLPRegressor.load(tmp_path / "net.safetensors")
