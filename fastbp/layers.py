"""The dense layer: its shape, activation and parameters."""

import inspect

import numpy as np

from .initializers import default_initializer, initializer_name
from .names import activation_name
from .validation import all_finite, check_fraction, check_positive_int


class NotBuiltError(ValueError, AttributeError):
    """A layer's or a model's input width is not known yet, so it has no weights.

    Raised by what needs the weights or the widths (``n_in``, ``n_params``, ``parameters``,
    ``summary``, ``save``, ...) of a :class:`Dense` built without ``n_in`` before its
    :class:`~fastbp.Sequential` has seen data. A ``ValueError`` and an ``AttributeError``, as
    scikit-learn's ``NotFittedError`` is: ``hasattr(layer, "n_in")`` is False until then.
    """


def _two_widths(n_in, n_out, activation="identity", init=None, dropout=0.0):
    """``Dense``'s arguments when two widths are given positionally: ``(n_in, n_out)``, the
    original order."""


def _one_width(n_out, *, n_in=None, activation="identity", init=None, dropout=0.0):
    """``Dense``'s arguments when one width is given positionally: ``n_out``, the number of
    units (Keras's ``units``), everything else by keyword, so ``Dense(8, 4)`` can only mean
    8 -> 4. ``n_in`` is deferred unless given by keyword."""


_TWO_WIDTHS, _ONE_WIDTH = inspect.signature(_two_widths), inspect.signature(_one_width)


def _bound_arguments(args, kwargs):
    """``Dense(*args, **kwargs)`` read by the rule of :class:`Dense`: two positional widths are
    ``(n_in, n_out)``, one is ``n_out``; the keyword ``n_in`` always names the input width.

    Returns
    -------
    dict
        Every argument by name, ``n_in`` only if it was given.
    """
    two = len(args) >= 2 or (not args and "n_in" in kwargs)
    try:
        bound = (_TWO_WIDTHS if two else _ONE_WIDTH).bind(*args, **kwargs)
    except TypeError as error:
        raise TypeError(f"Dense: {error}; call Dense(n_out, activation=...) with the input width "
                        f"taken from the data, or Dense(n_in, n_out, activation, ...)") from None
    given = set(bound.arguments)
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    if "n_in" not in given:
        del arguments["n_in"]  # left out: deferred
    return arguments


