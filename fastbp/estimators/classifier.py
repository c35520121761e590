"""``MLPClassifier``: scikit-learn's multi-layer perceptron classifier on fastbp's kernels."""

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import column_or_1d

from .base import ATTRIBUTES_DOC, PARAMETERS_DOC, BaseMLP, store_parameters
from .targets import fitted_indicator, indicator


class MLPClassifier(ClassifierMixin, BaseMLP):
    __doc__ = f"""Multi-layer perceptron classifier trained by fastbp: a drop-in for
    :class:`sklearn.neural_network.MLPClassifier`.

    Same parameters, defaults, fitted attributes and stopping rules as scikit-learn's; with the
    same ``random_state`` the initial weights are identical, and with ``shuffle=False`` so is the
    training. The output is softmax with cross-entropy for multiclass targets and logistic with
    binary cross-entropy (summed over outputs) for binary and multilabel ones.

    Parameters
    ----------{PARAMETERS_DOC}
    class_weight : dict, list of dict, 'balanced' or None, default=None
        Weights per class, multiplied into the sample weights (as
        :func:`sklearn.utils.class_weight.compute_sample_weight` computes them; a multilabel
        target takes one dict per label, or 'balanced'). 'balanced' is refused by
        ``partial_fit``, which sees one batch at a time.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels; for multilabel targets, the column indices ``0 .. n_labels - 1``.
{ATTRIBUTES_DOC}
    out_activation_ : {{'softmax', 'logistic'}}

    Notes
    -----
    With ``early_stopping``, the validation split is stratified for binary targets only, exactly
    as scikit-learn does, and the validation score ignores sample weights. Sparse ``X`` is
    densified once per call.
    """

    _parameter_constraints: dict = {
        **BaseMLP._parameter_constraints,
        "class_weight": [dict, list, StrOptions({"balanced"}), None],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype=None, backend="cpu", dropout=0.0, validation=False, class_weight=None):
        store_parameters(self, locals())

    def _output_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validate_training_data(self, X, y, sample_weight, incremental, reset):
        X, y = self._validated_Xy(X, y, reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        # scikit-learn's rules for when the classes are (re)learned or must match
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer, Y = fitted_indicator(y, X.dtype)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(f"warm_start can only be used where `y` has the same "
                                     f"classes as in the previous call to fit. Previously got "
                                     f"{self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
            Y = indicator(self._label_binarizer, y, X.dtype)
        sample_weight = self._sample_weight(sample_weight, X)
        if self.class_weight is not None:
            if incremental and self.class_weight == "balanced":
                raise ValueError("class_weight='balanced' is not supported for partial_fit: each "
                                 "call would balance its own batch. Pass a dict of weights.")
            # a multilabel indicator is weighted per label column (the product over labels)
            weights = compute_sample_weight(self.class_weight, y)
            sample_weight = weights if sample_weight is None else sample_weight * weights
        # scikit-learn stratifies its early-stopping split for binary targets only
        # on the boolean indicator column, as scikit-learn does (its messages name 'True'/'False')
        stratify = Y.astype(bool) if Y.shape[1] == 1 and y.ndim == 1 else None
        return X, Y, sample_weight, stratify

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``(X, y)``, continuing from the current state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array of shape (n_classes,), default=None
            Every class of all calls; required on the first call.

        Returns
        -------
        self
        """
        return self._transaction(self._partial_fit, X, y, sample_weight, classes)

    def _partial_fit(self, X, y, sample_weight, classes):
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X):
        """Predicted labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        return self._labels(self._forward(X))

    def _labels(self, output):
        """The labels of the network's ``output``, as ``LabelBinarizer.inverse_transform`` gives
        them. Its checks cost several times a one-row prediction, so the multiclass and two-class
        cases do its arithmetic directly: the class of the largest output, or of the output above
        its threshold of 0.5 (the binarizer's labels are 0 and 1)."""
        binarizer = self._label_binarizer
        classes = binarizer.classes_
        if not binarizer.sparse_input_ and binarizer.neg_label == 0 and binarizer.pos_label == 1:
            if binarizer.y_type_ == "multiclass":
                return classes.take(output.argmax(axis=1), mode="clip")
            if binarizer.y_type_ == "binary" and len(classes) == 2:
                return classes[(output.ravel() > 0.5).astype(int)]
        return binarizer.inverse_transform(output.ravel() if self.n_outputs_ == 1 else output)

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        output = self._forward(X)
        if self.n_outputs_ == 1:
            p = output.ravel()
            return np.vstack([1 - p, p]).T
        return output

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities, ``log(predict_proba(X))``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The samples.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            ``-inf`` where a probability is 0.
        """
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba, out=proba)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
