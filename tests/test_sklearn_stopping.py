"""The estimators stop where scikit-learn's MLPs stop: ``n_iter_no_change`` and ``tol`` pinned.

Two oracles. End to end: fastbp's estimator and scikit-learn's, fitted with the same settings on the
same data (full-batch or unshuffled SGD in float64, where their loss curves agree to rounding), run
exactly as many epochs (``n_iter_``), on the training loss, on the validation score, and with the
adaptive learning rate. On given figures: fastbp's rule (:class:`fastbp.estimators.rules.
SklearnStopping`) is fed sequences built to sit on the rule's edges (a loss exactly ``tol`` below
the best, flat runs one epoch short of and at the patience, NaN), and stops at the epoch that
scikit-learn's own ``_update_no_improvement_count`` and its optimizer's ``trigger_stopping`` stop at.
"""

import inspect
import math
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

import fastbp
from fastbp.estimators import rules


# ---- end to end -------------------------------------------------------------------------------
def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 3))
    y = X[:, 0] - 0.5 * X[:, 1] + 0.3 * rng.standard_normal(80)
    return X, y


def _distance_to_the_rule(curve, tol, higher_is_better):
    """How far each figure is from flipping scikit-learn's comparison with the best before it:
    the end-to-end comparison means something only if rounding cannot flip one."""
    best, distance = (-math.inf if higher_is_better else math.inf), math.inf
    for value in curve:
        if math.isfinite(best):
            edge = best + tol if higher_is_better else best - tol
            distance = min(distance, abs(value - edge))
        best = max(best, value) if higher_is_better else min(best, value)
    return distance


CASES = [
    # (n_iter_no_change, tol, learning_rate, batch_size, early_stopping)
    (1, 1e-2, "constant", 80, False),
    (3, 1e-3, "constant", 80, False),
    (2, 1e-3, "adaptive", 80, False),
    (4, 1e-3, "constant", 24, False),
    (1, 1e-2, "constant", 24, True),
    (4, 1e-3, "constant", 24, True),
]


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
@pytest.mark.parametrize("n_iter_no_change, tol, learning_rate, batch_size, early_stopping", CASES)
def test_n_iter_is_scikit_learns(kind, n_iter_no_change, tol, learning_rate, batch_size,
                                 early_stopping):
    X, y = _data()
    if kind == "classifier":
        y = (y > 0).astype(int)
    settings = dict(hidden_layer_sizes=(5,), solver="sgd", learning_rate_init=0.05, momentum=0.5,
                    learning_rate=learning_rate, shuffle=False, batch_size=batch_size, alpha=1e-4,
                    tol=tol, n_iter_no_change=n_iter_no_change, max_iter=2000, random_state=0,
                    early_stopping=early_stopping, validation_fraction=0.25)
    ours_class, theirs_class = {"regressor": (fastbp.MLPRegressor, SkRegressor),
                                "classifier": (fastbp.MLPClassifier, SkClassifier)}[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # both must stop by the rule
        theirs = theirs_class(**settings).fit(X, y)
        ours = ours_class(**settings, dtype="float64").fit(X, y)
    figures = theirs.validation_scores_ if early_stopping else theirs.loss_curve_
    assert _distance_to_the_rule(figures, tol, higher_is_better=early_stopping) > 1e-9
    assert n_iter_no_change + 1 < theirs.n_iter_ < 2000  # improved a while, then stopped
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    assert ours.n_iter_ == theirs.n_iter_
    if early_stopping:
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-9)
        assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_,
                                                            rel=1e-9)
    else:
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9)


