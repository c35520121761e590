"""``DaskMLPClassifier``: :class:`fastbp.MLPClassifier` trained data-parallel on a Dask cluster."""

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.validation import check_is_fitted

from ..estimators import MLPClassifier, training
from ..estimators.base import PARAMETERS_DOC, store_parameters
from . import inputs, predict
from .base import (
    DASK_ATTRIBUTES_DOC,
    DASK_NOTES,
    DASK_PARAMETERS_DOC,
    DaskMLP,
    dask_constraints,
)
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
{DASK_ATTRIBUTES_DOC}
    Notes
    -----{DASK_NOTES}
    ``y`` holds one label per row (binary or multiclass), or an indicator matrix of one
    column per label (multilabel: ``predict`` gives one, ``score`` is the subset accuracy, as
    for :class:`fastbp.MLPClassifier`).
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
                 client=None, sync="gradient", sync_every=None, timeout=600.0):
        store_parameters(self, locals())

    def _targets(self, y):
        y = inputs.as_array(y, "y", (1, 2))
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        return y

    def _learn_targets(self, client, local, y):
        import dask.array as da

        if y.ndim == 2:
            values = results(client, [client.compute(da.unique(y))], list(client.nthreads()),
                             self.timeout, "reading the labels")[0]
            if not np.all(np.isin(values, (0, 1))):
                raise ValueError(f"{type(self).__name__} takes one label per row, or a "
                                 f"multilabel indicator matrix of 0s and 1s; got y of shape "
                                 f"{y.shape} holding {values[:10].tolist()}")
            return self._learn_labels(local, y)

        unique = client.compute(list(da.unique(y, return_counts=True)))
        classes, counts = results(client, unique, list(client.nthreads()), self.timeout,
                                  "finding the classes")
        if hasattr(local, "classes_") and not np.array_equal(classes, local.classes_):
            raise ValueError(f"warm_start can only be used where `y` has the same classes as "
                             f"in the previous call to fit. Previously got {local.classes_}, "
                             f"`y` has {classes}")
        binarizer = LabelBinarizer().fit(classes)
        training.set_label_binarizer(local, binarizer)
        if self.class_weight == "balanced":
            # scikit-learn's 'balanced' weights, from the counts of every row
            weights = counts.sum() / (len(classes) * counts.astype(np.float64))
            local.class_weight = dict(zip(classes.tolist(), weights.tolist()))
        return binarizer.transform(classes[:1]).shape[1]

    def _learn_labels(self, local, y):
        """Multilabel targets: an indicator matrix of one column per label, as the local
        estimator takes it (its values are checked on the workers, with the local messages)."""
        if self.class_weight is not None:
            raise ValueError(f"class_weight is for one label per row; got a multilabel y of "
                             f"{y.shape[1]} columns")
        n_labels = y.shape[1]
        if hasattr(local, "classes_") and len(local.classes_) != n_labels:
            raise ValueError(f"warm_start can only be used where `y` has the same classes as "
                             f"in the previous call to fit. Previously got {local.classes_}, "
                             f"`y` has {n_labels} label columns")
        # fitted on an indicator matrix, the binarizer learns what it learns from y itself: the
        # type 'multilabel-indicator' and the classes 0 .. n_labels - 1
        binarizer = LabelBinarizer().fit(np.eye(max(n_labels, 2), n_labels, dtype=np.int64))
        training.set_label_binarizer(local, binarizer)
        return n_labels

    def multilabel(self):
        """Whether the fitted classifier takes one indicator column per label (multilabel ``y``).
        """
        check_is_fitted(self)
        return training.label_binarizer(self._local).y_type_ == "multilabel-indicator"

    def _keep(self, local, cluster, history, n):
        local.class_weight = self.class_weight  # 'balanced' was turned into a dict for the shards
        super()._keep(local, cluster, history, n)

    def predict_proba(self, X):
        """Class probabilities on the workers, lazily, columns in the order of ``classes_``.

        Parameters
        ----------
        X : dask.array.Array or dask.dataframe.DataFrame of shape (n_samples, n_features)
            The samples, partitioned by rows; each partition is predicted where it lies.

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
            The samples, partitioned by rows.
        y : dask.array.Array or dask.dataframe.Series of shape (n_samples,) or (n_samples, n_labels)
            True labels, or a multilabel indicator matrix (a row then counts as right only when
            every label is: the subset accuracy); re-chunked to the rows of ``X``.
        sample_weight : dask.array.Array of shape (n_samples,), optional
            Weight of each sample in the mean; None weighs every sample 1.

        Returns
        -------
        dask.array.Array of shape ()
            ``.compute()`` gives the float.
        """
        return predict.accuracy(*self._score_inputs(X, y, sample_weight))
