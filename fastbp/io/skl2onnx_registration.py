"""fastbp's estimators as skl2onnx converters, so ``skl2onnx.to_onnx(pipeline)`` converts a
pipeline that holds one (``fastbp[onnx]``).

Call :func:`register_skl2onnx` once per process before converting. The converters emit the same
operators as :func:`fastbp.to_onnx` and lay the outputs out as skl2onnx's converters for
scikit-learn's MLPs do: a classifier's ``label`` and ``probabilities`` (followed by skl2onnx's
ZipMap unless the ``zipmap`` option is False), a regressor's ``variable``. The graph computes in
the precision of its input tensor type (float or double), like skl2onnx's own MLP converters.
"""

import numpy as np

from . import onnx_graph, state
from .onnx_export import network_layers

_REGISTERED = False


class ContainerSink:
    """Writes nodes and initializers into skl2onnx's container (see :mod:`.onnx_graph`)."""

    def __init__(self, scope, container):
        self.scope, self.container = scope, container

    def name(self, hint):
        return self.scope.get_unique_variable_name(hint)

    def constant(self, hint, array):
        from onnx import TensorProto, helper

        name, array = self.name(hint), np.asarray(array)
        if array.dtype == object:
            self.container.add_initializer(name, TensorProto.STRING, list(array.shape),
                                           [str(v).encode("utf-8") for v in array])
        else:
            self.container.add_initializer(name, helper.np_dtype_to_tensor_dtype(array.dtype),
                                           list(array.shape), array.ravel().tolist())
        return name

    def node(self, op, inputs, outputs, domain="", **attributes):
        self.container.add_node(op, inputs, outputs, op_domain=domain,
                                name=self.scope.get_unique_operator_name(op), **attributes)


def _precision(operator):
    """(numpy dtype, ONNX element type) the converted graph computes in: its input's."""
    from skl2onnx.common.data_types import DoubleTensorType

    if isinstance(operator.inputs[0].type, DoubleTensorType):
        return np.dtype(np.float64), 11
    return np.dtype(np.float32), 1


def _forward(scope, operator, container):
    sink = ContainerSink(scope, container)
    dtype, element = _precision(operator)
    x = sink.name("cast_input")
    sink.node("Cast", [operator.inputs[0].full_name], [x], to=element)
    layers, _, _ = network_layers(operator.raw_operator)
    opset = container.target_opset or onnx_graph.GELU_OPSET
    return sink, onnx_graph.emit_network(sink, x, layers, dtype, opset), dtype


def _classes(scope, est):
    """The labels the ``label`` output holds: the classes, or their indices with ``nocl``."""
    if scope.get_options(est, dict(nocl=False))["nocl"]:
        return np.arange(len(est.classes_))
    return est.classes_


def _convert_classifier(scope, operator, container):
    sink, output, dtype = _forward(scope, operator, container)
    est = operator.raw_operator
    classes = _classes(scope, est)
    onnx_graph.emit_classifier(sink, output, classes, state.label_binarizer(est)["y_type"],
                               (operator.outputs[0].full_name, operator.outputs[1].full_name),
                               dtype)


def _convert_regressor(scope, operator, container):
    sink, output, _ = _forward(scope, operator, container)
    sink.node("Identity", [output], [operator.outputs[0].full_name])


def _classifier_shapes(operator):
    from skl2onnx.common.data_types import (DoubleTensorType, FloatTensorType, Int64TensorType,
                                            StringTensorType)

    est = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    text = onnx_graph.label_values(_classes(operator.scope_inst, est)).dtype == object
    multilabel = state.label_binarizer(est)["y_type"] == "multilabel-indicator"
    label_type = StringTensorType if text else Int64TensorType
    operator.outputs[0].type = label_type([n, est.n_outputs_] if multilabel else [n])
    proba_type = DoubleTensorType if _precision(operator)[1] == 11 else FloatTensorType
    operator.outputs[1].type = proba_type([n, len(est.classes_)])


def _regressor_shapes(operator):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    n = operator.inputs[0].get_first_dimension()
    output_type = DoubleTensorType if _precision(operator)[1] == 11 else FloatTensorType
    operator.outputs[0].type = output_type([n, operator.raw_operator.n_outputs_])


def register_skl2onnx():
    """Register :class:`fastbp.MLPClassifier` and :class:`fastbp.MLPRegressor` with skl2onnx.

    Idempotent. Afterwards ``skl2onnx.to_onnx(pipeline, X[:1])`` converts pipelines holding
    them; classifiers take skl2onnx's ``zipmap`` option (``{id(estimator): {"zipmap": False}}``
    gives a plain ``probabilities`` tensor) and ``nocl`` (class indices as labels).
    """
    global _REGISTERED
    if _REGISTERED:
        return
    from skl2onnx import update_registered_converter

    from ..estimators import MLPClassifier, MLPRegressor

    update_registered_converter(MLPClassifier, "FastbpMLPClassifier", _classifier_shapes,
                                _convert_classifier, options={"zipmap": [True, False, "columns"],
                                         "nocl": [True, False]})
    update_registered_converter(MLPRegressor, "FastbpMLPRegressor", _regressor_shapes,
                                _convert_regressor)
    _REGISTERED = True
