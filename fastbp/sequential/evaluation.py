"""What :class:`fastbp.Sequential` computes on user data: its output (``forward``, ``predict`` and
the estimators' fast path ``forward_validated``), its loss and its gradients."""

import numpy as np

from ..validation import all_finite, check_X, refuse_non_finite


class Evaluation:
    """:class:`fastbp.Sequential`'s :meth:`forward`, :meth:`predict`, :meth:`forward_validated`,
    :meth:`loss` and :meth:`gradients`."""

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
        # a built model leaves the finiteness check to the forward pass; an unbuilt one is built
        # for X only once X has passed every check
        checked = not self.built
        X = check_X(X, self._width_for(X), self.dtype, finite=checked)
        self._build_for(X)
        out = self.forward_validated(X, finite=checked)
        if out is None:
            refuse_non_finite(X)
        return out

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

    def forward_validated(self, X, finite=True):
        """:meth:`forward` without its checks, for callers that made them (the estimators'
        prediction fast path): no time goes to validation, which is most of a one-row call.

        Parameters
        ----------
        X : ndarray, shape (n_samples, n_inputs)
            C-contiguous, of the model's dtype (:func:`fastbp.validation.ready` says whether it
            is); the compiled pass reads it unchecked.
        finite : bool, default True
            Whether the caller checked that every value of ``X`` is finite. If not, the forward
            pass checks (on the CPU backend in its compiled pass, as it reads the rows: no pass
            of its own).

        Returns
        -------
        ndarray, shape (n_samples, n_outputs), or None
            None where ``X`` holds NaN or infinity: the caller reports it, with the message its
            own checks give (:func:`fastbp.validation.refuse_non_finite`, or an estimator's).
        """
        inference = self._inference()
        if inference is not None:
            out = np.empty((X.shape[0], self.n_outputs), self.dtype)
            return out if inference(X, out) else None
        if not (finite or all_finite(X)):
            return None
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
        data = self._prepare_labelled(X, y, sample_weight)
        return self._loss(*data, self._device_parameters())[0]

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
        _, gradient = self.loss_and_gradient(*self._prepare_labelled(X, y, sample_weight))
        return self.layer_views(gradient)
