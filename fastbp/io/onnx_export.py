"""``to_onnx``: a fastbp network or estimator as an ``onnx.ModelProto`` (``fastbp[onnx]``)."""

import numpy as np

from ..names import activation_name
from . import onnx_graph, state
from .model_types import check_model

#: Opset of the exported graph unless told otherwise: old enough for most runtimes. GELU needs 20
#: for its own operator and is written as its erf formula below that.
DEFAULT_OPSET = 17

#: Output names, as skl2onnx names scikit-learn's MLP outputs.
LABEL, PROBABILITIES, VARIABLE, OUTPUT = "label", "probabilities", "variable", "output"


class GraphSink:
    """Collects nodes and initializers for an ``onnx.GraphProto`` (see :mod:`.onnx_graph`)."""

    def __init__(self):
        from onnx import helper, numpy_helper

        self._helper, self._numpy_helper = helper, numpy_helper
        self.nodes, self.initializers, self._used = [], [], set()

    def name(self, hint):
        name, n = hint, 1
        while name in self._used:
            name, n = f"{hint}_{n}", n + 1
        self._used.add(name)
        return name

    def constant(self, hint, array):
        name = self.name(hint)
        self.initializers.append(self._numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, outputs, domain="", **attributes):
        self.nodes.append(self._helper.make_node(op, inputs, outputs, name=self.name(op.lower()),
                                                 domain=domain, **attributes))


def network_layers(obj):
    """``[(W, b, activation), ...]``, the input width and the dtype of a Sequential or fitted
    estimator, read through public attributes."""
    if hasattr(obj, "layers"):
        layers = [(layer.W, layer.b, layer.activation) for layer in obj.layers]
        return layers, obj.n_inputs, obj.dtype
    if not hasattr(obj, "coefs_"):
        raise ValueError(f"this {type(obj).__name__} is not fitted yet: call fit before "
                         f"exporting it")
    last = len(obj.coefs_) - 1
    layers = [(W, b, activation_name(obj.out_activation_ if i == last else obj.activation))
              for i, (W, b) in enumerate(zip(obj.coefs_, obj.intercepts_))]
    return layers, obj.coefs_[0].shape[0], np.asarray(obj.coefs_[0]).dtype


def to_onnx(obj, *, opset=DEFAULT_OPSET, dtype=None, name=None):
    """Export a network or a fitted estimator to ONNX.

    Parameters
    ----------
    obj : Sequential, MLPClassifier or MLPRegressor
    opset : int, default=17
        ONNX opset of the graph (GELU uses the ``Gelu`` operator from 20 on, its erf formula
        below).
    dtype : {"float32", "float64"} or None
        Precision of the graph (input, weights, outputs); None keeps the model's. onnxruntime's
        CPU provider has no float64 ``Erf`` or ``Gelu``: a float64 GELU network exports as valid
        ONNX that it cannot run, so export such a network with ``dtype="float32"`` to serve it
        there. (The other activations run in both precisions.)
    name : str, optional
        The graph's name (default: the object's class name).

    Returns
    -------
    onnx.ModelProto
        Input ``X``, shape (N, n_features), in the model's dtype. Outputs: a Sequential's
        ``output`` (N, n_outputs); a classifier's ``label`` (N,) (int64, or string for text
        classes; (N, n_labels) for multilabel targets) and ``probabilities`` (N, n_classes); a
        regressor's ``variable`` (N, n_outputs). These are skl2onnx's names and types for
        scikit-learn's MLPs (with ``zipmap=False``).

    Raises
    ------
    TypeError
        For an object of another type (a path included: :func:`fastbp.load` it first); the
        message names its type.
    ValueError
        For an estimator that is not fitted.
    """
    check_model(obj, "to_onnx")
    from onnx import TensorProto, helper

    layers, n_inputs, model_dtype = network_layers(obj)
    dtype = np.dtype(model_dtype if dtype is None else dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64; got {dtype}")
    element = helper.np_dtype_to_tensor_dtype(dtype)
    sink = GraphSink()
    sink.name("X")
    output = onnx_graph.emit_network(sink, "X", layers, dtype, opset)
    n_out = layers[-1][0].shape[1]
    kind = type(obj).__name__
    if kind == "MLPClassifier":
        y_type = state.label_binarizer(obj)["y_type"]
        onnx_graph.emit_classifier(sink, output, obj.classes_, y_type, (LABEL, PROBABILITIES),
                                   dtype)
        text = onnx_graph.label_values(obj.classes_).dtype == object
        label_type = TensorProto.STRING if text else TensorProto.INT64
        multilabel = y_type == "multilabel-indicator"
        outputs = [helper.make_tensor_value_info(LABEL, label_type,
                                                 ["N", n_out] if multilabel else ["N"]),
                   helper.make_tensor_value_info(PROBABILITIES, element,
                                                 ["N", len(obj.classes_)])]
    else:
        target = VARIABLE if kind == "MLPRegressor" else OUTPUT
        sink.node("Identity", [output], [target])
        outputs = [helper.make_tensor_value_info(target, element, ["N", n_out])]
    graph = helper.make_graph(sink.nodes, name or kind, [
        helper.make_tensor_value_info("X", element, ["N", n_inputs])], outputs,
        initializer=sink.initializers)
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="fastbp",
                              ir_version=helper.find_min_ir_version_for(opsets))
    from .. import __version__

    model.producer_version = __version__
    return model
