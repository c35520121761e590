"""``MLPRegressor``: scikit-learn's multi-layer perceptron regressor on fastbp's kernels."""

from sklearn.base import RegressorMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import column_or_1d

from ..validation import in_dtype
from .base import ATTRIBUTES_DOC, PARAMETERS_DOC, BaseMLP, store_parameters


class MLPRegressor(RegressorMixin, BaseMLP):
    __doc__ = f"""Multi-layer perceptron regressor trained by fastbp: a drop-in for
    :class:`sklearn.neural_network.MLPRegressor`.

    Same parameters, defaults, fitted attributes and stopping rules as scikit-learn's; with the
    same ``random_state`` the initial weights are identical. With ``loss='squared_error'`` the
    output layer is the identity and the loss half the mean squared error over samples and
    outputs; with ``loss='poisson'`` the output is ``exp`` and the loss scikit-learn's half Poisson
    deviance (mean over samples, sum over outputs), for non-negative targets.

    Parameters
    ----------
    loss : {{'squared_error', 'poisson'}}, default='squared_error'
        'poisson' fits log-rates: the output is ``exp`` of the last layer and ``y`` must be
        non-negative (a negative target raises ValueError).{PARAMETERS_DOC}

    Attributes
    ----------{ATTRIBUTES_DOC}
    out_activation_ : {{'identity', 'exp'}}

    Notes
    -----
    With several outputs, fastbp's gradient is the exact gradient of the loss (mean over samples
    *and* outputs); scikit-learn's divides by the number of samples only, i.e. it is
    ``n_outputs`` times the gradient of the loss it reports. The single-output case is identical,
    and so is ``loss='poisson'``, which both libraries sum over outputs.
    Sparse ``X`` is densified once per call.
    """

    _parameter_constraints: dict = {
        **BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype=None, backend="cpu", dropout=0.0, validation=False):
        store_parameters(self, locals())

    def _output_activation(self):
        return "exp" if self.loss == "poisson" else "identity"

    def _validate_training_data(self, X, y, sample_weight, incremental, reset):
        X, y = self._validated_Xy(X, y, reset=reset, y_numeric=True)
        if self.loss == "poisson" and y.size and y.min() < 0:
            # scikit-learn would train on NaN losses here; refuse instead
            raise ValueError(f"loss='poisson' needs non-negative targets (counts or rates); got "
                             f"a minimum of {y.min()}")
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        Y = in_dtype("y", y.reshape(-1, 1) if y.ndim == 1 else y, X.dtype)
        return X, Y, self._sample_weight(sample_weight, X), None

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``(X, y)``, continuing from the current state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        return self._transaction(self._fit, X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X):
        """Predicted values.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        output = self._forward(X)
        return output.ravel() if output.shape[1] == 1 else output

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        # scikit-learn's own checks then feed poisson non-negative targets (it leaves this False
        # for its MLPRegressor and lets a negative target make the loss NaN)
        tags.target_tags.positive_only = self.loss == "poisson"
        return tags
