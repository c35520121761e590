"""scikit-learn's learning-rate and stopping rules, plugged into :meth:`fastbp.Sequential.fit`.

``fit`` asks a schedule for each epoch's rate and shows every finished epoch to an early-stopping
object; these two implement ``MLPClassifier``'s rules through those hooks, so a whole estimator fit
is one ``Sequential.fit`` call. Their state (best loss or score, the no-improvement count, the
adaptive rate) lives across ``fit`` calls, as scikit-learn's does across ``warm_start`` fits and
``partial_fit`` calls: ``reset`` is a no-op and the estimator makes fresh objects when it restarts.
"""

import math

from ..training.schedules import Schedule
from ..training.stopping import EarlyStopping

#: ``learning_rate='adaptive'`` stops instead of shrinking the rate once it is this small.
ADAPTIVE_MIN_LR = 1e-6
#: ... and otherwise divides the rate by this on each plateau.
ADAPTIVE_FACTOR = 5.0


class SklearnSchedule(Schedule):
    """``learning_rate`` in {'constant', 'invscaling', 'adaptive'}, as scikit-learn's SGD has it.

    ``invscaling`` uses ``base / (t + 1) ** power_t`` with ``t`` the samples seen before the
    epoch, except for the first epoch of a fresh optimizer, which runs at the base rate
    (scikit-learn updates the rate at the end of an epoch). ``adaptive`` runs at
    ``base * scale``, with ``scale`` divided by 5 by :class:`SklearnStopping` on each plateau.
    """

    def __init__(self, kind, power_t):
        self.kind = kind
        self.power_t = float(power_t)
        self.scale = 1.0
        self.fresh = True

    def lr(self, epoch, base_lr, samples_seen):
        if self.kind == "invscaling" and not self.fresh:
            return base_lr / (samples_seen + 1) ** self.power_t
        return base_lr * self.scale

    def update(self, epoch, logs):
        self.fresh = False

    def reset(self):
        """State spans fit calls (see the module docstring)."""


class SklearnStopping(EarlyStopping):
    """scikit-learn's ``n_iter_no_change``/``tol`` rule on the training loss or validation score.

    An epoch counts as no improvement when the loss is not below ``best_loss - tol`` (or the
    validation score not above ``best_score + tol``); once the count exceeds ``n_iter_no_change``
    training stops, or with ``learning_rate='adaptive'`` the rate is divided by 5 and the count
    restarts, until the rate falls to 1e-6. The best figure is the best seen, improved by any
    amount.

    Parameters
    ----------
    on_validation : bool
        Monitor the validation score (``early_stopping=True``) instead of the training loss.
    n_iter_no_change : int or inf
    tol : float
    schedule : SklearnSchedule
        Its ``scale`` is what ``adaptive`` divides.
    """

    def __init__(self, on_validation, n_iter_no_change, tol, schedule):
        # EarlyStopping.__init__ validates integer patience; this rule also allows an infinite one
        self.monitor = "val_metric" if on_validation else "loss"
        self.patience = n_iter_no_change + 1
        self.min_delta = float(tol)
        self.restore_best_weights = bool(on_validation)
        self.schedule = schedule
        self.best = -math.inf if on_validation else math.inf
        self.best_epoch = None
        self.wait = 0

    def reset(self):
        """State spans fit calls (see the module docstring)."""
        self.best_epoch = None

    def update(self, epoch, logs):
        """Record ``epoch``'s figures; returns (is_new_best, should_stop)."""
        sign = -1.0 if self.monitor == "val_metric" else 1.0
        value, best = sign * logs[self.monitor], sign * self.best
        self.wait = 0 if value <= best - self.min_delta else self.wait + 1
        improved = value < best
        if improved:
            self.best, self.best_epoch = logs[self.monitor], epoch
        if self.wait < self.patience:
            return improved, False
        if self.schedule.kind != "adaptive" or logs["lr"] <= ADAPTIVE_MIN_LR:
            return improved, True
        self.schedule.scale /= ADAPTIVE_FACTOR
        self.wait = 0
        return improved, False
