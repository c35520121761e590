"""``Sequential.numerical_gradients``: every gradient by central differences, to check
backpropagation against."""

import numpy as np

from ..validation import check_positive_float


def default_difference_step(dtype):
    """The central-difference step :meth:`Sequential.numerical_gradients` takes by default:
    ``eps_mach ** (1/3)`` of ``dtype`` (4.9e-3 in float32, 6.1e-6 in float64)."""
    return float(np.cbrt(np.finfo(dtype).eps))


class GradientCheck:
    """:class:`fastbp.Sequential`'s :meth:`numerical_gradients`."""

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
        X, Y, w = self._prepare_labelled(X, y, sample_weight)
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
