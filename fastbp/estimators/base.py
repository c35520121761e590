"""What MLPClassifier and MLPRegressor share: parameters, the network, prediction, model files.

The estimators hold no training logic: they translate scikit-learn's parameters into a
:class:`fastbp.Sequential`, an optimizer, and scikit-learn's learning-rate and stopping rules
(:mod:`.rules`), and run one :meth:`Sequential.fit` call per ``fit`` (one epoch per
``partial_fit``); how is :mod:`.solvers`. ``coefs_`` and ``intercepts_`` are views of the network's
weights. The shared docstring sections are in :mod:`.docstrings`.
"""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .. import backends
from ..initializers import glorot_uniform_bound
from ..layers import Dense
from ..model import Sequential
from ..names import activation_name
from ..validation import ready
from . import rules
from .docstrings import ATTRIBUTES_DOC, PARAMETERS_DOC
from .solvers import NON_FINITE_WEIGHTS, Solvers, effective_batch_size

__all__ = ["ATTRIBUTES_DOC", "HIDDEN_ACTIVATIONS", "NON_FINITE_WEIGHTS", "OUTPUT_LOSS",
           "PARAMETERS_DOC", "STOCHASTIC_SOLVERS", "BaseMLP", "effective_batch_size",
           "store_parameters"]

#: scikit-learn's hidden activations, then the ones fastbp adds.
HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu",
                      "leaky_relu", "elu", "gelu", "softplus")
STOCHASTIC_SOLVERS = ("sgd", "adam")
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


class BaseMLP(Solvers, BaseEstimator):
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
            # one call draws what scikit-learn's two, the weights' then the biases', draw
            values = random_state.uniform(-bound, bound, n_in * n_out + n_out)
            layer.W = values[:n_in * n_out].reshape(n_in, n_out)
            layer.b = values[n_in * n_out:]
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

    # ---- prediction -------------------------------------------------------------------------
    def _forward(self, X):
        """The network's output for ``X``; shape (n_samples, n_outputs_).

        ``X`` that scikit-learn's checks would pass unchanged (:func:`fastbp.validation.ready`: a
        C-contiguous ndarray of the fitted dtype and width, found finite by the forward pass)
        skips them, when the estimator was fitted without feature names (scikit-learn warns about
        an ndarray otherwise); any other ``X`` takes scikit-learn's checks, with their messages
        and warnings."""
        model = self._bound_network() if "_model" in self.__dict__ else None
        if (model is not None and "feature_names_in_" not in self.__dict__
                and ready(X, model.dtype, model.n_inputs, finite=False)):
            # the forward pass checks that X is finite as it reads it; where it is not,
            # scikit-learn's checks below say so, with the estimator's message
            out = model.forward_validated(X, finite=False)
            if out is not None:
                return out
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