class Dense:
    """A fully connected layer ``a = act(x @ W + b)``.

    The input width may be left out, as in Keras. The rule goes by the number of widths given
    positionally. Two are ``(n_in, n_out)``, in that order, followed by ``activation``, ``init``
    and ``dropout`` (``Dense(4, 8, "relu")`` is 4 -> 8). One is ``n_out``, the number of units,
    with the rest by keyword (``Dense(8)``, ``Dense(8, activation="relu")``, or
    ``Dense(8, n_in=4)``). Without ``n_in``, the layer takes the previous layer's ``n_out`` when
    the :class:`~fastbp.Sequential` is made or, as the first layer, the width of the first data
    the model sees (``fit``, ``forward``, ``predict``, ``loss``, ``gradients``, ``step``), or of
    ``Sequential.build``. Both widths may also be given by keyword.

    Parameters
    ----------
    n_in : int, optional
        Width of the layer's input; see above when it is left out.
    n_out : int
        Number of units.
    activation : str, default="identity"
        One of ``identity, sigmoid (alias logistic), tanh, relu, leaky_relu, elu, gelu, softplus,
        softmax, exp``; softmax and exp only on a model's last layer.
    init : {"glorot_uniform", "he_uniform"} or None, default=None
        Initialiser; None is Glorot uniform for every activation (scikit-learn's and Keras's
        default; its sigmoid bound is scikit-learn's ``sqrt(2 / (n_in + n_out))``).
    dropout : float in [0, 1), default=0
        Inverted dropout on this layer's output during ``fit`` (hidden layers only; off at
        inference and in ``gradients``).

    Attributes
    ----------
    n_in : int
        Raises :class:`NotBuiltError` while the input width is not known.
    W : ndarray, shape (n_in, n_out)
        Weights, in the model's dtype once the layer belongs to a model. Assignable once ``n_in``
        is known.
    b : ndarray, shape (n_out,)
        Biases. Assignable.

    Examples
    --------
    >>> import fastbp
    >>> fastbp.Dense(4, 8, "relu")
    Dense(4, 8, activation='relu')
    >>> hidden = fastbp.Dense(8, activation="relu")   # 8 units; n_in from the data
    >>> hidden
    Dense(8, activation='relu')
    >>> model = fastbp.Sequential([hidden, fastbp.Dense(2, activation="softmax")],
    ...                           loss="cross_entropy")
    >>> model.layers[1].n_in                           # the previous layer's width
    8
    >>> model.build(4)                                 # or let fit/forward see the data
    >>> hidden.n_in, model.n_params
    (4, 58)
    """

    def __init__(self, *args, **kwargs):
        arguments = _bound_arguments(args, kwargs)
        n_in, n_out = arguments.get("n_in"), arguments["n_out"]
        if len(args) == 2 and isinstance(n_out, str):
            raise TypeError(f"n_out must be a positive integer; got {n_out!r}: Dense({n_in!r}, "
                            f"{n_out!r}) reads as n_in={n_in!r}, n_out={n_out!r}; for {n_in!r} "
                            f"units of {n_out!r} write Dense({n_in!r}, activation={n_out!r})")
        # None only when left out: an explicit n_in=None is refused, as before deferral existed
        self._n_in = check_positive_int("n_in", n_in) if "n_in" in arguments else None
        self.n_out = check_positive_int("n_out", n_out)
        self.activation = activation_name(arguments["activation"])
        init = arguments["init"]
        self.init = default_initializer(self.activation) if init is None else initializer_name(init)
        self.dropout = check_fraction("dropout", arguments["dropout"])
        self._dtype = None
        self._W = None
        self._b = None
        self._claimed = False  # set by the Sequential the layer joins: a layer serves one model

    @property
    def n_in(self):
        """Width of the layer's input.

        Raises
        ------
        NotBuiltError
            While it is not known (see the class docstring)."""
        if self._n_in is None:
            raise NotBuiltError(f"{self!r} does not know its input width yet: it is taken from "
                                f"the data of the model's first fit (or forward, or "
                                f"Sequential.build(n_inputs)); or give it, Dense(n_in, "
                                f"{self.n_out}, ...)")
        return self._n_in

    def __setstate__(self, state):
        # pickles from before the input width could be deferred: a plain n_in, and a layer with
        # weights (in a model) or without (not taken by one)
        if "n_in" in state:
            state["_n_in"] = state.pop("n_in")
        state.setdefault("_claimed", state.get("_dtype") is not None)
        self.__dict__.update(state)

    def _set_input_width(self, n_in):
        """Take the width a model found for this layer's input."""
        self._n_in = n_in

    @property
    def n_params(self):
        """``n_in * n_out + n_out``."""
        return self.n_in * self.n_out + self.n_out

    @property
    def W(self):
        """Weights, shape ``(n_in, n_out)``; None until assigned or built.

        Once the layer belongs to a built model, a view of the model's parameters in its dtype,
        and assigning writes into them. Assigning needs ``n_in`` known, and a finite real array
        of that shape.
        """
        return self._W

    @W.setter
    def W(self, value):
        self._W = self._assigned(self._W, self._checked("W", value, (self.n_in, self.n_out)))

    @property
    def b(self):
        """Biases, shape ``(n_out,)``; None until assigned or built.

        As :attr:`W`, a view of the model's parameters once built; assigning takes a finite real
        array of that shape (``n_in`` need not be known).
        """
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
            raise ValueError(f"{name} must have shape {shape} for {self._widths()}); "
                             f"got {array.shape}")
        with np.errstate(over="ignore"):  # overflow to inf is reported just below
            if self._dtype is None:
                array = np.array(array, dtype=np.float64, order="C")  # a copy the layer keeps
            else:
                array = np.asarray(array, dtype=self._dtype)  # _assigned copies it into place
        if not all_finite(array):
            raise ValueError(f"{name} contains NaN or infinity (after conversion to {array.dtype})")
        return array

    def _build(self, rng, draw, W_view, b_view):
        """Bind the layer to views of a model's parameter vector, filling them with the values the
        user assigned or, failing that, fresh draws. ``draw`` is None where neither this layer
        nor any after it draws: then ``rng`` need not advance past what it would draw here.

        Each value is written in one pass: the draws are finite, and the values assigned were
        checked when they were (float64 copies), so that only their rounding to the model's
        dtype can overflow. A value that does leaves the layer as it was."""
        if draw is not None:
            draw(rng, W_view, b_view, self.activation, self.init)
        for name, value, view in (("W", self._W, W_view), ("b", self._b, b_view)):
            if value is not None:
                with np.errstate(over="raise"):
                    try:
                        np.copyto(view, value)
                    except FloatingPointError:
                        raise ValueError(f"{name} contains NaN or infinity (after conversion to "
                                         f"{view.dtype})") from None
        self._dtype, self._W, self._b = W_view.dtype, W_view, b_view

    def _widths(self):
        """``Dense(n_in, n_out`` as the constructor's rule reads it back (one width: ``n_out``)."""
        if self._n_in is None:
            return f"Dense({self.n_out}"
        return f"Dense({self._n_in}, {self.n_out}"

    def __repr__(self):
        return f"{self._widths()}, activation={self.activation!r})"


# Dense reads its arguments by the number of widths given positionally (_bound_arguments), a rule
# no Python signature can state; its own (*args, **kwargs) would tell help(), inspect and numpydoc
# nothing. They are shown the two-width form, the layer's original signature, whose names the
# docstring documents; the docstring also gives the rule by which n_in may be left out.
Dense.__init__.__signature__ = inspect.Signature(
    [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
     *_TWO_WIDTHS.parameters.values()])


def layer_states(layers):
    """Each layer's attributes, for :func:`restore_layer_states`: what a call that changes the
    layers (a model's build, a fit) puts back when it raises.

    Parameters
    ----------
    layers : list of Dense

    Returns
    -------
    list of dict
    """
    return [dict(vars(layer)) for layer in layers]


def restore_layer_states(layers, states):
    """Put the layers' attributes back as :func:`layer_states` saw them.

    Parameters
    ----------
    layers : list of Dense
    states : list of dict
        From :func:`layer_states` on the same layers.
    """
    for layer, state in zip(layers, states):
        layer.__dict__.clear()
        layer.__dict__.update(state)
