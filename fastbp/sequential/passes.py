"""The forward and backward passes of :class:`fastbp.Sequential` on arrays in the backend's memory,
and the data preparation and evaluation that fit, the estimators and the model files build on."""

import numpy as np

from ..kernels import layer_loop
from ..kernels.layer_loop import LayerBuffers
from ..validation import check_sample_weight, check_X
from .data import check_targets


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


class Passes:
    """:class:`fastbp.Sequential`'s passes: :meth:`prepare`, :meth:`evaluate`,
    :meth:`loss_and_gradient` and the private passes under them."""

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
        return self._labelled(X, y, sample_weight)

    def _prepare_labelled(self, X, y, sample_weight):
        """:meth:`prepare` for the methods that need targets (``loss``, ``gradients``, ``step``,
        ...): there ``y=None`` is refused with a TypeError, not read as "``X`` alone"."""
        return self._labelled(check_X(X, self._width_for(X), self.dtype), y, sample_weight)

    def _labelled(self, X, y, sample_weight):
        """Checked ``X`` with its checked targets and weights, in the backend's memory."""
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
