"""``Sequential``: a stack of dense layers trained by backpropagation on a kernel backend."""

import math
import threading

import numpy as np

from . import backends, initializers
from .kernels import codes, layer_loop, layout
from .kernels.layer_loop import LayerBuffers
from .kernels.records import Network
from .errors import DivergenceError
from .layers import Dense, NotBuiltError
from .names import choice, loss_name
from .validation import (
    check_positive_float,
    check_positive_int,
    check_sample_weight,
    check_X,
    check_y,
)

DTYPES = ("float32", "float64")

_NOT_BUILT = ("this Sequential is not built yet: its first layer was given no input width, so it "
              "has no weights. Call fit (or forward, predict, loss, gradients) on data, or "
              "build(n_inputs), or give the first layer its width, Dense(n_in, n_out, ...)")


def data_width(X):
    """The number of columns of a would-be 2-D ``X``, to check it against before a model is built
    (0 for anything else: the check then reports what is wrong with ``X``)."""
    shape = np.shape(X)
    return shape[1] if len(shape) == 2 else 0


def check_targets(y, n_samples, n_outputs, loss, dtype):
    """:func:`fastbp.validation.check_y`, saying what to do with labels given as text.

    Raises
    ------
    TypeError
        For non-numeric targets; for strings, the message names the two ways to use them.
    """
    try:
        return check_y(y, n_samples, n_outputs, loss, dtype)
    except TypeError as error:
        if not _holds_text(y):
            raise
        raise TypeError(f"{error}. Sequential takes class labels as integers 0..n_classes-1 (or "
                        f"one-hot rows): encode text labels with "
                        f"sklearn.preprocessing.LabelEncoder (its inverse_transform maps "
                        f"predictions back), or use fastbp.MLPClassifier, which takes them as "
                        f"they are") from error


def _holds_text(y):
    try:
        return np.asarray(y).dtype.kind in "OSU"
    except (TypeError, ValueError):  # ragged or otherwise unconvertible: not a label array
        return False


def default_difference_step(dtype):
    """The central-difference step :meth:`Sequential.numerical_gradients` takes by default:
    ``eps_mach ** (1/3)`` of ``dtype`` (4.9e-3 in float32, 6.1e-6 in float64)."""
    return float(np.cbrt(np.finfo(dtype).eps))


class _Buffers(LayerBuffers):
    """A thread's buffers for ``n`` rows (:class:`~fastbp.kernels.layer_loop.LayerBuffers`), in
    the backend's memory, allocated once and reused across that thread's calls (each thread has
    its own: the kernels release the GIL, so two threads sharing buffers would overwrite each
    other's activations); plus a flat gradient vector in the parameters' layout."""

    def __init__(self, model, n):
        super().__init__(model.kernels, model.network, n, model.dtype)
        self.n = n
        self.gradient = model.kernels.empty(model._theta.shape, model.dtype)
        self.parameter_grads = model.layer_views(self.gradient)


