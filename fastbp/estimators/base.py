"""What MLPClassifier and MLPRegressor share: parameters, the network, the solvers, prediction.

The estimators hold no training logic: they translate scikit-learn's parameters into a
:class:`fastbp.Sequential`, an optimizer, and scikit-learn's learning-rate and stopping rules
(:mod:`.rules`), and run one :meth:`Sequential.fit` call per ``fit`` (one epoch per
``partial_fit``). ``coefs_`` and ``intercepts_`` are views of the network's weights.
"""

import math
import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .. import backends
from ..errors import DivergenceError
from ..initializers import glorot_uniform_bound
from ..layers import Dense
from ..model import Sequential
from ..names import activation_name
from ..kernels.records import Penalty
from ..training.fit import TrainingPlan, train
from ..training.optimizers import SGD, Adam
from ..validation import check_sample_weight, ready
from . import lbfgs, rules
from .training import start_stochastic_fit

#: scikit-learn's hidden activations, then the ones fastbp adds.
HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu",
                      "leaky_relu", "elu", "gelu", "softplus")
STOCHASTIC_SOLVERS = ("sgd", "adam")
#: scikit-learn's message for non-finite weights, which code written for it may look for.
NON_FINITE_WEIGHTS = ("Solver produced non-finite parameter weights. The input data may contain "
                      "large values and need to be preprocessed.")
#: out_activation_ -> the fastbp loss fused with it (scikit-learn's pairs).
OUTPUT_LOSS = {"softmax": "cross_entropy", "logistic": "binary_cross_entropy",
               "identity": "squared_error", "exp": "poisson"}


def store_parameters(estimator, parameters):
    """Keep every ``__init__`` argument as an attribute of the same name, unchanged (scikit-learn's
    contract: ``__init__`` neither validates nor transforms)."""
    for name, value in parameters.items():
        if name != "self" and not name.startswith("__"):
            setattr(estimator, name, value)


def _as_dense(X):
    """Sparse input is densified once per call: the kernels take dense batches."""
    return X.toarray() if sp.issparse(X) else X



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

