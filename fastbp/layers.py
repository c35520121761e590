"""The dense layer: its shape, activation and parameters."""

import numbers

import numpy as np

from .initializers import default_initializer, initializer_name
from .names import activation_name


def _positive_int(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer; got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value}")
    return int(value)


class Dense:
    """A fully connected layer ``a = act(x @ W + b)``.

    Parameters
    ----------
    n_in : int
        Width of the layer's input.
    n_out : int
        Number of units.
    activation : str, default="identity"
        One of ``identity, sigmoid (alias logistic), tanh, relu, leaky_relu, elu, gelu, softplus,
        softmax``; softmax only on a model's last layer.
    init : {"glorot_uniform", "he_uniform"} or None
        Initialiser; None picks He for the ReLU family and Glorot otherwise.

    Attributes
    ----------
    W : ndarray, shape (n_in, n_out)
        Weights, in the model's dtype once the layer belongs to a model. Assignable.
    b : ndarray, shape (n_out,)
        Biases. Assignable.
    """

    def __init__(self, n_in, n_out, activation="identity", init=None):
        self.n_in = _positive_int("n_in", n_in)
        self.n_out = _positive_int("n_out", n_out)
        self.activation = activation_name(activation)
        self.init = default_initializer(self.activation) if init is None else initializer_name(init)
        self._dtype = None
        self._W = None
        self._b = None

    @property
    def n_params(self):
        """``n_in * n_out + n_out``."""
        return self.n_in * self.n_out + self.n_out

    @property
    def W(self):
        return self._W

    @W.setter
    def W(self, value):
        self._W = self._checked("W", value, (self.n_in, self.n_out))

    @property
    def b(self):
        return self._b

    @b.setter
    def b(self, value):
        self._b = self._checked("b", value, (self.n_out,))

    def _checked(self, name, value, shape):
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a real numeric array; got dtype {array.dtype}")
        if array.shape != shape:
            raise ValueError(f"{name} must have shape {shape} for Dense({self.n_in}, {self.n_out}); "
                             f"got {array.shape}")
        array = np.array(array, dtype=self._dtype or np.float64, order="C")  # always a copy we own
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} contains NaN or infinity (after conversion to {array.dtype})")
        return array

    def _build(self, rng, dtype, draw):
        """Fix the layer's dtype and draw any parameters the user has not assigned."""
        self._dtype = np.dtype(dtype)
        W, b = draw(rng, self.n_in, self.n_out, self.activation, self.init, self._dtype)
        self.W = W if self._W is None else self._W
        self.b = b if self._b is None else self._b

    def __repr__(self):
        return f"Dense({self.n_in}, {self.n_out}, activation={self.activation!r})"
