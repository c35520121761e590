"""Early stopping on a monitored figure, with the best weights kept."""

import math

from ..validation import check_non_negative_float, check_positive_int


class EarlyStopping:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    The rule is scikit-learn's: the best figure is the best seen so far, while the patience counter
    resets only on an improvement of at least ``min_delta``. (scikit-learn stops once the counter
    *exceeds* ``n_iter_no_change``, i.e. ``patience = n_iter_no_change + 1`` here.)

    Parameters
    ----------
    monitor : {"val_loss", "val_metric", "loss"}, default="val_loss"
        ``val_metric`` (accuracy or R^2) is maximised, the losses minimised.
    patience : int, default=10
    min_delta : float, default=0
    restore_best_weights : bool, default=True
        At the end, put back the weights of the best epoch.
    """

    #: Whether a fit that diverges goes on recording NaN figures until this rule stops it (or the
    #: epochs run out) and then restores the best weights, instead of raising.
    finishes_diverging_fits = False

    def __init__(self, monitor="val_loss", patience=10, min_delta=0.0, restore_best_weights=True):
        if monitor not in ("val_loss", "val_metric", "loss"):
            raise ValueError(f"monitor must be 'val_loss', 'val_metric' or 'loss'; got {monitor!r}")
        self.monitor = monitor
        self.patience = check_positive_int("patience", patience)
        self.min_delta = check_non_negative_float("min_delta", min_delta)
        self.restore_best_weights = bool(restore_best_weights)
        self.reset()

    @property
    def needs_validation(self):
        return self.monitor != "loss"

    def reset(self):
        self.best = -math.inf if self.monitor == "val_metric" else math.inf
        self.best_epoch = None
        self.wait = 0

    def update(self, epoch, logs):
        """Record ``epoch``'s figures; returns (is_new_best, should_stop)."""
        sign = -1.0 if self.monitor == "val_metric" else 1.0
        value = sign * logs[self.monitor]
        best = sign * self.best
        self.wait = 0 if value <= best - self.min_delta else self.wait + 1
        improved = value < best
        if improved:
            self.best, self.best_epoch = logs[self.monitor], epoch
        return improved, self.wait >= self.patience
