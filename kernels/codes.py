"""Integer codes shared by every kernel backend, and the facts the callers need about them.

Kernels take activations and losses as small integers so that compiled code can branch on them
without string handling. This module imports nothing but the standard library, so both the NumPy
oracle and the compiled backends (and ``fastbp``) can share one table.
"""

IDENTITY = 0
SIGMOID = 1
TANH = 2
RELU = 3
LEAKY_RELU = 4
ELU = 5
GELU = 6
SOFTPLUS = 7
SOFTMAX = 8
EXP = 9

ACTIVATION_CODES = {
    "identity": IDENTITY,
    "sigmoid": SIGMOID,
    "tanh": TANH,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
    "elu": ELU,
    "gelu": GELU,
    "softplus": SOFTPLUS,
    "softmax": SOFTMAX,
    "exp": EXP,
}
ACTIVATION_NAMES = {code: name for name, code in ACTIVATION_CODES.items()}

#: Negative-side slope of ``leaky_relu`` (PyTorch's and Keras's default).
LEAKY_RELU_SLOPE = 0.01

#: GELU's derivative needs the pre-activation; every other activation's is computed from its output
#: (sigma' = a(1-a), tanh' = 1-a^2, relu' = [a>0], elu' = a+1 below zero, softplus' = 1-exp(-a),
#: exp' = a).
#:
#: Like softmax, ``exp`` is output-only (scikit-learn's Poisson output): unbounded growth makes it a
#: poor hidden activation, and a model refuses it anywhere but the last layer.
NEEDS_PREACTIVATION = (GELU,)

SQUARED_ERROR = 0
MSE = 1
CROSS_ENTROPY = 2
BINARY_CROSS_ENTROPY = 3
POISSON = 4

LOSS_CODES = {
    "squared_error": SQUARED_ERROR,
    "mse": MSE,
    "cross_entropy": CROSS_ENTROPY,
    "binary_cross_entropy": BINARY_CROSS_ENTROPY,
    "poisson": POISSON,
}
LOSS_NAMES = {code: name for name, code in LOSS_CODES.items()}

#: Losses evaluated in logits form from the output layer's pre-activation (log-sum-exp and
#: log1p(exp(-|z|)), never log of a probability; Poisson as ``exp(z) - y z``, never log of a rate).
#: For these, ``loss_backward`` returns the gradient with respect to that pre-activation (the fused
#: softmax/sigmoid/exp delta ``w * (a - y)``), so the output layer's ``dense_backward`` must run with
#: ``IDENTITY``.
#:
#: ``poisson`` is scikit-learn's half Poisson deviance, summed over outputs:
#: ``exp(z) - y z + (xlogy(y, y) - y)`` per element; the bracket does not depend on the network and
#: makes the value equal scikit-learn's (0 at a perfect fit). Targets must be non-negative.
LOGIT_LOSSES = (CROSS_ENTROPY, BINARY_CROSS_ENTROPY, POISSON)  # a tuple: compiled code tests it

#: The output activation each logits-form loss is fused with.
LOGIT_LOSS_ACTIVATION = {CROSS_ENTROPY: SOFTMAX, BINARY_CROSS_ENTROPY: SIGMOID, POISSON: EXP}

SGD = 0
ADAM = 1

OPTIMIZER_CODES = {"sgd": SGD, "adam": ADAM}
