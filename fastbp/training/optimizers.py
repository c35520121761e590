"""Optimizers: hyper-parameters and state. The update arithmetic is a kernel (sgd/adam_update)."""

import numpy as np

from ..kernels import codes
from ..kernels.records import AdamSettings, SGDSettings
from ..names import choice
from ..validation import check_fraction, check_non_negative_int, check_positive_float


class Optimizer:
    """State shared by the optimizers: two buffers of the model's parameter length and a step count.

    The state persists across ``fit`` calls with the same optimizer object (as a Keras optimizer's
    does), so training can resume where it stopped; a string spec makes a fresh optimizer.
    """

    code = None

    def __init__(self, lr):
        self.lr = check_positive_float("lr", lr)
        self.steps = 0
        self._moments = None

    def _bind(self, n_params, dtype):
        """Zero state for a parameter vector of ``n_params`` in ``dtype`` unless it already fits."""
        if self._moments is None or self._moments[0].shape != (n_params,) or \
                self._moments[0].dtype != dtype:
            self._moments = (np.zeros(n_params, dtype), np.zeros(n_params, dtype))
            self.steps = 0
        return self._moments

    @property
    def moments(self):
        """The optimizer's state: two vectors of shape ``(n_params,)`` (SGD's velocity and an
        unused second; Adam's first and second moments), or None before its first fit. Read-only
        views; :meth:`reset` forgets them."""
        if self._moments is None:
            return None
        views = tuple(moment.view() for moment in self._moments)
        for view in views:
            view.flags.writeable = False
        return views

    def set_state(self, moments, steps):
        """Take over another run's state: ``moments``, one or two vectors of shape
        ``(n_params,)`` (copied; a second one missing, as SGD's, is zeros), and the count of
        ``steps`` taken (Adam's bias correction)."""
        moments = [np.array(m) for m in moments]
        if not 1 <= len(moments) <= 2 or moments[0].ndim != 1 or \
                any(m.shape != moments[0].shape or m.dtype != moments[0].dtype for m in moments):
            raise ValueError("moments must be one or two vectors of one shape (n_params,) and "
                             "one dtype")
        if len(moments) == 1:
            moments.append(np.zeros_like(moments[0]))
        self._moments, self.steps = tuple(moments), check_non_negative_int("steps", steps)

    def reset(self):
        """Forget the accumulated state (moments, velocity, step count)."""
        self._moments = None
        self.steps = 0

    def settings(self, lr):
        """The record a backend's ``train_epoch`` takes (:mod:`fastbp.kernels.records`), at the
        learning rate ``lr`` (the schedule's for the epoch)."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, in scikit-learn's form.

    Parameters
    ----------
    lr : float, default=0.01
    momentum : float in [0, 1), default=0
    nesterov : bool, default=False
    """

    code = codes.SGD

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False):
        super().__init__(lr)
        self.momentum = check_fraction("momentum", momentum)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be a bool; got {nesterov!r}")
        self.nesterov = bool(nesterov)

    def settings(self, lr):
        return SGDSettings(float(lr), self.momentum, self.nesterov)

    def __repr__(self):
        return f"SGD(lr={self.lr}, momentum={self.momentum}, nesterov={self.nesterov})"


class Adam(Optimizer):
    """Adam (Kingma & Ba), in scikit-learn's form: the bias correction is folded into the step size.

    Parameters
    ----------
    lr : float, default=0.001
    beta_1 : float in [0, 1), default=0.9
    beta_2 : float in [0, 1), default=0.999
    epsilon : float > 0, default=1e-8
    """

    code = codes.ADAM

    def __init__(self, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        super().__init__(lr)
        self.beta_1 = check_fraction("beta_1", beta_1)
        self.beta_2 = check_fraction("beta_2", beta_2)
        self.epsilon = check_positive_float("epsilon", epsilon)

    def settings(self, lr):
        return AdamSettings(float(lr), self.beta_1, self.beta_2, self.epsilon)

    def __repr__(self):
        return (f"Adam(lr={self.lr}, beta_1={self.beta_1}, beta_2={self.beta_2}, "
                f"epsilon={self.epsilon})")


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def resolve(spec):
    """An :class:`Optimizer` from an instance (returned as is) or a name (default settings)."""
    if isinstance(spec, Optimizer):
        return spec
    return OPTIMIZERS[choice("optimizer", spec, tuple(OPTIMIZERS))]()