class Sequential:
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
        self._claim_layers()  # every check passed: only now may the layers be changed
        #: every parameter in one vector (see fastbp.kernels.layout), None until built; layers
        #: hold views of it
        self._dims = self._theta = None
        self._seed = seed  # drawn from at the build, then dropped
        if self.layers[0]._n_in is not None:
            self.build(self.layers[0]._n_in)

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
        self.layers[0]._set_input_width(n_inputs)
        self._dims = np.array([n_inputs] + [layer.n_out for layer in self.layers], np.int64)
        theta = np.empty(layout.parameter_offsets(self._dims)[-1], self.dtype)
        rng = np.random.default_rng(self._seed)
        for layer, (W, b) in zip(self.layers, layout_views(theta, self._dims)):
            layer._build(rng, initializers.draw, W, b)
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

    def prepare(self, X, y=None, sample_weight=None):
        """Validated data in the backend's memory, as :meth:`evaluate` takes it; builds an unbuilt
        model for ``X``'s width once everything is checked.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs)
            Input rows.
        y : array-like, shape (n_samples,) or (n_samples, n_outputs), optional
            Targets, as :meth:`loss` takes them; None prepares ``X`` alone.
        sample_weight : array-like, shape (n_samples,), optional
            Weight of each sample in the mean loss; None weighs them equally.

        Returns
        -------
        X : array, shape (n_samples, n_inputs)
        Y : array, shape (n_samples, n_outputs)
            Targets (one-hot rows for integer class labels); absent when ``y`` is None.
        weight : array, shape (n_samples,)
            Each sample's share of the mean (``1/n`` without ``sample_weight``); absent when ``y``
            is None.
        """
        X = check_X(X, self._width_for(X), self.dtype)
        if y is None:
            self._build_for(X)
            return self._kernels.to_device(X)
        Y = check_targets(y, X.shape[0], self.n_outputs, self._loss_code, self.dtype)
        w = check_sample_weight(sample_weight, X.shape[0], self.dtype)
        self._build_for(X)
        return tuple(self._kernels.to_device(a) for a in (X, Y, w))

    def evaluate(self, X, Y, weight, parameters=None):
        """The loss and the output on data from :meth:`prepare`, at ``parameters``.

        Parameters
        ----------
        X : array, shape (n_samples, n_inputs)
            Inputs from :meth:`prepare`, in the backend's memory.
        Y : array, shape (n_samples, n_outputs)
            Targets from :meth:`prepare`.
        weight : array, shape (n_samples,)
            Each sample's share of the mean, from :meth:`prepare`.
        parameters : array, shape (n_params,), optional
            A vector in the backend's memory (the one a fit trains on the GPU, say); by default
            the model's own.

        Returns
        -------
        loss : float
            ``inf`` where it is beyond the dtype's range.
        output : ndarray, shape (n_samples, n_outputs)
            A host copy the caller owns.
        """
        params = self._device_parameters() if parameters is None else \
            self.layer_views(parameters)
        loss, buffers = self._loss(X, Y, weight, params)
        return loss, np.array(self._kernels.to_host(buffers.outs[-1]))

    def loss_and_gradient(self, X, Y, weight):
        """The loss and every parameter's gradient at the current parameters, on data from
        :meth:`prepare`: one forward and one backward pass.

        Parameters
        ----------
        X, Y, weight : array
            As :meth:`prepare` returns them (in the backend's memory).

        Returns
        -------
        loss : float
        gradient : ndarray, shape (n_params,)
            In the layout of :attr:`parameters`; a host copy the caller owns.
        """
        params = self._device_parameters()
        loss, buffers = self._loss(X, Y, weight, params)
        self._backward(X, Y, weight, params, buffers)
        return loss, np.array(self._kernels.to_host(buffers.gradient))

    # ---- the passes, on arrays in the backend's memory --------------------------------------
    def _device_parameters(self):
        """The parameters where the backend computes: the layers' own arrays on a host backend,
        a fresh device copy otherwise."""
        return self.layer_views(self._kernels.to_device(self._theta))

    def _buffers_for(self, n):
        """This thread's buffers for ``n`` rows (reallocated when ``n`` changes)."""
        buf = getattr(self._scratch, "buffers", None)
        if buf is None or buf.n != n:
            buf = self._scratch.buffers = _Buffers(self, n)
        return buf

    def _forward(self, X, params):
        """Run every layer on ``X`` with ``params``; returns the filled buffers."""
        buffers = self._buffers_for(X.shape[0])
        buffers.inputs = layer_loop.forward(self._kernels, self.network, buffers, X, params)
        return buffers

    def _loss(self, X, Y, weight, params):
        """The loss at ``params`` and the buffers of its forward pass."""
        buffers = self._forward(X, params)
        loss = self._kernels.loss_forward(buffers.pres[-1], buffers.outs[-1], Y, weight,
                                          self._loss_code)
        return loss, buffers

    def _backward(self, X, Y, weight, params, buffers):
        """Backpropagate from the forward pass in ``buffers``; fills their ``gradient``."""
        layer_loop.backward(self._kernels, self.network, buffers, buffers.inputs, params,
                            buffers.parameter_grads, (Y, weight))

    # ---- the public API ---------------------------------------------------------------------
    def forward(self, X):
        """The network's output.

        On the CPU backend a batch runs with BLAS on one thread, and one with work enough (rows
        times parameters) is split across :func:`numba.get_num_threads` threads in chunks cut by
        the batch, the network and the machine alone, so its output is the same, bit for bit,
        whatever the thread count. A row's output can differ in the last
        bits with the batch it is in (BLAS computes a one-row product another way than a larger
        one), as with NumPy.

        An unbuilt model is built for ``X``'s width first (Keras builds on the first call too).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs)
            Input rows.

        Returns
        -------
        ndarray, shape (n_samples, n_outputs), of the model's dtype
        """
        X = check_X(X, self._width_for(X), self.dtype)
        self._build_for(X)
        return self.forward_validated(X)

    def predict(self, X):
        """The network's output, as Keras's ``predict`` gives it: the same array as
        :meth:`forward`.

        For a classification loss this is the output layer's probabilities (softmax rows for
        ``cross_entropy``, sigmoid outputs for ``binary_cross_entropy``), not labels, as in
        Keras: take ``predict(X).argmax(axis=1)`` or ``predict(X) > 0.5`` for those (or use
        :class:`fastbp.MLPClassifier`, whose ``predict`` gives labels). An unbuilt model is built
        for ``X``'s width first.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs)
            Input rows.

        Returns
        -------
        ndarray, shape (n_samples, n_outputs), of the model's dtype

        Examples
        --------
        >>> import numpy as np, fastbp
        >>> model = fastbp.Sequential([fastbp.Dense(2, 3, "softmax")], loss="cross_entropy",
        ...                           seed=0)
        >>> P = model.predict(np.ones((4, 2)))
        >>> P.shape, bool(np.allclose(P.sum(axis=1), 1))
        ((4, 3), True)
        >>> labels = P.argmax(axis=1)
        """
        return self.forward(X)

    def forward_validated(self, X):
        """:meth:`forward` without its checks, for callers that made them (the estimators'
        prediction fast path): no time goes to validation, which is most of a one-row call.

        Parameters
        ----------
        X : ndarray, shape (n_samples, n_inputs)
            C-contiguous, of the model's dtype, finite (:func:`fastbp.validation.ready` says
            whether it is); the compiled pass reads it unchecked.

        Returns
        -------
        ndarray, shape (n_samples, n_outputs)
        """
        inference = self._inference()
        if inference is not None:
            out = np.empty((X.shape[0], self.n_outputs), self.dtype)
            inference(X, out)
            return out
        out = self._forward(self._kernels.to_device(X), self._device_parameters()).outs[-1]
        return np.array(self._kernels.to_host(out))  # a copy the caller owns

    def _inference(self):
        """The backend's whole-network forward pass bound to this model (made on first use), or
        None for a backend that runs the layers one call at a time."""
        inference = self.__dict__.get("_bound_inference")
        if inference is None and hasattr(self._kernels, "Inference"):
            self._check_built()
            inference = self._bound_inference = self._kernels.Inference(
                self._theta, self._dims, self._activation_codes)
        return inference

    def loss(self, X, y, sample_weight=None):
        """The loss on ``(X, y)`` as a float (sample-weighted mean if weights are given).

        A loss beyond the dtype's range is returned as ``inf``, its true value.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs)
            Input rows.
        y : array-like, shape (n_samples,) or (n_samples, n_outputs)
            Targets; for ``cross_entropy``, integer class labels or one-hot rows.
        sample_weight : array-like, shape (n_samples,), optional
            Weight of each sample in the mean loss; None weighs them equally.

        Returns
        -------
        float
        """
        return self._loss(*self.prepare(X, y, sample_weight), self._device_parameters())[0]

    def gradients(self, X, y, sample_weight=None):
        """Every parameter's gradient by backpropagation: one forward and one backward pass.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs)
            Input rows.
        y : array-like
            Targets as :meth:`loss` takes them.
        sample_weight : array-like, shape (n_samples,), optional
            Weight of each sample in the mean loss; None weighs them equally.

        Returns
        -------
        list of (dW, db)
            In layer order; ``dW`` of shape (n_in, n_out), ``db`` of shape (n_out,).
        """
        _, gradient = self.loss_and_gradient(*self.prepare(X, y, sample_weight))
        return self.layer_views(gradient)

    def numerical_gradients(self, X, y, eps=None, sample_weight=None):
        """Every gradient by central differences, one parameter at a time (two forward passes each).

        The cost is about ``N x P`` for ``N`` nodes and ``P`` parameters, against ``N + P`` for
        :meth:`gradients`: this exists to check backpropagation, not to train with.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs)
            Input rows.
        y : array-like
            Targets as :meth:`loss` takes them.
        eps : float, optional
            The step ``h`` of ``(L(theta + h) - L(theta - h)) / 2h``. By default
            ``eps_mach ** (1/3)`` of the model's dtype (:func:`default_difference_step`): 4.9e-3
            in float32, 6.1e-6 in float64. The difference's truncation error is
            ``h^2 |L^(3)| / 6``, while the rounding of the two losses, each off by about
            ``u |L|`` (``u`` the unit roundoff, half of ``eps_mach``), adds ``u |L| / h``; their
            sum is smallest at ``h = (3 u |L| / |L^(3)|)^(1/3)``, of the order of ``u^(1/3)`` for
            a loss and derivatives of order one. The old default, 1e-6, suits float64 but not
            float32, where ``u / h`` is then 6e-2: a 6 % error.
        sample_weight : array-like, shape (n_samples,), optional
            Weight of each sample in the mean loss; None weighs them equally.

        Returns
        -------
        list of (dW, db), as :meth:`gradients`.

        Examples
        --------
        >>> import numpy as np, fastbp
        >>> model = fastbp.Sequential([fastbp.Dense(3, 4, "tanh"), fastbp.Dense(4, 1)], seed=0)
        >>> X, y = np.random.default_rng(0).standard_normal((8, 3)), np.ones(8)
        >>> numerical = model.numerical_gradients(X, y)      # float32: eps = 4.9e-3
        >>> dW, _ = model.gradients(X, y)[0]
        >>> bool(np.allclose(numerical[0][0], dW, rtol=1e-2, atol=1e-3))
        True
        """
        eps = default_difference_step(self.dtype) if eps is None else \
            check_positive_float("eps", eps)
        X, Y, w = self.prepare(X, y, sample_weight)
        self._check_difference_step(eps)
        theta = self._kernels.to_device(self._theta)  # the model's own vector on a host backend
        params = self.layer_views(theta)
        buf = self._forward(X, params)
        # Every lookup done once here rather than in each of the 2P passes: at small sizes they
        # would cost as much as the kernels themselves.
        dense_forward, loss_forward = self._kernels.dense_forward, self._kernels.loss_forward
        layer_calls = [(buf.outs[i], buf.pres[i], X if i == 0 else buf.outs[i - 1], W, b,
                        self._codes[i]) for i, (W, b) in enumerate(params)]
        loss_call = (buf.pres[-1], buf.outs[-1], Y, w, self._loss_code)

        def loss():
            for args in layer_calls:
                dense_forward(*args)
            return loss_forward(*loss_call)

        gradient = np.empty_like(self._theta)
        with np.errstate(over="ignore", invalid="ignore"):  # a non-finite result is refused below
            self._differences(gradient, theta, eps, loss)
        if not np.all(np.isfinite(gradient)):
            raise ValueError(f"the loss is not finite at some theta +- eps (eps={eps}): the step "
                             f"is too large for this network; choose a smaller eps")
        return self.layer_views(gradient)

    @staticmethod
    def _differences(gradient, theta, eps, loss):
        """Central differences of ``loss()`` in each entry of ``theta``, into ``gradient``."""
        for j in range(gradient.size):
            original = theta[j]
            theta[j] = original + eps
            plus, upper = loss(), float(theta[j])
            theta[j] = original - eps
            minus, lower = loss(), float(theta[j])
            theta[j] = original
            # divide by the step actually taken after rounding to the model's dtype
            gradient[j] = (plus - minus) / (upper - lower)

    def _check_difference_step(self, eps):
        """Refuse an ``eps`` that rounds away (a zero step) or overflows at some parameter."""
        theta = self._theta.astype(np.float64)
        with np.errstate(over="ignore"):  # an overflow to inf is what is checked for
            upper = (theta + eps).astype(self.dtype)
            lower = (theta - eps).astype(self.dtype)
        if not (np.all(np.isfinite(upper)) and np.all(np.isfinite(lower))):
            raise ValueError(f"eps={eps} takes parameters beyond the range of {self.dtype.name}; "
                             f"choose a smaller eps")
        if np.any(upper <= lower):
            worst = float(np.max(np.abs(theta)))
            raise ValueError(f"eps={eps} is lost to rounding in {self.dtype.name} at parameters "
                             f"as large as {worst:.3g} (theta + eps == theta - eps); choose an eps "
                             f"of at least {float(np.spacing(self.dtype.type(worst))):.3g}")

    def step(self, X, y, lr, sample_weight=None):
        """One plain gradient-descent step ``theta <- theta - lr * dL/dtheta``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs)
            Input rows.
        y : array-like
            Targets as :meth:`loss` takes them.
        lr : float
            The step size, positive.
        sample_weight : array-like, shape (n_samples,), optional
            Weight of each sample in the mean loss; None weighs them equally.

        Returns
        -------
        float
            The loss before the step.
        """
        lr = check_positive_float("lr", lr)
        rate = self._in_dtype("lr", lr)
        args = self.prepare(X, y, sample_weight)
        with np.errstate(over="ignore", invalid="ignore"):  # reported just below
            loss, gradient = self.loss_and_gradient(*args)
            theta = self._theta - rate * gradient
        if not (math.isfinite(loss) and np.all(np.isfinite(theta))):
            raise DivergenceError(f"this step would leave non-finite weights (loss {loss}, "
                                  f"learning rate {lr:g}); the weights were not changed. Try a "
                                  f"smaller learning rate.")
        self._theta[...] = theta
        return loss

    def _in_dtype(self, name, value):
        """A positive float as the model's dtype; refuses one that overflows or rounds to 0."""
        info = np.finfo(self.dtype)
        if not float(info.tiny) <= value <= float(info.max):
            raise ValueError(f"{name}={value} is outside the positive range of "
                             f"{self.dtype.name} ({info.tiny:.3g} to {info.max:.3g})")
        return self.dtype.type(value)

    def fit(self, X, y, *, epochs=1, batch_size=32, optimizer="adam", schedule=None, shuffle=True,
            seed=None, sample_weight=None, alpha=0.0, l1=0.0, validation_data=None,
            validation_split=0.0, early_stopping=None, verbose=0, callbacks=None,
            class_weight=None, metrics=None):
        """Train by mini-batch gradient descent; each epoch runs whole inside the backend.

        An unbuilt model (first layer without ``n_in``) is built for ``X``'s width once every
        argument is checked.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs)
            Training inputs.
        y : array-like
            Targets as :meth:`loss` takes them.
        epochs : int, default=1
            Passes over the training data (fewer if the fit stops early).
        batch_size : int or None, default=32
            None (or ``len(X)``) is full-batch gradient descent.
        optimizer : {"adam", "sgd"} or Optimizer, default="adam"
            An :class:`fastbp.Adam` or :class:`fastbp.SGD` instance keeps its state across fits.
        schedule : Schedule, "constant", "invscaling" or None
            Learning rate per epoch (see :mod:`fastbp.schedules`).
        shuffle : bool, default=True
            Visit the samples in a new random order each epoch.
        seed : int or None
            Seeds shuffling and dropout: the same seed gives identical weights on a machine,
            whatever the thread count (the CPU backend cuts each batch into shards by its size
            and the machine's cores, runs them on ``numba.get_num_threads()`` threads and sums
            their gradients in a fixed order).
        sample_weight : array-like, shape (n_samples,), optional
            A mini-batch whose weights are all zero takes no step and adds nothing to the epoch's
            loss (the mean over the other batches); if every training weight is zero, ValueError.
        alpha : float, default=0
            L2 penalty ``alpha/2 * ||W||^2`` per batch, divided by the batch size (scikit-learn's
            scaling); weights only, not biases.
        l1 : float, default=0
            L1 penalty ``l1 * |W|`` with the same scaling.
        validation_data : (X_val, y_val), optional
            Held-out data scored, unweighted, after each epoch (``val_loss`` and the validation
            metric); not with ``validation_split``.
        validation_split : float in (0, 1), optional
            Hold out this last fraction of ``X`` (before shuffling) for validation.
        early_stopping : EarlyStopping, True or None
            True monitors ``val_loss`` with patience 10 and restores the best weights.
        verbose : {0, 1, 2}, default=0
            0 silent, 1 a progress bar over epochs, 2 one line per epoch.
        callbacks : list of fastbp.Callback, optional
            Called once per epoch, after it (see :class:`fastbp.Callback`); one returning True
            from ``on_epoch_end``, or setting ``model.stop_training = True``, ends the fit there.
            Ready-made: :class:`fastbp.callbacks.EarlyStopping`,
            :class:`fastbp.callbacks.ModelCheckpoint`.
        class_weight : dict {int: float}, optional
            Each class's weight, multiplied into ``sample_weight`` (Keras's rule): the class of a
            row is its label, or the argmax of its one-hot (or probability) row for
            ``cross_entropy``, and 0 or 1 (the target rounded) for ``binary_cross_entropy`` with
            one output. Classes left out weigh 1. Only the training rows are weighted, not those
            of ``validation_split``.
        metrics : list of str, optional
            ``["accuracy"]`` (alias ``"acc"``) for a classification loss, ``["r2"]`` for a
            regression one: also record the metric on the training data, computed after each
            epoch by one forward pass over the training rows at the epoch's final weights (so it
            costs about a third of an epoch), unweighted; in :attr:`History.history` and the
            progress line as ``accuracy``/``r2``. The validation metric is always recorded when
            there is validation data, as ``val_accuracy``/``val_r2``.

        Returns
        -------
        History

        Raises
        ------
        DivergenceError
            When the loss or the weights stop being finite (a ``ValueError``); the model keeps the
            weights of the last epoch at which the training data gives a finite loss and output.
            An early-stopping rule with ``finishes_diverging_fits`` instead records NaN for the
            epochs left and restores its best weights.
        TypeError
            For labels given as text (strings): encode them with
            ``sklearn.preprocessing.LabelEncoder``, or use :class:`fastbp.MLPClassifier`.

        Examples
        --------
        >>> import numpy as np, fastbp
        >>> X = np.random.default_rng(0).standard_normal((60, 4))
        >>> y = (X[:, 0] > 0).astype(int)
        >>> model = fastbp.Sequential([fastbp.Dense(8, activation="relu"),
        ...                            fastbp.Dense(2, activation="softmax")],
        ...                           loss="cross_entropy", seed=0)
        >>> stop = fastbp.callbacks.EarlyStopping(monitor="val_loss", patience=3)
        >>> history = model.fit(X, y, epochs=5, optimizer=fastbp.Adam(learning_rate=0.01),
        ...                     validation_split=0.25, metrics=["accuracy"], callbacks=[stop],
        ...                     class_weight={0: 1.0, 1: 2.0}, seed=0)
        >>> sorted(history.history)
        ['accuracy', 'loss', 'lr', 'time', 'val_accuracy', 'val_loss']
        """
        from .training.fit import fit

        return fit(self, X, y, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
                   schedule=schedule, shuffle=shuffle, seed=seed, sample_weight=sample_weight,
                   alpha=alpha, l1=l1, validation_data=validation_data,
                   validation_split=validation_split, early_stopping=early_stopping,
                   verbose=verbose, callbacks=callbacks, class_weight=class_weight,
                   metrics=metrics)

    def __getstate__(self):
        # the kernel module cannot be pickled and the buffers are scratch space
        state = dict(self.__dict__)
        state["_kernels"], state["_scratch"] = None, None
        state.pop("_bound_inference", None)  # made anew from the unpickled theta
        return state

    def __setstate__(self, state):
        state.pop("_buffers", None)  # the single shared buffer set of older pickles
        if "_samples_seen" in state:  # its name in older pickles
            state["samples_seen"] = state.pop("_samples_seen")
        state.setdefault("stop_training", False)  # older pickles: always built, no callbacks
        state.setdefault("_seed", None)
        self.__dict__.update(state)
        self._kernels = backends.load(self.backend)
        self._scratch = threading.local()
        if not self.built:
            return
        # pickle copies each array on its own: make the layers' W and b views of theta again
        for layer, (W, b) in zip(self.layers, self.layer_views(self._theta)):
            W[...], b[...] = layer._W, layer._b
            layer._W, layer._b = W, b

    def save(self, path, *, optimizer=None):
        """Write this network (and ``optimizer``'s state, if given) to ``path``; see
        :func:`fastbp.save`.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (replaced atomically if it exists).
        optimizer : SGD or Adam, optional
            The optimizer passed to :meth:`fit`, to store its state so that training can resume
            after :meth:`load`.

        Raises
        ------
        NotBuiltError
            For a model not built yet: it has no weights to write.
        """
        self._check_built()
        from .io import save

        save(self, path, optimizer=optimizer)

    @classmethod
    def load(cls, path, *, backend=None, return_optimizer=False):
        """Read a network written by :meth:`save` or :func:`fastbp.save`; see :func:`fastbp.load`.

        Parameters
        ----------
        path : str or os.PathLike
            The model file.
        backend : {"cpu", "numpy", "cuda"} or None, default=None
            Run the network on this backend instead of the one it was saved with.
        return_optimizer : bool, default=False
            Return ``(model, optimizer)``, the optimizer restored from the file (None if it was
            saved without one), to pass to :meth:`fit`.

        Returns
        -------
        Sequential or (Sequential, Optimizer or None)

        Raises
        ------
        TypeError
            When the file holds an estimator, not a network.
        """
        from .io import load

        loaded = load(path, backend=backend, return_optimizer=return_optimizer)
        model = loaded[0] if return_optimizer else loaded
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}: "
                            f"use {type(model).__name__}.load or fastbp.load")
        return loaded

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
