"""The dense layer: its shape, activation and parameters."""


import numpy as np

from .initializers import default_initializer, initializer_name
from .names import activation_name
from .validation import check_fraction, check_positive_int


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
        softmax, exp``; softmax and exp only on a model's last layer.
    init : {"glorot_uniform", "he_uniform"} or None
        Initialiser; None is Glorot uniform for every activation (scikit-learn's and Keras's
        default; its sigmoid bound is scikit-learn's ``sqrt(2 / (n_in + n_out))``).
    dropout : float in [0, 1), default=0
        Inverted dropout on this layer's output during ``fit`` (hidden layers only; off at
        inference and in ``gradients``).

    Attributes
    ----------
    W : ndarray, shape (n_in, n_out)
        Weights, in the model's dtype once the layer belongs to a model. Assignable.
    b : ndarray, shape (n_out,)
        Biases. Assignable.
    """

    def __init__(self, n_in, n_out, activation="identity", init=None, dropout=0.0):
        self.n_in = check_positive_int("n_in", n_in)
        self.n_out = check_positive_int("n_out", n_out)
        self.activation = activation_name(activation)
        self.init = default_initializer(self.activation) if init is None else initializer_name(init)
        self.dropout = check_fraction("dropout", dropout)
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
        self._W = self._assigned(self._W, self._checked("W", value, (self.n_in, self.n_out)))

    @property
    def b(self):
        return self._b

    @b.setter
    def b(self, value):
        self._b = self._assigned(self._b, self._checked("b", value, (self.n_out,)))

    def _assigned(self, current, value):
        """Once built, parameters are views into the model's flat vector: write through them."""
        if self._dtype is None:
            return value
        current[...] = value
        return current

    def _checked(self, name, value, shape):
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be a real numeric array; got dtype {array.dtype}")
        if array.shape != shape:
            raise ValueError(f"{name} must have shape {shape} for Dense({self.n_in}, {self.n_out}); "
                             f"got {array.shape}")
        dtype = np.float64 if self._dtype is None else self._dtype
        with np.errstate(over="ignore"):  # overflow to inf is reported just below
            array = np.array(array, dtype=dtype, order="C")  # always a copy we own
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} contains NaN or infinity (after conversion to {array.dtype})")
        return array

    def _build(self, rng, draw, W_view, b_view):
        """Bind the layer to views of a model's parameter vector, filling them with the values the
        user assigned or, failing that, fresh draws."""
        W, b = draw(rng, self.n_in, self.n_out, self.activation, self.init, W_view.dtype)
        W = W if self._W is None else self._W
        b = b if self._b is None else self._b
        self._dtype, self._W, self._b = W_view.dtype, W_view, b_view
        self.W, self.b = W, b

    def __repr__(self):
        return f"Dense({self.n_in}, {self.n_out}, activation={self.activation!r})"