# ---- on given figures -------------------------------------------------------------------------
def _sklearn_stops_after(figures, n_iter_no_change, tol, on_validation, adaptive):
    """The epoch count at which scikit-learn's MLP stops on these per-epoch figures (training
    losses, or validation scores), or None if it runs through them: its own
    ``_update_no_improvement_count`` and ``SGDOptimizer.trigger_stopping``, driven by the loop
    of its ``_fit_stochastic`` (``if self._no_improvement_count > self.n_iter_no_change: ...``)."""
    model = SkRegressor(n_iter_no_change=n_iter_no_change, tol=tol)
    model._no_improvement_count = 0
    model.loss_curve_, model.best_loss_ = [], np.inf
    model.validation_scores_, model.best_validation_score_ = [], -np.inf
    model.coefs_, model.intercepts_ = [], []
    scores = iter(figures)
    model._score = lambda *args, **kwargs: next(scores)
    optimizer = SGDOptimizer([], learning_rate_init=0.1,
                             lr_schedule="adaptive" if adaptive else "constant")
    # scikit-learn 1.7 added a sample-weight argument
    extra = (None,) * (len(inspect.signature(model._update_no_improvement_count).parameters) - 1)
    for epoch, figure in enumerate(figures):
        if not on_validation:
            model.loss_curve_.append(figure)
        model._update_no_improvement_count(on_validation, *extra)
        if model._no_improvement_count > model.n_iter_no_change:
            if optimizer.trigger_stopping("", False):
                return epoch + 1
            model._no_improvement_count = 0
    return None


def _fastbp_stops_after(figures, n_iter_no_change, tol, on_validation, adaptive):
    """The same for fastbp's rule, shown each epoch's logs as ``Sequential.fit`` shows them."""
    schedule = rules.SklearnSchedule("adaptive" if adaptive else "constant", 0.5)
    stopping = rules.SklearnStopping(on_validation, n_iter_no_change, tol, schedule)
    for epoch, figure in enumerate(figures):
        lr = schedule.lr(epoch, 0.1, 0)
        _, stop = stopping.update(epoch, {"loss": figure, "val_metric": figure, "lr": lr})
        schedule.update(epoch, {})
        if stop:
            return epoch + 1
    return None


def _losses(n_iter_no_change, tol):
    """Training-loss sequences on the rule's edges for this patience and tolerance."""
    k, flat = n_iter_no_change, [1.0] * (n_iter_no_change + 3)
    return {
        "flat from the start": flat,  # with tol=0 an equal loss is no stall
        "worse every epoch": [1.0 + i / 4 for i in range(k + 3)],
        "exactly tol better each epoch": [1.0 - i * tol for i in range(3 * k + 6)],
        "half tol better each epoch": [1.0 - i * tol / 2 for i in range(3 * k + 6)],
        "stalls k epochs then improves": [2.0] + [1.99] * k + [1.0] + [0.999] * (k + 2),
        "stalls k + 1 epochs": [2.0] + [2.0] * (k + 1) + [1.0] * (k + 3),
        "worse then a new best": [1.0, 1.5, 2.0, 0.5] + [0.5] * (k + 3),
        "a NaN loss": [1.0, 0.9, math.nan, 0.8] + [0.8] * (k + 3),
        "improving by more than tol": [1.0 / (i + 1) for i in range(3 * k + 6)],
    }


@pytest.mark.parametrize("adaptive", [False, True])
@pytest.mark.parametrize("on_validation", [False, True])
@pytest.mark.parametrize("tol", [0.0, 0.125])  # binary fractions: the sums in the rule are exact
@pytest.mark.parametrize("n_iter_no_change", [1, 2, 5])
def test_the_rule_stops_where_scikit_learn_stops(n_iter_no_change, tol, on_validation,
                                                 adaptive):
    stops = {}
    for name, losses in _losses(n_iter_no_change, tol).items():
        # a validation score is better when higher: the same sequences, negated
        figures = [-value for value in losses] if on_validation else losses
        # the adaptive rate shrinks 1e-1 -> 1e-6 over eight plateaus before it stops: repeat
        figures = figures * 12 if adaptive else figures
        expected = _sklearn_stops_after(figures, n_iter_no_change, tol, on_validation, adaptive)
        found = _fastbp_stops_after(figures, n_iter_no_change, tol, on_validation, adaptive)
        assert found == expected, (name, figures[:12])
        stops[name] = expected
    # the sequences exercise the rule: some stop, and not all at the same epoch (or never)
    assert any(value is not None for value in stops.values())
    assert len(set(stops.values())) >= 2
