"""The ONNX operators of a fastbp network, written to any graph sink.

One set of functions emits the network and the estimators' outputs; a sink decides where the nodes
go: a plain ``onnx.GraphProto`` (:mod:`.onnx_export`) or skl2onnx's container inside a converted
pipeline (:mod:`.skl2onnx_registration`). The classifier outputs follow skl2onnx's layout for
scikit-learn's ``MLPClassifier`` (``zipmap=False``): ``label``, int64 for integer, boolean and
integral float classes or string for text classes, shape (N,) or (N, n_labels) for multilabel
targets, and ``probabilities`` (N, n_classes), a binary model's as ``[1 - p, p]``.
"""

import math

import numpy as np

from ..kernels import codes

#: The first opset with a ``Gelu`` operator; below it GELU is written as its erf formula.
GELU_OPSET = 20


def _activation(sink, x, activation, dtype, opset):
    """Emit ``activation`` applied to ``x``; returns the output's name."""
    if activation == "identity":
        return x
    out = sink.name(activation)
    simple = {"sigmoid": ("Sigmoid", {}), "tanh": ("Tanh", {}), "relu": ("Relu", {}),
              "leaky_relu": ("LeakyRelu", {"alpha": codes.LEAKY_RELU_SLOPE}),
              "elu": ("Elu", {"alpha": 1.0}), "softplus": ("Softplus", {}),
              "softmax": ("Softmax", {"axis": -1}), "exp": ("Exp", {})}
    if dtype != np.float32 and activation in _DOUBLE_FORMULAS:
        _DOUBLE_FORMULAS[activation](sink, x, out, dtype)
    elif activation in simple:
        op, attributes = simple[activation]
        sink.node(op, [x], [out], **attributes)
    elif activation == "gelu" and opset >= GELU_OPSET:
        sink.node("Gelu", [x], [out], approximate="none")
    elif activation == "gelu":
        # 0.5 * x * (1 + erf(x / sqrt(2))), the exact GELU fastbp computes
        scaled, erf, shifted, half = (sink.name(n) for n in ("scaled", "erf", "shifted", "half"))
        sink.node("Mul", [x, sink.constant("inv_sqrt2", np.array(1 / math.sqrt(2), dtype))],
                  [scaled])
        sink.node("Erf", [scaled], [erf])
        sink.node("Add", [erf, sink.constant("one", np.array(1, dtype))], [shifted])
        sink.node("Mul", [x, sink.constant("half", np.array(0.5, dtype))], [half])
        sink.node("Mul", [half, shifted], [out])
    else:
        raise ValueError(f"no ONNX form for activation {activation!r}")
    return out


def _leaky_relu(sink, x, out, dtype):
    # LeakyRelu's alpha attribute is a float32: 0.01 rounded to it is off by 2e-9, which a float64
    # model would see; max(x, 0.01 x) is the same function for a slope below 1
    scaled = sink.name("leaky_scaled")
    sink.node("Mul", [x, sink.constant("slope", np.array(codes.LEAKY_RELU_SLOPE, dtype))],
              [scaled])
    sink.node("Max", [x, scaled], [out])


def _elu(sink, x, out, dtype):
    # exp(min(x, 0)) - 1 below zero, x above
    zero, one = (sink.constant(n, np.array(v, dtype)) for n, v in (("zero", 0), ("one", 1)))
    low, e, em1, positive = (sink.name(n) for n in ("low", "exp", "expm1", "positive"))
    sink.node("Min", [x, zero], [low])
    sink.node("Exp", [low], [e])
    sink.node("Sub", [e, one], [em1])
    sink.node("Greater", [x, zero], [positive])
    sink.node("Where", [positive, x, em1], [out])


def _softplus(sink, x, out, dtype):
    # max(x, 0) + log(1 + exp(-|x|)): no exp of a large positive number
    zero, one = (sink.constant(n, np.array(v, dtype)) for n, v in (("zero", 0), ("one", 1)))
    names = [sink.name(n) for n in ("relu", "abs", "neg", "exp", "plus1", "log")]
    relu, absolute, negative, e, shifted, log = names
    sink.node("Max", [x, zero], [relu])
    sink.node("Abs", [x], [absolute])
    sink.node("Neg", [absolute], [negative])
    sink.node("Exp", [negative], [e])
    sink.node("Add", [e, one], [shifted])
    sink.node("Log", [shifted], [log])
    sink.node("Add", [relu, log], [out])


#: Activations written as formulas in float64 graphs: onnxruntime's CPU provider implements Elu
#: and Softplus for float32 only, and LeakyRelu's slope attribute is a float32.
_DOUBLE_FORMULAS = {"leaky_relu": _leaky_relu, "elu": _elu, "softplus": _softplus}


def emit_network(sink, x, layers, dtype, opset):
    """Emit ``act(x @ W + b)`` for each layer.

    Parameters
    ----------
    sink : object with ``name(hint)``, ``constant(hint, array)`` and ``node(op, inputs, outputs,
        domain="", **attributes)``
    x : str
        Name of the input, shape (N, n_inputs), of ``dtype``.
    layers : list of (ndarray (n_in, n_out), ndarray (n_out,), str)
        Each layer's weights, biases and activation name.
    dtype : numpy dtype
        The precision the graph computes in; weights are converted to it.
    opset : int

    Returns
    -------
    str
        Name of the output, shape (N, n_outputs).
    """
    for i, (W, b, activation) in enumerate(layers):
        product, z = sink.name(f"matmul_{i}"), sink.name(f"z_{i}")
        sink.node("MatMul", [x, sink.constant(f"W_{i}", np.asarray(W, dtype))], [product])
        sink.node("Add", [product, sink.constant(f"b_{i}", np.asarray(b, dtype))], [z])
        x = _activation(sink, z, activation, dtype, opset)
    return x


def label_values(classes):
    """The classes as the ``label`` output holds them: int64, or str for text classes."""
    classes = np.asarray(classes)
    if classes.dtype.kind in "OU":
        return np.array([str(c) for c in classes], dtype=object)
    if classes.dtype.kind == "f" and not np.all(classes == np.round(classes)):
        raise ValueError(f"classes {classes.tolist()} are not integral: skl2onnx's label output "
                         f"is int64 and cannot hold them")
    return classes.astype(np.int64)


def emit_classifier(sink, output, classes, y_type, names, dtype):
    """Emit ``label`` and ``probabilities`` from the network's output (N, n_outputs).

    Parameters
    ----------
    classes : ndarray, shape (n_classes,)
    y_type : {"binary", "multiclass", "multilabel-indicator"}
    names : (str, str)
        Names of the label and probabilities outputs.
    """
    label, probabilities = names
    if y_type == "binary":
        negative = sink.name("negative")
        sink.node("Sub", [sink.constant("one", np.array([[1]], dtype)), output], [negative])
        sink.node("Concat", [negative, output], [probabilities], axis=1)
    else:
        sink.node("Identity", [output], [probabilities])
    if y_type == "multilabel-indicator":
        above = sink.name("above_half")
        # LabelBinarizer's rule: a label is on where its probability exceeds 0.5
        sink.node("Greater", [output, sink.constant("threshold", np.array(0.5, dtype))], [above])
        sink.node("Cast", [above], [label], to=7)  # int64
        return
    index = sink.name("class_index")
    sink.node("ArgMax", [probabilities], [index], axis=1, keepdims=0)
    sink.node("Gather", [sink.constant("classes", label_values(classes)), index], [label], axis=0)
