"""How an estimator's ``fit`` and ``partial_fit`` train: the checks made before anything changes,
scipy's L-BFGS on the full batch (:mod:`.lbfgs`) or one :meth:`fastbp.Sequential.fit` call for the
stochastic solvers, and the fitted attributes recorded from its history; a call that is refused
puts the estimator back as it was."""

import math
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

from ..errors import DivergenceError
from ..kernels.records import Penalty
from ..training.fit import TrainingPlan, train
from ..training.optimizers import SGD, Adam
from ..validation import check_sample_weight
from . import lbfgs
from .training import start_stochastic_fit

#: scikit-learn's message for non-finite weights, which code written for it may look for.
NON_FINITE_WEIGHTS = ("Solver produced non-finite parameter weights. The input data may contain "
                      "large values and need to be preprocessed.")


def effective_batch_size(setting, n, stacklevel):
    """The mini-batch size for ``n`` samples from the ``batch_size`` parameter, as scikit-learn
    resolves it: ``"auto"`` is ``min(200, n)``; a larger size is clipped to ``n``, with
    scikit-learn's warning (raised ``stacklevel`` frames above this function)."""
    if setting == "auto":
        return min(200, n)
    if setting > n:
        warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to "
                      "be clipped", UserWarning, stacklevel=stacklevel)
    return min(setting, n)


