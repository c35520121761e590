"""scikit-learn's learning-rate and stopping rules, plugged into :meth:`fastbp.Sequential.fit`.

``fit`` asks a schedule for each epoch's rate and shows every finished epoch to an early-stopping
object; these two implement ``MLPClassifier``'s rules through those hooks, so a whole estimator fit
is one ``Sequential.fit`` call. Their state (best loss or score, the no-improvement count, the
adaptive rate) lives across ``fit`` calls, as scikit-learn's does across ``warm_start`` fits and
``partial_fit`` calls: ``reset`` is a no-op and the estimator makes fresh objects when it restarts.
"""

import math

from ..schedules import Schedule
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
        # scikit-learn finishes a diverging early-stopping fit (NaN scores) with its best weights
        self.finishes_diverging_fits = bool(on_validation)
        #: set by the estimator: print scikit-learn's verbose lines
        self.verbose = False
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
        value = logs[self.monitor]
        self._report(epoch, logs)
        # scikit-learn's comparisons, written as it writes them: a NaN figure resets the count
        if self.monitor == "val_metric":
            stalled, improved = value < self.best + self.min_delta, value > self.best
        else:
            stalled, improved = value > self.best - self.min_delta, value < self.best
        self.wait = self.wait + 1 if stalled else 0
        if improved:
            self.best, self.best_epoch = value, epoch
        if self.wait < self.patience:
            return improved, False
        if self.schedule.kind != "adaptive" or logs["lr"] <= ADAPTIVE_MIN_LR:
            self._say(f"{self._stall_message()} Stopping.")
            return improved, True
        self.schedule.scale /= ADAPTIVE_FACTOR
        self._say(f"{self._stall_message()} Setting learning rate to "
                  f"{logs['lr'] / ADAPTIVE_FACTOR:f}")
        self.wait = 0
        return improved, False

    def _report(self, epoch, logs):
        """scikit-learn's per-iteration lines."""
        self._say(f"Iteration {epoch + 1}, loss = {logs['loss']:.8f}")
        if self.monitor == "val_metric":
            self._say(f"Validation score: {logs['val_metric']:f}")

    def _stall_message(self):
        what = ("Validation score" if self.monitor == "val_metric" else "Training loss")
        return (f"{what} did not improve more than tol={self.min_delta:f} for "
                f"{self.patience - 1} consecutive epochs.")

    def _say(self, line):
        if self.verbose:
            print(line, flush=True)
