"""fastbp.to_onnx and the skl2onnx converters, with onnxruntime as the oracle.

Every exported model must pass ``onnx.checker`` (full check, with shape inference) and give, on
random inputs, the outputs fastbp gives: probabilities and values within ``rtol`` of the largest
magnitude (1e-5 in float32, 1e-12 in float64), labels equal.
"""

import numpy as np
import onnx
import onnxruntime
import pytest
import skl2onnx
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastbp
from fastbp import Dense, MLPClassifier, MLPRegressor, Sequential
from fastbp.io import register_skl2onnx
from fastbp.io.onnx_graph import GELU_OPSET
from helpers import HIDDEN_ACTIVATIONS, assert_close

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def run(model, X):
    """Check ``model`` and run it in onnxruntime on ``X``; returns its outputs by name."""
    onnx.checker.check_model(model, full_check=True)
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, {session.get_inputs()[0].name: X})))


def _inputs(dtype, n=257, d=6, seed=0, scale=2.0):
    return (scale * np.random.default_rng(seed).standard_normal((n, d))).astype(dtype)


# ---- Sequential: every activation, every output ---------------------------------------------
#: onnxruntime's CPU provider has no float64 Erf or Gelu (see test_float64_gelu_...).
CASES = [(hidden, dtype) for hidden in HIDDEN_ACTIVATIONS for dtype in (np.float32, np.float64)
         if (hidden, dtype) != ("gelu", np.float64)]


@pytest.mark.parametrize("opset", [17, GELU_OPSET])
@pytest.mark.parametrize("hidden, dtype", CASES,
                         ids=[f"{h}-{np.dtype(d).name}" for h, d in CASES])
def test_every_hidden_activation_matches_onnxruntime(hidden, dtype, opset):
    model = Sequential([Dense(6, 16, hidden), Dense(16, 9, hidden), Dense(9, 4, "identity")],
                       dtype=dtype, seed=1)
    X = _inputs(dtype)
    outputs = run(fastbp.to_onnx(model, opset=opset), X)
    assert outputs["output"].dtype == dtype
    assert_close(outputs["output"], model.forward(X), RTOL[np.dtype(dtype)], hidden)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("out, loss", [("softmax", "cross_entropy"),
                                       ("sigmoid", "binary_cross_entropy"),
                                       ("identity", "squared_error"), ("exp", "poisson")])
def test_every_output_activation_matches_onnxruntime(out, loss, dtype):
    model = Sequential([Dense(6, 12, "tanh"), Dense(12, 3, out)], loss=loss, dtype=dtype, seed=2)
    X = _inputs(dtype)
    outputs = run(fastbp.to_onnx(model), X)
    assert_close(outputs["output"], model.forward(X), RTOL[np.dtype(dtype)], out)


@pytest.mark.parametrize("opset", [17, GELU_OPSET])
def test_float64_gelu_is_valid_onnx_and_runs_in_onnxruntime_as_float32(opset):
    model = Sequential([Dense(6, 16, "gelu"), Dense(16, 3, "gelu"), Dense(3, 2)],
                       dtype="float64", seed=1)
    exported = fastbp.to_onnx(model, opset=opset)
    onnx.checker.check_model(exported, full_check=True)
    assert exported.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    X = _inputs(np.float64)
    outputs = run(fastbp.to_onnx(model, opset=opset, dtype="float32"), X.astype(np.float32))
    assert_close(outputs["output"], model.forward(X), 1e-5, "gelu as float32")


@pytest.mark.parametrize("opset, present, absent", [(17, "Erf", "Gelu"),
                                                    (GELU_OPSET, "Gelu", "Erf")])
def test_gelu_uses_its_operator_from_opset_20_and_its_erf_formula_before(opset, present, absent):
    model = Sequential([Dense(3, 4, "gelu"), Dense(4, 1)], seed=0)
    exported = fastbp.to_onnx(model, opset=opset)
    ops = {node.op_type for node in exported.graph.node}
    assert present in ops and absent not in ops
    assert exported.opset_import[0].version == opset


# ---- estimators -----------------------------------------------------------------------------
def _labels(kind, rng, X):
    """Labels that depend on ``X``, so that a short fit predicts more than one class."""
    n = len(X)
    labels = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    return {"multiclass-str": np.array(["setosa", "versicolor", "virginica"])[labels],
            "multiclass-int": labels * 10 - 5, "binary-int": (labels == 0).astype(int),
            "binary-bool": labels == 1, "multilabel": (X[:, :4] + rng.standard_normal((n, 4)) > 0).astype(int)}[kind]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["multiclass-str", "multiclass-int", "binary-int",
                                  "binary-bool", "multilabel"])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu", "gelu", "softplus",
                                        "logistic"])
