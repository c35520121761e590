"""``DaskMLPRegressor``: :class:`fastbp.MLPRegressor` trained data-parallel on a Dask cluster."""

from sklearn.base import RegressorMixin

from ..estimators import MLPRegressor
from ..estimators.base import PARAMETERS_DOC, store_parameters
from . import inputs, predict
from .base import (
    DASK_ATTRIBUTES_DOC,
    DASK_NOTES,
    DASK_PARAMETERS_DOC,
    DaskMLP,
    dask_constraints,
)


class DaskMLPRegressor(RegressorMixin, DaskMLP):
    __doc__ = f"""Multi-layer perceptron regressor trained data-parallel on a Dask cluster.

    The parameters of :class:`fastbp.MLPRegressor`, plus those of the cluster; see
    :class:`DaskMLPClassifier` for the rest.

    Parameters
    ----------
    loss : {{'squared_error', 'poisson'}}, default='squared_error'{PARAMETERS_DOC}
{DASK_PARAMETERS_DOC}
    Attributes
    ----------
    coefs_, intercepts_, loss_, loss_curve_, best_loss_, n_iter_, t_, n_features_in_,
    feature_names_in_, n_layers_, n_outputs_, out_activation_
        As :class:`fastbp.MLPRegressor`'s.
{DASK_ATTRIBUTES_DOC}
    Notes
    -----{DASK_NOTES}"""

    _local_class = MLPRegressor
    _parameter_constraints: dict = dask_constraints(MLPRegressor)

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype=None, backend="cpu", dropout=0.0, validation=False, client=None,
                 sync="gradient", sync_every=None, timeout=600.0):
        store_parameters(self, locals())

    def _targets(self, y):
        return inputs.as_array(y, "y", (1, 2))

    def _learn_targets(self, client, local, y):
        return 1 if y.ndim == 1 else y.shape[1]

    def score(self, X, y, sample_weight=None):
        """R^2 (averaged over outputs), computed on the workers.

        Parameters
        ----------
        X : dask.array.Array or dask.dataframe.DataFrame of shape (n_samples, n_features)
            The samples, partitioned by rows.
        y : dask.array.Array of shape (n_samples,) or (n_samples, n_outputs)
            True values; re-chunked to the rows of ``X``.
        sample_weight : dask.array.Array of shape (n_samples,), optional
            Weight of each sample; None weighs every sample 1.

        Returns
        -------
        dask.array.Array of shape ()
            ``.compute()`` gives the float.
        """
        return predict.r2(*self._score_inputs(X, y, sample_weight))
