"""``DaskMLPClassifier``: :class:`fastbp.MLPClassifier` trained data-parallel on a Dask cluster."""

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.validation import check_is_fitted

from ..estimators import MLPClassifier
from ..estimators.base import PARAMETERS_DOC, store_parameters
from . import inputs, predict
from .base import DASK_NOTES, DASK_PARAMETERS_DOC, DaskMLP, dask_constraints
from .waiting import results


class DaskMLPClassifier(ClassifierMixin, DaskMLP):
    __doc__ = f"""Multi-layer perceptron classifier trained data-parallel on a Dask cluster.

    The parameters of :class:`fastbp.MLPClassifier`, plus those of the cluster. ``fit`` takes
    Dask arrays or DataFrames partitioned by rows and leaves the rows on the workers;
    ``predict``, ``predict_proba`` and ``score`` run on the workers and return Dask arrays.
    ``to_local()`` gives the fitted :class:`fastbp.MLPClassifier`.

    Parameters
    ----------{PARAMETERS_DOC}
    class_weight : dict, 'balanced' or None, default=None
        'balanced' is computed from the class counts of all of ``y``.
{DASK_PARAMETERS_DOC}
    Attributes
    ----------
    classes_, coefs_, intercepts_, loss_, loss_curve_, best_loss_, n_iter_, t_,
    n_features_in_, feature_names_in_, n_layers_, n_outputs_, out_activation_
        As :class:`fastbp.MLPClassifier`'s.
    workers_ : list of str
        The workers that trained, in the order of their first partition.
    rows_per_worker_ : list of int
    bytes_per_round_ : list of (int, int)
        Per round, the bytes of weights and moments sent to each worker and received from it.
    epoch_seconds_ : list of float
        Wall-clock seconds of each epoch.

    Notes
    -----{DASK_NOTES}
    ``y`` must hold one label per row (binary or multiclass); multilabel targets are refused.
    """

    _local_class = MLPClassifier
    _parameter_constraints: dict = dask_constraints(MLPClassifier)

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype=None, backend="cpu", dropout=0.0, validation=False, class_weight=None,
                 client=None, sync_every=None, timeout=600.0):
        store_parameters(self, locals())

    def _targets(self, y):
        y = inputs.as_array(y, "y", (1, 2))
        if y.ndim == 2:
            if y.shape[1] != 1:
                raise ValueError(f"{type(self).__name__} takes one label per row; got y of "
                                 f"shape {y.shape} (multilabel targets: use MLPClassifier)")
            y = y[:, 0]
        return y

    def _learn_targets(self, client, local, y):
        import dask.array as da

        unique = client.compute(list(da.unique(y, return_counts=True)))
        classes, counts = results(client, unique, list(client.nthreads()), self.timeout,
                                  "finding the classes")
        if hasattr(local, "classes_") and not np.array_equal(classes, local.classes_):
            raise ValueError(f"warm_start can only be used where `y` has the same classes as "
                             f"in the previous call to fit. Previously got {local.classes_}, "
                             f"`y` has {classes}")
        local._label_binarizer = LabelBinarizer().fit(classes)
        local.classes_ = local._label_binarizer.classes_
        if self.class_weight == "balanced":
            # scikit-learn's 'balanced' weights, from the counts of every row
            weights = counts.sum() / (len(classes) * counts.astype(np.float64))
            local.class_weight = dict(zip(classes.tolist(), weights.tolist()))
        return local._label_binarizer.transform(classes[:1]).shape[1]

    def _keep(self, local, cluster, history, n):
        local.class_weight = self.class_weight  # 'balanced' was turned into a dict for the shards
        super()._keep(local, cluster, history, n)

    def predict_proba(self, X):
        """Class probabilities on the workers, lazily, columns in the order of ``classes_``.

        Parameters
        ----------
        X : dask.array.Array or dask.dataframe.DataFrame of shape (n_samples, n_features)

        Returns
        -------
        dask.array.Array of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return predict.blocks(self._local, X, "predict_proba")

    def score(self, X, y, sample_weight=None):
        """Mean accuracy, computed on the workers.

        Parameters
        ----------
        X : dask.array.Array or dask.dataframe.DataFrame of shape (n_samples, n_features)
        y : dask.array.Array or dask.dataframe.Series of shape (n_samples,)
        sample_weight : dask.array.Array of shape (n_samples,), optional

        Returns
        -------
        dask.array.Array of shape ()
            ``.compute()`` gives the float.
        """
        return predict.accuracy(*self._score_inputs(X, y, sample_weight))
