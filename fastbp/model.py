"""``Sequential``: a stack of dense layers trained by backpropagation on a kernel backend."""

import numpy as np

from . import backends, initializers
from .kernels import codes, layout
from .layers import Dense
from .names import choice, loss_name
from .validation import check_positive_float, check_sample_weight, check_X, check_y

DTYPES = ("float32", "float64")


class _Buffers:
    """Activations and gradients for one batch size, allocated once and reused across calls."""

    def __init__(self, model, n):
        dtype = model.dtype
        last = len(model.layers) - 1
        self.n = n
        self.outs, self.pres, self.grads = [], [], []
        for i, layer in enumerate(model.layers):
            out = np.empty((n, layer.n_out), dtype)
            # pre aliases out unless something reads z later (see fastbp.kernels)
            keep_pre = (model._codes[i] in codes.NEEDS_PREACTIVATION
                        or (i == last and model._loss_code in codes.LOGIT_LOSSES))
            self.outs.append(out)
            self.pres.append(np.empty_like(out) if keep_pre else out)
            self.grads.append(np.empty_like(out))
        self.dWs = [np.empty_like(layer.W) for layer in model.layers]
        self.dbs = [np.empty_like(layer.b) for layer in model.layers]


class Sequential:
    """A feed-forward network of :class:`Dense` layers.

    Parameters
    ----------
    layers : list of Dense
        Each layer's ``n_in`` must equal the previous layer's ``n_out``.
    loss : {"squared_error", "mse", "cross_entropy", "binary_cross_entropy"}
        ``squared_error`` is ``1/2`` times the mean over samples and outputs of ``(a - y)^2``
        (scikit-learn's convention); ``mse`` is the plain mean (PyTorch's and Keras's);
        ``cross_entropy`` needs a softmax output and takes integer labels or one-hot rows;
        ``binary_cross_entropy`` needs a sigmoid output and is summed over outputs, averaged over
        samples (scikit-learn's convention, binary and multilabel).
    dtype : {"float32", "float64"}, default="float32"
    backend : {"cpu", "numpy"}, default="cpu"
        ``cpu`` runs the Numba kernels, ``numpy`` the NumPy reference kernels.
    seed : int, numpy.random.Generator or None
        Seed of the weight initialisation.
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
        self._dims = np.array([self.n_inputs] + [layer.n_out for layer in self.layers], np.int64)
        self._activation_codes = np.array(self._codes, np.int64)
        self._dropout = np.array([layer.dropout for layer in self.layers], np.float64)
        offsets = layout.parameter_offsets(self._dims.tolist())
        #: every parameter in one vector (see fastbp.kernels.layout); layers hold views of it
        self._theta = np.empty(offsets[-1], self.dtype)
        rng = np.random.default_rng(seed)
        for layer, start in zip(self.layers, offsets):
            split = start + layer.n_in * layer.n_out
            layer._build(rng, initializers.draw,
                         self._theta[start:split].reshape(layer.n_in, layer.n_out),
                         self._theta[split:split + layer.n_out])
        self._buffers = None
        self._samples_seen = 0

    @staticmethod
    def _checked_layers(layers):
        if not isinstance(layers, (list, tuple)) or len(layers) == 0:
            raise TypeError(f"layers must be a non-empty list of Dense; got {layers!r}")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Dense):
                raise TypeError(f"layers[{i}] must be a Dense layer; got {type(layer).__name__}")
        for i in range(1, len(layers)):
            if layers[i].n_in != layers[i - 1].n_out:
                raise ValueError(f"layer widths do not chain: layers[{i}] expects "
                                 f"{layers[i].n_in} inputs but layers[{i - 1}] has "
                                 f"{layers[i - 1].n_out} outputs")
        for i, layer in enumerate(layers[:-1]):
            if layer.activation == "softmax":
                raise ValueError(f"softmax is allowed only on the last layer; layers[{i}] of "
                                 f"{len(layers)} uses it")
        if layers[-1].dropout > 0:
            raise ValueError(f"dropout applies to hidden layers only; the last layer has "
                             f"dropout={layers[-1].dropout}")
        for i, layer in enumerate(layers):
            if layer.W is not None and layer._dtype is not None:
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
        return sum(layer.n_params for layer in self.layers)

    @property
    def n_inputs(self):
        return self.layers[0].n_in

    @property
    def n_outputs(self):
        return self.layers[-1].n_out

    def summary(self, print_fn=print):
        """Print one row per layer (shape, activation, parameters) and the total."""
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

    # ---- the passes -------------------------------------------------------------------------
    def _buffers_for(self, n):
        if self._buffers is None or self._buffers.n != n:
            self._buffers = _Buffers(self, n)
        return self._buffers

    def _forward(self, X):
        """Run every layer on the validated ``X``; returns the filled buffers."""
        buf = self._buffers_for(X.shape[0])
        x = X
        for i, layer in enumerate(self.layers):
            self._kernels.dense_forward(buf.outs[i], buf.pres[i], x, layer.W, layer.b,
                                        self._codes[i])
            x = buf.outs[i]
        return buf

    def _loss(self, X, Y, weight):
        buf = self._forward(X)
        return self._kernels.loss_forward(buf.pres[-1], buf.outs[-1], Y, weight, self._loss_code)

    def _backward(self, X, Y, weight):
        """Backpropagate from the last forward pass; fills ``dWs`` and ``dbs``."""
        buf = self._buffers
        k = self._kernels
        last = len(self.layers) - 1
        k.loss_backward(buf.grads[last], buf.pres[last], buf.outs[last], Y, weight, self._loss_code)
        for i in range(last, -1, -1):
            # a logits-form loss already returned dL/dz of the output layer
            fused = i == last and self._loss_code in codes.LOGIT_LOSSES
            activation = codes.IDENTITY if fused else self._codes[i]
            layer = self.layers[i]
            k.dense_backward(buf.grads[i - 1] if i > 0 else None, buf.dWs[i], buf.dbs[i],
                             buf.grads[i], X if i == 0 else buf.outs[i - 1], layer.W,
                             buf.outs[i], buf.pres[i], activation)
        return buf

    def _prepared(self, X, y, sample_weight=None):
        X = check_X(X, self.n_inputs, self.dtype)
        Y = check_y(y, X.shape[0], self.n_outputs, self._loss_code, self.dtype)
        return X, Y, check_sample_weight(sample_weight, X.shape[0], self.dtype)

    # ---- the public API ---------------------------------------------------------------------
    def forward(self, X):
        """The network's output.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs)

        Returns
        -------
        ndarray, shape (n_samples, n_outputs), of the model's dtype
        """
        return self._forward(check_X(X, self.n_inputs, self.dtype)).outs[-1].copy()

    def loss(self, X, y, sample_weight=None):
        """The loss on ``(X, y)`` as a float (sample-weighted mean if weights are given)."""
        return self._loss(*self._prepared(X, y, sample_weight))

    def gradients(self, X, y, sample_weight=None):
        """Every parameter's gradient by backpropagation: one forward and one backward pass.

        Returns
        -------
        list of (dW, db)
            In layer order; ``dW`` of shape (n_in, n_out), ``db`` of shape (n_out,).
        """
        X, Y, w = self._prepared(X, y, sample_weight)
        self._forward(X)
        buf = self._backward(X, Y, w)
        return [(dW.copy(), db.copy()) for dW, db in zip(buf.dWs, buf.dbs)]

    def numerical_gradients(self, X, y, eps=1e-6, sample_weight=None):
        """Every gradient by central differences, one parameter at a time (two forward passes each).

        The cost is about ``N x P`` for ``N`` nodes and ``P`` parameters, against ``N + P`` for
        :meth:`gradients`: this exists to check backpropagation, not to train with.

        Returns
        -------
        list of (dW, db), as :meth:`gradients`.
        """
        eps = check_positive_float("eps", eps)
        X, Y, w = self._prepared(X, y, sample_weight)
        result = []
        for layer in self.layers:
            grads = []
            for param in (layer.W, layer.b):
                grad = np.empty_like(param)
                flat, flat_grad = param.reshape(-1), grad.reshape(-1)  # views of the live arrays
                for j in range(flat.size):
                    original = flat[j]
                    flat[j] = original + eps
                    plus, upper = self._loss(X, Y, w), float(flat[j])
                    flat[j] = original - eps
                    minus, lower = self._loss(X, Y, w), float(flat[j])
                    flat[j] = original
                    # divide by the step actually taken after rounding to the model's dtype
                    flat_grad[j] = (plus - minus) / (upper - lower)
                grads.append(grad)
            result.append(tuple(grads))
        return result

    def step(self, X, y, lr, sample_weight=None):
        """One plain gradient-descent step ``theta <- theta - lr * dL/dtheta``.

        Returns
        -------
        float
            The loss before the step.
        """
        lr = check_positive_float("lr", lr)
        X, Y, w = self._prepared(X, y, sample_weight)
        buf = self._forward(X)
        loss = self._kernels.loss_forward(buf.pres[-1], buf.outs[-1], Y, w, self._loss_code)
        self._backward(X, Y, w)
        step = self.dtype.type(lr)
        for layer, dW, db in zip(self.layers, buf.dWs, buf.dbs):
            layer.W -= step * dW
            layer.b -= step * db
        return loss

    def _set_parameters(self, theta):
        """Copy a flat parameter vector (layout of :mod:`fastbp.kernels.layout`) into the model."""
        if theta is not self._theta:
            self._theta[...] = theta

    def fit(self, X, y, *, epochs=1, batch_size=32, optimizer="adam", schedule=None, shuffle=True,
            seed=None, sample_weight=None, alpha=0.0, l1=0.0, validation_data=None,
            validation_split=0.0, early_stopping=None, verbose=0):
        """Train by mini-batch gradient descent; each epoch runs whole inside the backend.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs)
        y : array-like
            Targets as :meth:`loss` takes them.
        epochs : int, default=1
        batch_size : int or None, default=32
            None (or ``len(X)``) is full-batch gradient descent.
        optimizer : {"adam", "sgd"} or Optimizer, default="adam"
            An :class:`fastbp.Adam` or :class:`fastbp.SGD` instance keeps its state across fits.
        schedule : Schedule, "constant", "invscaling" or None
            Learning rate per epoch (see :mod:`fastbp.schedules`).
        shuffle : bool, default=True
            Visit the samples in a new random order each epoch.
        seed : int or None
            Seeds shuffling and dropout: the same seed and thread count give identical weights.
        sample_weight : array-like, shape (n_samples,), optional
        alpha : float, default=0
            L2 penalty ``alpha/2 * ||W||^2`` per batch, divided by the batch size (scikit-learn's
            scaling); weights only, not biases.
        l1 : float, default=0
            L1 penalty ``l1 * |W|`` with the same scaling.
        validation_data : (X_val, y_val), optional
        validation_split : float in (0, 1), optional
            Hold out this last fraction of ``X`` (before shuffling) for validation.
        early_stopping : EarlyStopping, True or None
            True monitors ``val_loss`` with patience 10 and restores the best weights.
        verbose : {0, 1, 2}, default=0
            0 silent, 1 a progress bar over epochs, 2 one line per epoch.

        Returns
        -------
        History

        Raises
        ------
        DivergenceError
            When the loss or the weights stop being finite; the model keeps the weights of the
            last finite epoch.
        """
        from .training.fit import fit

        return fit(self, X, y, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
                   schedule=schedule, shuffle=shuffle, seed=seed, sample_weight=sample_weight,
                   alpha=alpha, l1=l1, validation_data=validation_data,
                   validation_split=validation_split, early_stopping=early_stopping,
                   verbose=verbose)

    def __repr__(self):
        inner = ", ".join(repr(layer) for layer in self.layers)
        return (f"Sequential([{inner}], loss={self.loss_name!r}, dtype={self.dtype.name!r}, "
                f"backend={self.backend!r})")


def _dtype_name(dtype):
    """``'float32'`` for any spelling NumPy understands (np.float32, "f4", ...); else the repr."""
    if isinstance(dtype, str):
        return np.dtype(dtype).name if dtype in np.sctypeDict else dtype
    try:
        return np.dtype(dtype).name
    except TypeError:
        return repr(dtype)
