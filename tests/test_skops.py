"""skops.io.dump/load of fastbp's estimators and networks with fastbp's types as trusted."""

import numpy as np
import pytest
import skops.io

import fastbp
from fastbp import Dense, MLPClassifier, MLPRegressor, Sequential
from fastbp.io import skops_support
from test_model_files import _assert_same_estimator, assert_bitwise, assert_same_network

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _data(n=120):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 5)), rng


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_estimator_round_trip_is_bitwise_with_fastbp_types_trusted(tmp_path, cls, dtype):
    X, rng = _data()
    y = np.array(["x", "y", "z"])[rng.integers(0, 3, 120)] if cls is MLPClassifier \
        else rng.standard_normal((120, 2))
    est = cls(hidden_layer_sizes=(7,), solver="sgd", max_iter=4, random_state=0, dtype=dtype)
    est.fit(X, y)
    path = tmp_path / "est.skops"
    skops.io.dump(est, path)
    untrusted = skops.io.get_untrusted_types(file=path)
    assert untrusted and set(untrusted) <= set(skops_support.TRUSTED_TYPES)
    loaded = skops_support.load(path)
    _assert_same_estimator(est, loaded, X)
    # the optimizer came along: partial_fit continues bitwise as it would have
    est.partial_fit(X, y)
    loaded.partial_fit(X, y)
    _assert_same_estimator(est, loaded, X)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sequential_round_trip_is_bitwise(tmp_path, dtype):
    X, rng = _data()
    model = Sequential([Dense(5, 6, "elu", dropout=0.1), Dense(6, 3, "softmax")],
                       loss="cross_entropy", dtype=dtype, seed=0)
    model.fit(X, rng.integers(0, 3, 120), epochs=2, seed=0)
    skops.io.dump(model, tmp_path / "m.skops")
    loaded = skops_support.load(tmp_path / "m.skops")
    assert_same_network(model, loaded)
    assert_bitwise(loaded.forward(X), model.forward(X))
    assert np.shares_memory(loaded.layers[0].W, loaded.parameters)


def test_skops_refuses_fastbp_types_unless_trusted(tmp_path):
    X, rng = _data()
    est = MLPRegressor(hidden_layer_sizes=(3,), max_iter=2).fit(X, rng.random(120))
    skops.io.dump(est, tmp_path / "r.skops")
    with pytest.raises(skops.io.exceptions.UntrustedTypesFoundException):
        skops.io.load(tmp_path / "r.skops")
    assert isinstance(fastbp.io.skops_support.load(tmp_path / "r.skops"), MLPRegressor)
