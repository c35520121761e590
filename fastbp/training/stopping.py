"""Early stopping on a monitored figure, with the best weights kept."""

import math

import numpy as np

from ..validation import check_non_negative_float, check_positive_int

#: The figures a fit can log, with their Keras names: each model's metric is ``accuracy`` (the
#: classification losses) or ``r2`` (the regression ones), on the training data when ``fit`` is
#: asked for it (``metrics=``) and on the validation data as ``val_accuracy``/``val_r2``, which
#: ``val_metric`` also names.
MONITORS = ("val_loss", "val_metric", "loss", "val_accuracy", "val_r2", "accuracy", "r2")


def maximised(monitor):
    """Whether a larger ``monitor`` is better: the metrics, not the losses.

    Examples
    --------
    >>> maximised("val_accuracy"), maximised("val_loss")
    (True, False)
    """
    return not monitor.endswith("loss")


def check_monitor(monitor):
    """``monitor`` if it is one of :data:`MONITORS`; ValueError naming them otherwise."""
    if monitor not in MONITORS:
        raise ValueError(f"monitor must be one of {list(MONITORS)}; got {monitor!r}")
    return monitor


class EarlyStopping:
    """Stop when ``monitor`` has not improved by at least ``min_delta`` for ``patience`` epochs.

    The rule is scikit-learn's: the best figure is the best seen so far, while the patience counter
    resets only on an improvement of at least ``min_delta``. (scikit-learn stops once the counter
    *exceeds* ``n_iter_no_change``, i.e. ``patience = n_iter_no_change + 1`` here.)

    Parameters
    ----------
    monitor : str, default="val_loss"
        One of :data:`MONITORS`: ``"val_loss"``, ``"loss"``, the validation metric as
        ``"val_accuracy"`` or ``"val_r2"`` (or ``"val_metric"``, whichever the loss gives), or the
        training one (``"accuracy"``, ``"r2"``), which ``fit`` computes when asked with
        ``metrics=``. The metrics are maximised, the losses minimised.
    patience : int, default=10
        Consecutive epochs without an improvement of at least ``min_delta`` after which to stop.
    min_delta : float, default=0
        Non-negative: how much an epoch must improve on the best figure to reset the patience
        count.
    restore_best_weights : bool, default=True
        At the end, put back the weights of the best epoch.
    """

    #: Whether a fit that diverges goes on recording NaN figures until this rule stops it (or the
    #: epochs run out) and then restores the best weights, instead of raising.
    finishes_diverging_fits = False

    def __init__(self, monitor="val_loss", patience=10, min_delta=0.0, restore_best_weights=True):
        self.monitor = check_monitor(monitor)
        self.patience = check_positive_int("patience", patience)
        self.min_delta = check_non_negative_float("min_delta", min_delta)
        self.restore_best_weights = bool(restore_best_weights)
        self.reset()

    @property
    def needs_validation(self):
        """Whether the monitored figure is a validation one."""
        return self.monitor.startswith("val_")

    def reset(self):
        """Forget the best figure and the patience count (``fit`` calls it when it starts)."""
        self.best = -math.inf if maximised(self.monitor) else math.inf
        self.best_epoch = None
        self.wait = 0

    def epochs_before_stop(self):
        """How many more epochs, at the least, this rule lets run: it cannot stop the fit before
        the end of the ``patience - wait``-th next epoch (``wait``: the epochs already counted
        without improvement). The fit uses it to train no more epochs ahead of Python than it may
        keep (:mod:`fastbp.training.runs`).

        Returns
        -------
        int or float
            At least 1 (infinite for an infinite patience).
        """
        return max(1, self.patience - self.wait)

    def run_rule(self):
        """This rule as a run of epochs applies it in the backend, where it watches the training
        loss: a run then ends at the epoch at which the rule stops the fit, and needs not stop
        at :meth:`epochs_before_stop`.

        Returns
        -------
        ndarray of float64, shape (5,), or None
            ``[patience, min_delta, best, wait, 0]``, the
            :class:`~fastbp.kernels.records.EpochRun` field ``stop_rule``; None where the rule
            watches another figure (Python computes it between runs).

        Examples
        --------
        >>> EarlyStopping("loss", patience=3, min_delta=0.01).run_rule()
        array([3.  , 0.01,  inf, 0.  , 0.  ])
        >>> EarlyStopping("val_loss").run_rule() is None
        True
        """
        if self.monitor != "loss":
            return None
        return np.array([self.patience, self.min_delta, self.best, self.wait, 0.0])

    def update(self, epoch, logs):
        """Record ``epoch``'s figures.

        Parameters
        ----------
        epoch : int
            The finished epoch, counted from 0.
        logs : dict
            Its figures by name; ``logs[monitor]`` is read.

        Returns
        -------
        is_new_best : bool
            Whether the figure beats the best so far (by any amount).
        should_stop : bool
            Whether the patience has run out.
        """
        sign = -1.0 if maximised(self.monitor) else 1.0
        value = sign * logs[self.monitor]
        best = sign * self.best
        self.wait = 0 if value <= best - self.min_delta else self.wait + 1
        improved = value < best
        if improved:
            self.best, self.best_epoch = logs[self.monitor], epoch
        return improved, self.wait >= self.patience
