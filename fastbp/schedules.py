"""Learning-rate schedules, evaluated once per epoch.

A schedule maps ``(epoch, base_lr, samples_seen)`` to the epoch's learning rate; stateful ones
(:class:`ReduceLROnPlateau`) also see each finished epoch's figures through :meth:`Schedule.update`.
"""

import math

from .validation import check_positive_float, check_positive_int


class Schedule:
    """Base class: the learning rate for an epoch, given the optimizer's base rate."""

    def lr(self, epoch, base_lr, samples_seen):
        """Learning rate of ``epoch``; subclasses implement it.

        Parameters
        ----------
        epoch : int
            The epoch, counted from 0 (from the end of the warm-up for a schedule that
            :class:`LinearWarmup` wraps).
        base_lr : float
            The optimizer's learning rate.
        samples_seen : int
            Training samples the model has seen before this epoch, across fits.

        Returns
        -------
        float
            The rate the epoch trains at.
        """
        raise NotImplementedError

    def update(self, epoch, logs):
        """Called after each epoch with its figures; does nothing unless overridden.

        Parameters
        ----------
        epoch : int
            The finished epoch, counted from 0.
        logs : dict
            Its figures by name (``loss``, ``val_loss``, ...), as :attr:`fastbp.History.history`
            names them.
        """

    def reset(self):
        """Forget any state from a previous ``fit``."""

    def check_monitor(self, validated):
        """Refuse, before training starts, a fit that lacks a figure this schedule reads.

        Parameters
        ----------
        validated : bool
            Whether the fit computes validation figures (``val_loss``).
        """


class Constant(Schedule):
    """The base rate throughout."""

    def lr(self, epoch, base_lr, samples_seen):
        """``base_lr``, whatever the epoch.

        Parameters
        ----------
        epoch, base_lr, samples_seen
            As for :meth:`Schedule.lr`.
        """
        return base_lr