class BaseMLP(BaseEstimator):
    """Shared machinery; use :class:`fastbp.MLPClassifier` or :class:`fastbp.MLPRegressor`."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(HIDDEN_ACTIVATIONS))],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "power_t": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        # scikit-learn allows momentum=1, which never forgets a gradient; fastbp's SGD refuses it
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left"),
                             Options(numbers.Real, {np.inf})],
        "max_fun": [Interval(numbers.Integral, 1, None, closed="left")],
        "dtype": [None, StrOptions({"float32", "float64"}),
                  Options(type, {np.float32, np.float64})],
        "backend": [StrOptions(set(backends.BACKENDS))],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "validation": ["boolean"],
    }

    # ---- subclass hooks ---------------------------------------------------------------------
    def _validate_training_data(self, X, y, sample_weight, incremental, reset):
        """Validated ``X``, encoded targets ``Y`` of shape (n, n_outputs), per-sample weights or
        None, and the labels to stratify a validation split by (or None)."""
        raise NotImplementedError

    def _output_activation(self):
        raise NotImplementedError

    # ---- parameters -------------------------------------------------------------------------
    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if any(not isinstance(s, numbers.Integral) or isinstance(s, bool) or s < 1
               for s in sizes):
            raise ValueError(f"hidden_layer_sizes must hold positive integers; got {sizes}")
        return [int(s) for s in sizes]

    def _input_dtype(self, reset):
        """Where ``X`` goes: the fitted dtype after the first fit, else ``dtype`` or the input's
        float32/float64 (scikit-learn's rule: anything but float32 becomes float64)."""
        if not reset:
            return self.coefs_[0].dtype
        return (np.float64, np.float32) if self.dtype is None else np.dtype(self.dtype)

    def _validated_X(self, X, reset=False):
        """``X`` for prediction: checked against the fitted features, in the network's dtype."""
        # +inf and -inf sum to NaN in scikit-learn's finiteness check: an error, not a warning
        with np.errstate(over="ignore", invalid="ignore"):
            X = validate_data(self, X, accept_sparse=["csr", "csc"],
                              dtype=self._input_dtype(reset), reset=reset)
        return _as_dense(X)

    def _validated_Xy(self, X, y, reset, **options):
        """``X`` and ``y`` for training, through scikit-learn's ``validate_data``."""
        with np.errstate(over="ignore", invalid="ignore"):  # as in _validated_X
            X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                                 dtype=self._input_dtype(reset), reset=reset, **options)
        return _as_dense(X), y


    # ---- the network ------------------------------------------------------------------------
    def _model_key(self):
        return self.backend, self.activation, float(self.dropout)

    def _bind(self, model):
        """Make ``model`` the estimator's network; coefs_/intercepts_ become views of it."""
        self._model, self._built_for = model, self._model_key()
        self.coefs_ = [layer.W for layer in model.layers]
        self.intercepts_ = [layer.b for layer in model.layers]
        return model

    def _new_network(self, units, dtype, random_state):
        """A network with scikit-learn's initialisation: Glorot-uniform weights and biases drawn
        from ``random_state`` in scikit-learn's order (same seed, same initial weights)."""
        # scikit-learn scales every layer's bound by the hidden activation, the output layer's too
        hidden = activation_name(self.activation)
        layers = []
        for i in range(len(units) - 1):
            n_in, n_out = units[i], units[i + 1]
            last = i == len(units) - 2
            layer = Dense(n_in, n_out, self.out_activation_ if last else self.activation,
                          dropout=0.0 if last else self.dropout)
            bound = glorot_uniform_bound(n_in, n_out, hidden)
            layer.W = random_state.uniform(-bound, bound, (n_in, n_out))
            layer.b = random_state.uniform(-bound, bound, n_out)
            layers.append(layer)
        return Sequential(layers, loss=OUTPUT_LOSS[self.out_activation_], dtype=dtype,
                          backend=self.backend, seed=0)

    def _bound_network(self):
        """The network made for coefs_/intercepts_, if they are still its arrays and nothing it
        was built from changed (fitted attributes included, so it passes ``_check_coefs``); else
        None."""
        model = self.__dict__.get("_model")
        if (model is not None and self._built_for == self._model_key()
                and self.n_features_in_ == model.n_inputs and self.n_outputs_ == model.n_outputs
                and self.n_layers_ == len(model.layers) + 1
                and len(self.coefs_) == len(model.layers)
                and len(self.intercepts_) == len(model.layers)
                and all(c is layer.W and b is layer.b
                        for c, b, layer in zip(self.coefs_, self.intercepts_, model.layers))):
            return model
        return None

    def _network(self):
        """The network holding coefs_/intercepts_, rebuilt from them when they were replaced,
        after unpickling, or when backend/activation/dropout changed."""
        model = self._bound_network()
        if model is not None:
            return model
        self._check_coefs()
        coefs = [np.asarray(c) for c in self.coefs_]
        dtype = coefs[0].dtype if coefs[0].dtype in (np.float32, np.float64) else np.float64
        layers = []
        for i, (W, b) in enumerate(zip(coefs, self.intercepts_)):
            last = i == len(coefs) - 1
            layer = Dense(W.shape[0], W.shape[1],
                          self.out_activation_ if last else self.activation,
                          dropout=0.0 if last else self.dropout)
            layer.W, layer.b = W, b
            layers.append(layer)
        model = Sequential(layers, loss=OUTPUT_LOSS[self.out_activation_], dtype=dtype,
                           backend=self.backend, seed=0)
        model.samples_seen = getattr(self, "t_", 0)  # invscaling's clock
        return self._bind(model)

    def _check_coefs(self):
        """Refuse ``coefs_``/``intercepts_`` that no longer form the fitted network's shape."""
        coefs, intercepts = self.coefs_, self.intercepts_
        if len(coefs) != self.n_layers_ - 1 or len(intercepts) != self.n_layers_ - 1:
            raise ValueError(f"coefs_ and intercepts_ must hold {self.n_layers_ - 1} arrays (one "
                             f"per layer); got {len(coefs)} and {len(intercepts)}")
        widths = [self.n_features_in_]
        for i, (W, b) in enumerate(zip(coefs, intercepts)):
            W, b = np.shape(W), np.shape(b)
            n_out = self.n_outputs_ if i == len(coefs) - 1 else (W[1] if len(W) == 2 else None)
            if W != (widths[-1], n_out) or b != (n_out,):
                raise ValueError(f"coefs_[{i}] must have shape {(widths[-1], n_out)} and "
                                 f"intercepts_[{i}] shape {(n_out,)} to fit the network "
                                 f"({self.n_features_in_} features, {self.n_outputs_} outputs); "
                                 f"got {W} and {b}")
            widths.append(n_out)

    def _initialize(self, n_features, n_outputs, dtype, random_state):
        """Fresh fitted state, as scikit-learn's ``_initialize``."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = n_outputs
        units = [n_features, *self._hidden_sizes(), n_outputs]
        self.n_layers_ = len(units)
        self.out_activation_ = self._output_activation()
        self._bind(self._new_network(units, dtype, random_state))
        for name in ("_optimizer", "_schedule", "_best_parameters"):
            self.__dict__.pop(name, None)
        if self.solver in STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._stopping = rules.SklearnStopping(self.early_stopping, self.n_iter_no_change,
                                                   self.tol, schedule=None)
            validated = self.early_stopping or self.validation
            self.validation_scores_ = [] if validated else None
            self.validation_loss_curve_ = [] if validated else None
            self.best_validation_score_ = -np.inf if validated else None
            self.best_loss_ = None if self.early_stopping else np.inf

    # ---- training ---------------------------------------------------------------------------
    def _transaction(self, train, *args, **kwargs):
        """Run ``train``; if it raises before training starts, put every attribute back.

        Everything a refused call may have replaced (the network, ``classes_``, the optimizer and
        the stopping state) is rebound to a new object rather than changed in place before
        training starts, so restoring the attribute dict restores the estimator. A fit that
        diverges has trained: it keeps the last weights with finite output instead.
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
        if not float(np.max(weight)) > 0:
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

    # ---- prediction -------------------------------------------------------------------------
    def _forward(self, X):
        """The network's output for ``X``; shape (n_samples, n_outputs_).

        ``X`` that scikit-learn's checks would pass unchanged (:func:`fastbp.validation.ready`: a
        finite C-contiguous ndarray of the fitted dtype and width) skips them, when the estimator
        was fitted without feature names (scikit-learn warns about an ndarray otherwise); any
        other ``X`` takes scikit-learn's checks, with their messages and warnings."""
        model = self._bound_network() if "_model" in self.__dict__ else None
        if (model is not None and "feature_names_in_" not in self.__dict__
                and ready(X, model.dtype, model.n_inputs)):
            return model.forward_validated(X)
        check_is_fitted(self)
        X = self._validated_X(X, reset=False)
        return self._network().forward(X)

    def _check_solver(self):
        if self.solver not in STOCHASTIC_SOLVERS:
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return True

    def save(self, path, *, include_optimizer=False):
        """Write this fitted estimator to ``path``; see :func:`fastbp.save`.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (replaced atomically if it exists).
        include_optimizer : bool, default=False
            Also store the optimizer state and learning-rate schedule ``partial_fit`` continues
            with, so that training resumed after :meth:`load` is the same as uninterrupted
            training.
        """
        from ..io import save

        save(self, path, include_optimizer=include_optimizer)

    @classmethod
    def load(cls, path, *, backend=None):
        """Read an estimator written by :meth:`save` or :func:`fastbp.save`; see
        :func:`fastbp.load`.

        Parameters
        ----------
        path : str or os.PathLike
            The model file.
        backend : {'cpu', 'numpy', 'cuda'} or None, default=None
            Run the loaded estimator on this backend instead of the one it was saved with.

        Returns
        -------
        MLPClassifier or MLPRegressor
            An instance of the class this is called on.

        Raises
        ------
        TypeError
            When the file holds something else (a network, or the other estimator).
        """
        from ..io import load

        loaded = load(path, backend=backend)
        if not isinstance(loaded, cls):
            raise TypeError(f"{path} holds a {type(loaded).__name__}, not a {cls.__name__}: "
                            f"use {type(loaded).__name__}.load or fastbp.load")
        return loaded

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to ``X`` and ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; sparse input is densified once per call.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets: class labels (or a multilabel indicator matrix) for the classifier, values
            for the regressor.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss; None weighs every sample 1.

        Returns
        -------
        self
            The fitted estimator.
        """
        return self._transaction(self._fit, X, y, sample_weight=sample_weight, incremental=False)

    def _sample_weight(self, sample_weight, X):
        if sample_weight is None:
            return None
        if isinstance(sample_weight, numbers.Complex) and not isinstance(sample_weight,
                                                                         numbers.Real):
            # scikit-learn would fill the weights with its real part, warning (an error under
            # -W error) rather than refusing, as it refuses complex arrays
            raise TypeError(f"sample_weight must be real; got the complex number "
                            f"{sample_weight!r}")
        with np.errstate(over="ignore", invalid="ignore"):  # as in _validated_X
            return _check_sample_weight(sample_weight, X, dtype=np.float64)

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: BaseEstimator may hand back __dict__
        state.pop("_model", None)  # holds a kernel module; rebuilt from coefs_ on first use
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


#: Docstring text shared by both estimators.
PARAMETERS_DOC = """
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        Width of each hidden layer.
    activation : {'identity', 'logistic', 'tanh', 'relu', 'leaky_relu', 'elu', 'gelu', \
'softplus'}, default='relu'
        Hidden activation; the last four are fastbp's additions.
    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        'lbfgs' runs scipy's L-BFGS-B on the full batch.
    alpha : float, default=0.0001
        L2 penalty, ``alpha / (2 * sum(batch sample weights)) * ||W||^2`` per batch.
    batch_size : int or 'auto', default='auto'
        'auto' is ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Schedule for ``solver='sgd'``: 'invscaling' is ``learning_rate_init / (t + 1) ** power_t``
        with ``t`` the samples seen; 'adaptive' divides the rate by 5 whenever the monitored figure
        stalls for ``n_iter_no_change + 1`` epochs and stops below 1e-6. Adam ignores it.
    learning_rate_init : float, default=0.001
        Initial learning rate of 'sgd' and 'adam'.
    power_t : float, default=0.5
        Exponent of ``learning_rate='invscaling'``.
    max_iter : int, default=200
        Epochs for the stochastic solvers, iterations for 'lbfgs'.
    shuffle : bool, default=True
        Visit the samples in a new random order each epoch (stochastic solvers).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights (drawn exactly as scikit-learn draws them), the validation
        split, shuffling and dropout.
    tol : float, default=1e-4
        An epoch counts toward ``n_iter_no_change`` unless it improves the best training loss
        (with ``early_stopping``, the best validation score) by at least ``tol``. For 'lbfgs',
        scipy's projected-gradient tolerance.
    verbose : bool or int, default=False
        Any true value prints scikit-learn's lines to stdout: ``Iteration N, loss = L`` after each
        epoch (and ``Validation score: S`` with early stopping).
    warm_start : bool, default=False
        Start ``fit`` from the weights of the previous fit (same classes required for a
        classifier) instead of a fresh initialisation.
    momentum : float in [0, 1), default=0.9
        Momentum of 'sgd' (scikit-learn allows 1; fastbp refuses it).
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum with 'sgd'.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when the validation score stalls and
        keep the best epoch's weights.
    validation_fraction : float, default=0.1
        Fraction of the training data held out with ``early_stopping`` or ``validation``.
    beta_1, beta_2 : float in [0, 1), default=0.9, 0.999
        Decay rates of Adam's first and second moment estimates.
    epsilon : float, default=1e-8
        Adam's term added to the denominator for numerical stability.
    n_iter_no_change : int or np.inf, default=10
        Stochastic solvers stop once more than this many consecutive epochs fail to improve by
        ``tol``; with ``solver='sgd'`` and ``learning_rate='adaptive'`` the rate is divided by 5
        instead, until it falls below 1e-6.
    max_fun : int, default=15000
        Loss evaluations allowed to 'lbfgs'.
    dtype : {None, 'float32', 'float64'}, default=None
        Precision of the network; None follows ``X`` (float32 stays float32, anything else is
        float64).
    backend : {'cpu', 'numpy', 'cuda'}, default='cpu'
        'cpu' runs the Numba CPU kernels, 'numpy' the NumPy reference kernels, 'cuda' the Numba
        CUDA kernels on an NVIDIA GPU; 'cuda' needs numba-cuda and a usable GPU
        (``pip install 'fastbp[cuda]'``), else fitting raises :class:`fastbp.DeviceError`.
    dropout : float in [0, 1), default=0
        Inverted dropout on every hidden layer while training.
    validation : bool, default=False
        Hold out ``validation_fraction`` and record the validation score and loss every epoch
        even without early stopping.
"""

ATTRIBUTES_DOC = """
    loss_ : float
        Training loss of the last epoch (penalty included).
    best_loss_ : float or None
        Best training loss (None with early stopping).
    loss_curve_ : list of float
        Training loss of each epoch (stochastic solvers).
    validation_scores_ : list of float or None
        Validation score of each epoch when a validation split is used (``early_stopping`` or
        ``validation``), else None.
    validation_loss_curve_ : list of float or None
        Validation loss of each epoch, likewise (fastbp's addition).
    best_validation_score_ : float or None
    t_ : int
        Training samples seen.
    coefs_ : list of ndarray of shape (n_in, n_out)
        Weights of each layer (views of the network's; writable).
    intercepts_ : list of ndarray of shape (n_out,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Only when ``X`` has string column names.
    n_iter_ : int
        Epochs (or lbfgs iterations) run by the last fit.
    n_layers_ : int
    n_outputs_ : int
"""
