"""``Sequential``: a stack of dense layers trained by backpropagation on a kernel backend.

This module holds the class, its construction and checks, its sizes and its parameters; the rest
of its methods come from the mixins of :mod:`fastbp.sequential`, one concern each.
"""

import threading

import numpy as np

from . import backends, initializers
from .kernels import codes, layout
from .kernels.records import Network
from .layers import Dense, NotBuiltError, layer_states, restore_layer_states
from .names import choice, loss_name
from .sequential.data import check_targets, data_width
from .sequential.evaluation import Evaluation
from .sequential.gradient_check import GradientCheck, default_difference_step
from .sequential.passes import Passes
from .sequential.persistence import Persistence
from .sequential.training import Training
from .validation import check_positive_int

__all__ = ["DTYPES", "Sequential", "check_targets", "data_width", "default_difference_step",
           "layout_views"]

DTYPES = ("float32", "float64")

_NOT_BUILT = ("this Sequential is not built yet: its first layer was given no input width, so it "
              "has no weights. Call fit (or forward, predict, loss, gradients) on data, or "
              "build(n_inputs), or give the first layer its width, Dense(n_in, n_out, ...)")


class Sequential(Passes, Evaluation, GradientCheck, Training, Persistence):
    """A feed-forward network of :class:`Dense` layers.

    Parameters
    ----------
    layers : list of Dense
        Each layer's ``n_in`` must equal the previous layer's ``n_out``; a layer made without one
        takes it. A first layer made without one (``Dense(8, activation="relu")``) leaves the
        model unbuilt, without weights, until the first data it sees (``fit``, ``forward``,
        ``predict``, ``loss``, ``gradients``, ``step``) or :meth:`build`, as Keras defers its
        build; until then what needs the weights or the widths (:attr:`parameters`,
        :attr:`n_params`, :attr:`n_inputs`, :meth:`summary`, :meth:`save`, ...) raises
        :class:`~fastbp.NotBuiltError`.
    loss : {"squared_error", "mse", "cross_entropy", "binary_cross_entropy", "poisson"}
        ``squared_error`` is ``1/2`` times the mean over samples and outputs of ``(a - y)^2``
        (scikit-learn's convention); ``mse`` is the plain mean (PyTorch's and Keras's);
        ``cross_entropy`` needs a softmax output and takes integer labels or one-hot rows;
        ``binary_cross_entropy`` needs a sigmoid output and is summed over outputs, averaged over
        samples (scikit-learn's convention, binary and multilabel); ``poisson`` needs an exp output
        and non-negative targets, and is scikit-learn's half Poisson deviance, summed over outputs
        and averaged over samples.
    dtype : {"float32", "float64"}, default="float32"
        Precision of the weights and of every computation.
    backend : {"cpu", "numpy", "cuda"}, default="cpu"
        ``cpu`` runs the Numba CPU kernels, ``numpy`` the NumPy reference kernels, ``cuda`` the
        Numba CUDA kernels on an NVIDIA GPU; ``cuda`` needs numba-cuda and a usable GPU
        (``pip install 'fastbp[cuda]'``), else :class:`~fastbp.DeviceError` is raised.
    seed : int, numpy.random.Generator or None
        Seed of the weight initialisation, drawn when the model is built: the same seed gives the
        same weights whether the first layer's width was given or taken from the data.

    Attributes
    ----------
    stop_training : bool
        Set to True by a callback (:class:`fastbp.Callback`) to end ``fit`` after the epoch, as
        in Keras; ``fit`` sets it to False when it starts.

    Examples
    --------
    >>> import numpy as np, fastbp
    >>> model = fastbp.Sequential([fastbp.Dense(8, activation="tanh"),
    ...                            fastbp.Dense(3, activation="softmax")],
    ...                           loss="cross_entropy", seed=0)
    >>> model.built
    False
    >>> X, y = np.random.default_rng(0).standard_normal((30, 4)), np.arange(30) % 3
    >>> history = model.fit(X, y, epochs=2)     # builds it for 4 inputs first
    >>> model.n_inputs, model.n_params
    (4, 67)
    """

    def __init__(self, layers, loss="squared_error", dtype="float32", backend="cpu", seed=None):
        self.layers = self._checked_layers(layers)
        self.loss_name = loss_name(loss)
        self._loss_code = codes.LOSS_CODES[self.loss_name]
        self._codes = [codes.ACTIVATION_CODES[layer.activation] for layer in self.layers]
        self._check_output_fits_loss()
        self.dtype = np.dtype(choice("dtype", _dtype_name(dtype), DTYPES))
        self.backend = backends.backend_name(backend)
        self._kernels = backends.load(self.backend)
        self._activation_codes = np.array(self._codes, np.int64)
        self._dropout = np.array([layer.dropout for layer in self.layers], np.float64)
        self._scratch = threading.local()  # each thread's _Buffers
        #: samples trained on across fits: the clock of the ``invscaling`` schedule
        self.samples_seen = 0
        self.stop_training = False
        before = layer_states(self.layers)
        self._claim_layers()  # every check passed: only now may the layers be changed
        #: every parameter in one vector (see fastbp.kernels.layout), None until built; layers
        #: hold views of it
        self._dims = self._theta = None
        self._seed = seed  # drawn from at the build, then dropped
        if self.layers[0]._n_in is not None:
            try:
                self.build(self.layers[0]._n_in)
            except Exception:  # a value assigned to a layer overflows the dtype: free the layers
                restore_layer_states(self.layers, before)
                raise

    def _claim_layers(self):
        """Give each layer without an input width the previous layer's, and mark the layers as
        this model's (a layer serves one model: it holds views of its parameters)."""
        for previous, layer in zip(self.layers, self.layers[1:]):
            if layer._n_in is None:
                layer._set_input_width(previous.n_out)
        for layer in self.layers:
            layer._claimed = True

    @property
    def built(self):
        """Whether the model has its weights (its first layer's input width is known)."""
        return self._theta is not None

    def build(self, n_inputs):
        """Create the weights for inputs of ``n_inputs`` columns (Keras's ``build``).

        ``fit`` and the other methods that take data call it with the data's width; a model built
        for that width is left as it is.

        Parameters
        ----------
        n_inputs : int or tuple
            The input width, or a Keras input shape such as ``(None, n_inputs)`` (its last entry).

        Raises
        ------
        ValueError
            If the model is built already for another width.

        Examples
        --------
        >>> import fastbp
        >>> model = fastbp.Sequential([fastbp.Dense(3)], seed=0)
        >>> model.build((None, 5))
        >>> model.layers[0].W.shape
        (5, 3)
        """
        if isinstance(n_inputs, (tuple, list)) and len(n_inputs) > 0:
            n_inputs = n_inputs[-1]
        n_inputs = check_positive_int("n_inputs", n_inputs)
        if self.built:
            if n_inputs != self.n_inputs:
                raise ValueError(f"this model is built for {self.n_inputs} inputs; got "
                                 f"{n_inputs}")
            return
        before = layer_states(self.layers)
        self.layers[0]._set_input_width(n_inputs)
        self._dims = np.array([n_inputs] + [layer.n_out for layer in self.layers], np.int64)
        theta = np.empty(layout.parameter_offsets(self._dims)[-1], self.dtype)
        rng = np.random.default_rng(self._seed)
        # the layers after the last one without weights of its own draw nothing: the draws they
        # would throw away (a whole network for the estimators, which assign every layer) are
        # skipped, and the generator still gives every drawing layer what it always gave
        drawing = [layer.W is None or layer.b is None for layer in self.layers]
        last_drawing = max((i for i, d in enumerate(drawing) if d), default=-1)
        try:
            for i, (layer, (W, b)) in enumerate(zip(self.layers, layout_views(theta,
                                                                              self._dims))):
                layer._build(rng, initializers.draw if i <= last_drawing else None, W, b)
        except Exception:  # a layer's assigned value overflows the dtype: none is built
            restore_layer_states(self.layers, before)
            self._dims = None
            raise
        self._theta, self._seed = theta, None

    def _check_built(self):
        if self._theta is None:
            raise NotBuiltError(_NOT_BUILT)

    def _width_for(self, X):
        """The width ``X`` is checked against: the model's, or ``X``'s own until it is built."""
        n_inputs = self.layers[0]._n_in  # not n_inputs: this is on every prediction's path
        return data_width(X) if n_inputs is None else n_inputs

    def _build_for(self, X):
        """Build an unbuilt model for checked data ``X``'s width."""
        if self._theta is None:
            self.build(X.shape[1])

    @staticmethod
    def _checked_layers(layers):
        if not isinstance(layers, (list, tuple)) or len(layers) == 0:
            raise TypeError(f"layers must be a non-empty list of Dense; got {layers!r}")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Dense):
                raise TypeError(f"layers[{i}] must be a Dense layer; got {type(layer).__name__}")
        for i in range(1, len(layers)):
            # a layer without an input width takes the previous one's (after every check)
            if layers[i]._n_in is not None and layers[i]._n_in != layers[i - 1].n_out:
                raise ValueError(f"layer widths do not chain: layers[{i}] expects "
                                 f"{layers[i]._n_in} inputs but layers[{i - 1}] has "
                                 f"{layers[i - 1].n_out} outputs")
        for i, layer in enumerate(layers[:-1]):
            # both are output links (softmax to class probabilities, exp to Poisson rates); exp as
            # a hidden activation would compound exponentials and overflow within a few layers
            if layer.activation in ("softmax", "exp"):
                raise ValueError(f"{layer.activation} is allowed only on the last layer; "
                                 f"layers[{i}] of {len(layers)} uses it")
        if layers[-1].dropout > 0:
            raise ValueError(f"dropout applies to hidden layers only; the last layer has "
                             f"dropout={layers[-1].dropout}")
        seen = {}
        for i, layer in enumerate(layers):
            if id(layer) in seen:
                raise ValueError(f"layers[{seen[id(layer)]}] and layers[{i}] are the same Dense "
                                 f"object, used twice; a layer can appear only once (it owns its weights): "
                                 f"create a new Dense for each position")
            seen[id(layer)] = i
        for i, layer in enumerate(layers):
            # an unbuilt model's layers have no weights yet, but are taken all the same
            if layer._dtype is not None or getattr(layer, "_claimed", False):
                raise ValueError(f"layers[{i}] already belongs to a model; create a new Dense")
        if layers[-1].activation == "softmax" and layers[-1].n_out < 2:
            raise ValueError("a softmax output needs at least 2 units; with 1 unit it is always 1 "
                             "(use sigmoid with binary_cross_entropy)")
        return list(layers)

    def _check_output_fits_loss(self):
        required = codes.LOGIT_LOSS_ACTIVATION.get(self._loss_code)
        if required is not None and self._codes[-1] != required:
            raise ValueError(f"loss {self.loss_name!r} needs a {codes.ACTIVATION_NAMES[required]} "
                             f"output layer; the last layer's activation is "
                             f"{self.layers[-1].activation!r}")

    # ---- sizes ------------------------------------------------------------------------------
    @property
    def n_params(self):
        """Total number of trainable parameters."""
        self._check_built()
        return sum(layer.n_params for layer in self.layers)

    @property
    def n_inputs(self):
        """Width of the input (the first layer's ``n_in``)."""
        self._check_built()
        return self.layers[0].n_in

    @property
    def n_outputs(self):
        """Width of the output (the last layer's ``n_out``); known before the model is built."""
        return self.layers[-1].n_out

    def summary(self, print_fn=print):
        """Print one row per layer (shape, activation, parameters) and the total.

        Parameters
        ----------
        print_fn : callable, default=print
            Called once with the whole table as one string.
        """
        self._check_built()
        rows = [("layer", "shape", "activation", "params")]
        for i, layer in enumerate(self.layers):
            rows.append((f"{i}: Dense", f"{layer.n_in} -> {layer.n_out}", layer.activation,
                         f"{layer.n_params:,}"))
        widths = [max(len(row[c]) for row in rows) for c in range(4)]
        lines = ["  ".join(cell.ljust(w) if c < 3 else cell.rjust(w)
                           for c, (cell, w) in enumerate(zip(row, widths))) for row in rows]
        rule = "-" * len(lines[0])
        lines = [lines[0], rule, *lines[1:], rule,
                 f"Total params: {self.n_params:,}  (loss {self.loss_name}, {self.dtype.name}, "
                 f"backend {self.backend})"]
        print_fn("\n".join(lines))

    # ---- the surface fit, the estimators and the model files build on ------------------------
    @property
    def kernels(self):
        """The kernel backend this model runs on: :mod:`fastbp.kernels.cpu`, ``reference`` (the
        ``numpy`` backend) or ``cuda``."""
        return self._kernels

    @property
    def network(self):
        """What a backend's ``train_epoch`` needs to know of this model.

        Returns
        -------
        fastbp.kernels.records.Network
            Widths ``(n_layers + 1,)``, activation codes and dropout rates ``(n_layers,)``, and
            the loss code.
        """
        self._check_built()
        return Network(self._dims, self._activation_codes, self._dropout, self._loss_code)

    @property
    def parameters(self):
        """Every parameter in one vector, shape ``(n_params,)``, in the layout of
        ``kernels/layout.py`` (each layer's ``W`` row-major, then its ``b``). A read-only view
        of the model's own vector; change it with :meth:`set_parameters`."""
        self._check_built()
        view = self._theta.view()
        view.flags.writeable = False
        return view

    def set_parameters(self, vector):
        """Copy ``vector`` (shape ``(n_params,)``, in the layout of :attr:`parameters`) into the
        model's parameters: every layer's ``W`` and ``b``.

        Values are rounded to the model's dtype and copied as they are, NaN and infinity included
        (as a diverged optimiser may leave them); a finite value beyond the dtype's range is
        refused rather than turned into infinity.

        Parameters
        ----------
        vector : array-like, shape (n_params,)
            The new parameters.

        Raises
        ------
        ValueError
            If ``vector`` has another shape, or a finite value overflows the model's dtype.
        TypeError
            If it is not a real numeric array.
        """
        self._check_built()
        if vector is self._theta:
            return
        vector = np.asarray(vector)
        if vector.dtype == self.dtype and vector.shape == self._theta.shape:
            self._theta[...] = vector  # nothing to round, nothing to overflow (every epoch of fit)
            return
        if vector.dtype.kind not in "biuf":
            raise TypeError(f"parameters must be a real numeric array; got dtype {vector.dtype}")
        if vector.shape != self._theta.shape:
            raise ValueError(f"parameters must have shape {self._theta.shape}; got "
                             f"{vector.shape}")
        with np.errstate(over="ignore"):  # reported just below
            converted = vector.astype(self.dtype)
        if not np.array_equal(np.isfinite(converted), np.isfinite(vector)):
            raise ValueError(f"parameters hold finite values beyond the range of "
                             f"{self.dtype.name}")
        self._theta[...] = converted

    def layer_views(self, vector):
        """``[(W, b), ...]`` views of a vector in the layout of :attr:`parameters`.

        Parameters
        ----------
        vector : array, shape (n_params,)
            In host or device memory.

        Returns
        -------
        list of (W, b)
            One pair per layer, ``W`` of shape ``(n_in, n_out)`` and ``b`` of shape ``(n_out,)``.
        """
        self._check_built()
        return layout_views(vector, self._dims)

    def __repr__(self):
        inner = ", ".join(repr(layer) for layer in self.layers)
        return (f"Sequential([{inner}], loss={self.loss_name!r}, dtype={self.dtype.name!r}, "
                f"backend={self.backend!r})")


def _dtype_name(dtype):
    """``'float32'`` for any spelling NumPy understands (np.float32, "f4", ...); else the repr."""
    if dtype is None:
        return None  # np.dtype(None) is float64: refuse it rather than silently pick a precision
    try:
        return np.dtype(dtype).name
    except TypeError:
        return dtype if isinstance(dtype, str) else repr(dtype)


def layout_views(vector, dims):
    """``[(W, b), ...]`` views of a parameter vector for the widths ``dims``."""
    return list(zip(*layout.parameter_views(vector, dims)))