class Solvers:
    """:class:`~fastbp.estimators.base.BaseMLP`'s training: ``_fit`` and the solvers under it."""

    def _transaction(self, train, *args, **kwargs):
        """Run ``train``; if it raises before training starts, put every attribute back.

        Everything a refused call may have replaced (the network, ``classes_``, the optimizer and
        the stopping state) is rebound to a new object rather than changed in place before
        training starts, so restoring the attribute dict restores the estimator. A fit that
        diverges keeps what it set up instead (with a stochastic solver, the network holds the
        weights from before its :meth:`fastbp.Sequential.fit` call, which undoes itself).
        """
        saved = dict(self.__dict__)
        try:
            return train(*args, **kwargs)
        except DivergenceError as error:
            raise DivergenceError(f"{NON_FINITE_WEIGHTS} ({error})") from error
        except Exception:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    @staticmethod
    def _check_weights(sample_weight):
        if sample_weight is None:
            return
        if np.any(sample_weight < 0) or not np.any(sample_weight > 0):
            raise ValueError(f"sample weights (times class_weight, if given) must be "
                             f"non-negative and not all zero; got minimum "
                             f"{np.min(sample_weight)} and maximum {np.max(sample_weight)}")

    def _check_settings(self, incremental):
        """Settings refused whatever the data, checked before anything changes."""
        if self.solver == "lbfgs" and self.dropout:
            raise ValueError(f"dropout={self.dropout} needs a stochastic solver ('sgd' or "
                             f"'adam'); solver='lbfgs' minimises the deterministic loss")
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")

    def _fit(self, X, y, sample_weight=None, incremental=False):
        self._check_settings(incremental)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, Y, sample_weight, stratify = self._validate_training_data(
            X, y, sample_weight, incremental, reset=first_pass)
        self._check_weights(sample_weight)
        random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(X.shape[1], Y.shape[1], X.dtype, random_state)
        elif Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs, but the network was fitted with "
                             f"{self.n_outputs_}; refit without warm_start")
        model = self._network()
        if self.solver == "lbfgs":
            self._fit_lbfgs(model, X, Y, sample_weight)
            checked = False
        else:
            history = self._fit_stochastic(model, X, Y, sample_weight, stratify, incremental,
                                           random_state)
            # the epoch loop checks every epoch's weights: only a diverged one leaves them unsure
            checked = all(map(math.isfinite, history.loss))
        if not checked and not np.all(np.isfinite(model.parameters)):
            raise DivergenceError(NON_FINITE_WEIGHTS)
        return self

    @staticmethod
    def _penalty(alpha, n, sample_weight):
        """``alpha`` for fastbp's per-batch ``alpha / batch_size`` scaling that gives scikit-learn's
        ``alpha / sum(sample_weight)``: a weight of 2 then equals a repeated sample."""
        return alpha if sample_weight is None else alpha * n / float(np.sum(sample_weight))

    def _fit_lbfgs(self, model, X, Y, sample_weight):
        X, Y, weight = model.prepare(X, Y, sample_weight)
        alpha = self._penalty(self.alpha, X.shape[0], sample_weight)
        self.loss_, self.n_iter_ = lbfgs.fit_lbfgs(model, X, Y, weight, alpha, self.max_iter,
                                                   self.max_fun, self.tol, bool(self.verbose))

    def _new_optimizer(self):
        if self.solver == "sgd":
            return SGD(self.learning_rate_init, momentum=self.momentum,
                       nesterov=bool(self.nesterovs_momentum))
        return Adam(self.learning_rate_init, beta_1=self.beta_1, beta_2=self.beta_2,
                    epsilon=self.epsilon)

    def _validation_split(self, X, Y, sample_weight, stratify, random_state):
        """scikit-learn's hold-out: ``train_test_split`` with its random state and stratify."""
        arrays = (X, Y) if sample_weight is None else (X, Y, sample_weight)
        parts = train_test_split(*arrays, random_state=random_state,
                                 test_size=self.validation_fraction, stratify=stratify)
        X_train, X_val, Y_train, Y_val = parts[:4]
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        return X_train, Y_train, (None if sample_weight is None else parts[4]), (X_val, Y_val)

    def _fit_stochastic(self, model, X, Y, sample_weight, stratify, incremental, random_state):
        # a new optimizer per fit (scikit-learn's rule); partial_fit keeps its state
        state = start_stochastic_fit(self, keep_optimizer=incremental)
        validation = None
        if (self.early_stopping or self.validation) and not incremental:
            X, Y, sample_weight, validation = self._validation_split(X, Y, sample_weight,
                                                                     stratify, random_state)
        n = X.shape[0]
        batch_size = effective_batch_size(self.batch_size, n, stacklevel=4)
        # The data is checked and encoded already: the epoch loop takes it as it is, as
        # Sequential.fit would hand it on after checking it again (each pass over a large array
        # releases the GIL and waits to take it back beside a busy thread).
        weight = check_sample_weight(sample_weight, n, model.dtype)
        if sample_weight is not None and not float(np.max(weight)) > 0:
            raise ValueError("every training sample weight is zero (after the validation split "
                             "and the conversion to the model's dtype): no batch has anything to "
                             "learn")
        plan = TrainingPlan(1 if incremental else self.max_iter, batch_size, state.optimizer,
                            state.schedule, state.stopping, bool(self.shuffle),
                            Penalty(self._penalty(self.alpha, n, sample_weight), 0.0), 0)
        history = train(model, (np.ascontiguousarray(X), Y, weight, validation), plan,
                        np.random.default_rng(int(random_state.randint(np.iinfo(np.int32).max))))
        self._record(history, n, validation is not None)
        if not (incremental or history.stopped_early or history.interrupted) \
                and history.epochs == self.max_iter:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                          f"and the optimization hasn't converged yet.", ConvergenceWarning,
                          stacklevel=3)
        return history

    def _record(self, history, n, validated):
        """Copy one Sequential.fit's history into scikit-learn's fitted attributes."""
        self.n_iter_ = history.epochs
        self.t_ += n * history.epochs
        self.loss_curve_.extend(history.loss)
        if history.loss:
            self.loss_ = history.loss[-1]
        stopping = self._stopping
        if not self.early_stopping:
            self.best_loss_ = stopping.best
        if validated and self.validation_scores_ is not None:
            self.validation_scores_.extend(history.val_metric)
            self.validation_loss_curve_.extend(history.val_loss)
            self.best_validation_score_ = max(self.best_validation_score_, *history.val_metric)
        if self.early_stopping:
            # fit restored this call's best epoch; if none beat an earlier warm-start fit,
            # scikit-learn goes back to that fit's best weights
            if history.best_epoch is None and "_best_parameters" in self.__dict__:
                self._model.set_parameters(self._best_parameters)
            self._best_parameters = self._model.parameters.copy()
