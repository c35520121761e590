"""Optimizers: hyper-parameters and state. The update arithmetic is a kernel (sgd/adam_update)."""

import numpy as np

from ..kernels import codes
from ..kernels.records import AdamSettings, SGDSettings
from ..names import choice
from ..validation import check_fraction, check_non_negative_int, check_positive_float

#: The default of ``lr`` and ``learning_rate``: tells "not given" from any value, None included.
_NOT_GIVEN = object()


def learning_rate_argument(lr, learning_rate, default=None):
    """The learning rate of a constructor taking it as ``lr`` (fastbp's and PyTorch's name) or
    ``learning_rate`` (Keras's), checked.

    Parameters
    ----------
    lr, learning_rate : float or the not-given marker
        At most one given.
    default : float or None
        Taken when neither is given; None: one must be.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        When both are given, neither without a default, or the rate is not a real number.
    ValueError
        When it is not finite and positive.
    """
    if lr is not _NOT_GIVEN and learning_rate is not _NOT_GIVEN:
        raise TypeError(f"pass lr or learning_rate (the same setting: fastbp's and Keras's "
                        f"names), not both; got lr={lr!r} and learning_rate={learning_rate!r}")
    if learning_rate is not _NOT_GIVEN:
        return check_positive_float("learning_rate", learning_rate)
    if lr is not _NOT_GIVEN:
        return check_positive_float("lr", lr)
    if default is None:
        raise TypeError("missing the learning rate: pass lr= (or learning_rate=)")
    return default


class Optimizer:
    """State shared by the optimizers: two buffers of the model's parameter length and a step count.

    The state persists across ``fit`` calls with the same optimizer object (as a Keras optimizer's
    does), so training can resume where it stopped; a string spec makes a fresh optimizer.
    """

    code = None

    def __init__(self, lr=_NOT_GIVEN, *, learning_rate=_NOT_GIVEN, default_lr=None):
        #: the learning rate, a plain attribute: the fit loops and the model files read and set it
        self.lr = learning_rate_argument(lr, learning_rate, default_lr)
        self.steps = 0
        self._moments = None

    @property
    def learning_rate(self):
        """``lr`` by its Keras name: reading and setting one is reading and setting the other."""
        return self.lr

    @learning_rate.setter
    def learning_rate(self, value):
        self.lr = check_positive_float("learning_rate", value)

    def _bind(self, n_params, dtype):
        """Zero state for a parameter vector of ``n_params`` in ``dtype`` unless it already fits."""
        if self._moments is None or self._moments[0].shape != (n_params,) or \
                self._moments[0].dtype != dtype:
            zeros = np.zeros((2, n_params), dtype)  # one allocation: one wait for the GIL
            self._moments = (zeros[0], zeros[1])
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

    The velocity ``v <- momentum * v - lr * grad`` is added to the weights; with Nesterov's
    momentum the step is ``momentum * v - lr * grad`` instead.

    Parameters
    ----------
    lr : float, default=0.01
        The learning rate (the base rate a schedule scales).
    momentum : float in [0, 1), default=0
        Fraction of the previous velocity kept; 0 is plain SGD.
    nesterov : bool, default=False
        Use Nesterov's momentum.
    learning_rate : float, optional
        ``lr`` by its Keras name; give one or the other (both is a TypeError).

    Attributes
    ----------
    lr, learning_rate : float
        The same value, by either name (assignable).

    Examples
    --------
    >>> import fastbp
    >>> fastbp.SGD(learning_rate=0.1, momentum=0.9)
    SGD(lr=0.1, momentum=0.9, nesterov=False)
    >>> fastbp.SGD(0.1).learning_rate
    0.1
    """

    code = codes.SGD

    def __init__(self, lr=_NOT_GIVEN, momentum=0.0, nesterov=False, *,
                 learning_rate=_NOT_GIVEN):
        super().__init__(lr, learning_rate=learning_rate, default_lr=0.01)
        self.momentum = check_fraction("momentum", momentum)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be a bool; got {nesterov!r}")
        self.nesterov = bool(nesterov)

    def settings(self, lr):
        """The record a backend's ``train_epoch`` takes, at the learning rate ``lr``.

        Parameters
        ----------
        lr : float
            The epoch's rate, from the schedule.

        Returns
        -------
        fastbp.kernels.records.SGDSettings
        """
        return SGDSettings(float(lr), self.momentum, self.nesterov)

    def __repr__(self):
        return f"SGD(lr={self.lr}, momentum={self.momentum}, nesterov={self.nesterov})"


class Adam(Optimizer):
    """Adam (Kingma & Ba), in scikit-learn's form: the bias correction is folded into the step size.

    Parameters
    ----------
    lr : float, default=0.001
        The learning rate (the base rate a schedule scales).
    beta_1 : float in [0, 1), default=0.9
        Decay rate of the first-moment (mean) estimate of the gradient.
    beta_2 : float in [0, 1), default=0.999
        Decay rate of the second-moment (uncentred variance) estimate.
    epsilon : float > 0, default=1e-8
        Added to the square root of the second moment, for numerical stability.
    learning_rate : float, optional
        ``lr`` by its Keras name; give one or the other (both is a TypeError).

    Attributes
    ----------
    lr, learning_rate : float
        The same value, by either name (assignable).

    Examples
    --------
    >>> import fastbp
    >>> fastbp.Adam(learning_rate=1e-3)
    Adam(lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-08)
    """

    code = codes.ADAM

    def __init__(self, lr=_NOT_GIVEN, beta_1=0.9, beta_2=0.999, epsilon=1e-8, *,
                 learning_rate=_NOT_GIVEN):
        super().__init__(lr, learning_rate=learning_rate, default_lr=0.001)
        self.beta_1 = check_fraction("beta_1", beta_1)
        self.beta_2 = check_fraction("beta_2", beta_2)
        self.epsilon = check_positive_float("epsilon", epsilon)

    def settings(self, lr):
        """The record a backend's ``train_epoch`` takes, at the learning rate ``lr``.

        Parameters
        ----------
        lr : float
            The epoch's rate, from the schedule.

        Returns
        -------
        fastbp.kernels.records.AdamSettings
        """
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