class StepDecay(Schedule):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs.

    Parameters
    ----------
    step_size : int
        Epochs between two multiplications.
    gamma : float, default=0.1
        The factor, positive: ``base_lr * gamma ** (epoch // step_size)``.
    """

    def __init__(self, step_size, gamma=0.1):
        self.step_size = check_positive_int("step_size", step_size)
        self.gamma = check_positive_float("gamma", gamma)

    def lr(self, epoch, base_lr, samples_seen):
        """``base_lr * gamma ** (epoch // step_size)``.

        Parameters
        ----------
        epoch, base_lr, samples_seen
            As for :meth:`Schedule.lr`.
        """
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealing(Schedule):
    """Cosine decay from the base rate to ``eta_min`` over ``T_max`` epochs (then held).

    Parameters
    ----------
    T_max : int
        Epochs of the decay; from epoch ``T_max`` on the rate stays at ``eta_min``.
    eta_min : float, default=0
        The final rate, non-negative.
    """

    def __init__(self, T_max, eta_min=0.0):
        self.T_max = check_positive_int("T_max", T_max)
        if eta_min < 0:
            raise ValueError(f"eta_min must be >= 0; got {eta_min}")
        self.eta_min = float(eta_min)

    def lr(self, epoch, base_lr, samples_seen):
        """``eta_min + (base_lr - eta_min) * (1 + cos(pi * min(epoch, T_max) / T_max)) / 2``.

        Parameters
        ----------
        epoch, base_lr, samples_seen
            As for :meth:`Schedule.lr`.
        """
        progress = min(epoch, self.T_max) / self.T_max
        return self.eta_min + 0.5 * (base_lr - self.eta_min) * (1 + math.cos(math.pi * progress))


class LinearWarmup(Schedule):
    """Ramp linearly up to the wrapped schedule's rate over ``warmup_epochs``, then follow it.

    Parameters
    ----------
    warmup_epochs : int
        Epochs of the ramp: epoch ``e < warmup_epochs`` runs at
        ``base_lr * (e + 1) / (warmup_epochs + 1)``.
    after : Schedule, default=Constant()
        The schedule that takes over; its epochs are counted from the end of the warm-up.
    """

    def __init__(self, warmup_epochs, after=None):
        self.warmup_epochs = check_positive_int("warmup_epochs", warmup_epochs)
        self.after = Constant() if after is None else after
        if not isinstance(self.after, Schedule):
            raise TypeError(f"after must be a Schedule; got {after!r}")

    def lr(self, epoch, base_lr, samples_seen):
        """The ramp's rate during the warm-up, then ``after``'s.

        Parameters
        ----------
        epoch, base_lr, samples_seen
            As for :meth:`Schedule.lr`.
        """
        if epoch < self.warmup_epochs:
            return base_lr * (epoch + 1) / (self.warmup_epochs + 1)
        return self.after.lr(epoch - self.warmup_epochs, base_lr, samples_seen)

    def update(self, epoch, logs):
        """Pass an epoch after the warm-up on to ``after``, its epochs counted from the warm-up's
        end.

        Parameters
        ----------
        epoch, logs
            As for :meth:`Schedule.update`.
        """
        if epoch >= self.warmup_epochs:
            self.after.update(epoch - self.warmup_epochs, logs)

    def reset(self):
        """Reset ``after``."""
        self.after.reset()

    def check_monitor(self, validated):
        """``after``'s check.

        Parameters
        ----------
        validated : bool
            Whether the fit computes validation figures.
        """
        self.after.check_monitor(validated)


class InvScaling(Schedule):
    """scikit-learn's ``invscaling``: ``base_lr / (samples_seen + 1) ** power_t``.

    Parameters
    ----------
    power_t : float, default=0.5
        The exponent.
    """

    def __init__(self, power_t=0.5):
        self.power_t = float(power_t)

    def lr(self, epoch, base_lr, samples_seen):
        """``base_lr / (samples_seen + 1) ** power_t``.

        Parameters
        ----------
        epoch, base_lr, samples_seen
            As for :meth:`Schedule.lr`.
        """
        return base_lr / (samples_seen + 1) ** self.power_t


class ReduceLROnPlateau(Schedule):
    """Multiply the rate by ``factor`` when ``monitor`` has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : {"val_loss", "loss"}, default="val_loss"
        The figure watched; ``"val_loss"`` needs validation data.
    factor : float in (0, 1), default=0.1
        What the rate is multiplied by on each plateau.
    patience : int, default=10
        Epochs without improvement that make a plateau; the count then restarts.
    min_delta : float, default=1e-4
        An epoch improves only if it beats the best figure by more than this.
    min_lr : float, default=0
        The rate never goes below this.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, min_delta=1e-4, min_lr=0.0):
        if monitor not in ("val_loss", "loss"):
            raise ValueError(f"monitor must be 'val_loss' or 'loss'; got {monitor!r}")
        if not 0 < factor < 1:
            raise ValueError(f"factor must be in (0, 1); got {factor}")
        self.monitor, self.factor, self.min_delta = monitor, float(factor), float(min_delta)
        self.patience = check_positive_int("patience", patience)
        self.min_lr = float(min_lr)
        self.reset()

    def reset(self):
        """Back to the base rate, with no best figure and no epochs counted."""
        self.scale = 1.0
        self._best = math.inf
        self._wait = 0

    def lr(self, epoch, base_lr, samples_seen):
        """``base_lr`` times ``factor`` per plateau so far, but at least ``min_lr``.

        Parameters
        ----------
        epoch, base_lr, samples_seen
            As for :meth:`Schedule.lr`.
        """
        return max(base_lr * self.scale, self.min_lr)

    def check_monitor(self, validated):
        """Refuse ``monitor='val_loss'`` for a fit without validation data.

        Parameters
        ----------
        validated : bool
            Whether the fit computes validation figures.

        Raises
        ------
        ValueError
            If ``monitor`` is ``"val_loss"`` and ``validated`` is False.
        """
        if self.monitor == "val_loss" and not validated:
            raise ValueError("ReduceLROnPlateau monitors 'val_loss', which this fit does not "
                             "compute: pass validation_data or validation_split, or "
                             "monitor='loss'")

    def update(self, epoch, logs):
        """Count the epoch toward a plateau unless it improves ``logs[monitor]``; on a plateau
        multiply the rate by ``factor``.

        Parameters
        ----------
        epoch, logs
            As for :meth:`Schedule.update`.

        Raises
        ------
        ValueError
            If ``logs`` lacks the monitored figure.
        """
        value = logs.get(self.monitor)
        if value is None:
            raise ValueError(f"ReduceLROnPlateau monitors {self.monitor!r}, which this fit does "
                             f"not compute (pass validation data, or monitor='loss')")
        if value < self._best - self.min_delta:
            self._best, self._wait = value, 0
        else:
            self._wait += 1
            if self._wait >= self.patience:
                self.scale *= self.factor
                self._wait = 0


def resolve(spec):
    """A :class:`Schedule` from an instance, ``None`` (constant) or a name with default settings."""
    if spec is None or spec == "constant":
        return Constant()
    if spec == "invscaling":
        return InvScaling()
    if isinstance(spec, Schedule):
        return spec
    raise ValueError(f"schedule must be a Schedule, None, 'constant' or 'invscaling'; got {spec!r}")