def test_classifier_labels_and_probabilities_match_onnxruntime(activation, kind, dtype):
    rng = np.random.default_rng(0)
    X = _inputs(dtype)
    est = MLPClassifier((8, 5), activation=activation, max_iter=40, learning_rate_init=0.03,
                        random_state=0).fit(X, _labels(kind, rng, X))
    # onnxruntime has no float64 Erf: such a model is served as float32
    served = np.float32 if (activation, dtype) == ("gelu", np.float64) else dtype
    outputs = run(fastbp.to_onnx(est, dtype=served), X.astype(served))
    assert list(outputs) == ["label", "probabilities"]
    assert_close(outputs["probabilities"], est.predict_proba(X), RTOL[np.dtype(served)], kind)
    expected = est.predict(X)
    label = outputs["label"]
    assert label.shape == expected.shape
    assert label.dtype == (object if kind == "multiclass-str" else np.int64)
    # equal labels: no probability here lies within rounding of a tie
    np.testing.assert_array_equal(label, expected.astype(label.dtype))
    assert len(np.unique(expected)) > 1, "a constant prediction would test little"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss, k", [("squared_error", 1), ("squared_error", 3), ("poisson", 2)])
def test_regressor_matches_onnxruntime(loss, k, dtype):
    rng = np.random.default_rng(1)
    X = _inputs(dtype, scale=1.0)
    y = rng.poisson(2.0, (len(X), k)).astype(float)
    est = MLPRegressor(loss, (7,), activation="elu", max_iter=10, random_state=0).fit(
        X, y[:, 0] if k == 1 else y)
    outputs = run(fastbp.to_onnx(est), X)
    assert list(outputs) == ["variable"] and outputs["variable"].shape == (len(X), k)
    assert_close(outputs["variable"], est.predict(X).reshape(len(X), k), RTOL[np.dtype(dtype)])


def test_to_onnx_refuses_unfitted_estimators_and_non_integral_float_classes():
    with pytest.raises(ValueError, match="not fitted"):
        fastbp.to_onnx(MLPClassifier())
    from fastbp.io.onnx_graph import label_values

    # scikit-learn's fit refuses such labels today; the exporter does not rely on it
    with pytest.raises(ValueError, match="not integral"):
        label_values(np.array([0.5, 1.5]))
    assert label_values(np.array([0.0, 2.0])).dtype == np.int64


# ---- skl2onnx -------------------------------------------------------------------------------
@pytest.fixture(scope="module", autouse=True)
def registered():
    register_skl2onnx()
    register_skl2onnx()  # twice is harmless


@pytest.mark.parametrize("activation", ["gelu", "softplus", "tanh"])
@pytest.mark.parametrize("kind", ["multiclass-str", "binary-int", "multilabel"])
def test_skl2onnx_converts_a_pipeline_with_a_fastbp_classifier(kind, activation):
    rng = np.random.default_rng(3)
    X = (_inputs(np.float32) * 5 + 3).astype(np.float32)  # the scaler has work to do
    pipeline = make_pipeline(StandardScaler(), MLPClassifier(
        (8,), activation=activation, max_iter=15, random_state=0, dtype="float32"))
    pipeline.fit(X, _labels(kind, rng, X))
    classifier = pipeline.steps[-1][1]
    plain = skl2onnx.to_onnx(pipeline, X[:1], options={id(classifier): {"zipmap": False}})
    outputs = run(plain, X)
    assert_close(outputs["probabilities"], pipeline.predict_proba(X), 1e-5, "probabilities")
    np.testing.assert_array_equal(outputs["label"], pipeline.predict(X))
    if kind != "multilabel":  # skl2onnx's ZipMap takes one class per row
        zipped = run(skl2onnx.to_onnx(pipeline, X[:1]), X)
        rows = zipped["output_probability"]
        table = np.array([[row[c] for c in classifier.classes_] for row in rows])
        assert_close(table, pipeline.predict_proba(X), 1e-5, "zipmap")
        np.testing.assert_array_equal(zipped["output_label"], pipeline.predict(X))


def test_skl2onnx_nocl_gives_class_indices():
    X = _inputs(np.float32)
    y = _labels("multiclass-str", np.random.default_rng(0), X)
    est = MLPClassifier((5,), max_iter=10, random_state=0).fit(X, y)
    outputs = run(skl2onnx.to_onnx(est, X[:1], options={"zipmap": False, "nocl": True}), X)
    np.testing.assert_array_equal(outputs["label"], np.searchsorted(est.classes_, est.predict(X)))


@pytest.mark.parametrize("input_dtype", [np.float32, np.float64])
def test_skl2onnx_converts_a_pipeline_with_a_fastbp_regressor(input_dtype):
    rng = np.random.default_rng(4)
    X = _inputs(np.float64) * 3 + 1
    pipeline = make_pipeline(StandardScaler(), MLPRegressor(
        hidden_layer_sizes=(9,), activation="leaky_relu", max_iter=15, random_state=0))
    pipeline.fit(X, rng.standard_normal((len(X), 2)))
    outputs = run(skl2onnx.to_onnx(pipeline, X[:1].astype(input_dtype)), X.astype(input_dtype))
    # a float tensor type makes skl2onnx compute the whole pipeline in float32
    assert_close(outputs["variable"], pipeline.predict(X), RTOL[np.dtype(input_dtype)] * 10)
