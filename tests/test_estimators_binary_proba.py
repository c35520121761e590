"""A binary MLPClassifier's ``predict_proba`` columns are in scikit-learn's order.

With two classes the network has one sigmoid output, P(``classes_[1]``); ``predict_proba`` must
give ``[P(classes_[0]), P(classes_[1])]`` per row, as scikit-learn does, for any labels (text,
integers that are not 0/1, a first row of the second class). Checked three ways: against
scikit-learn's MLPClassifier fitted with the same settings (their losses agree to rounding in
float64 with unshuffled full-batch SGD), against the network's own sigmoid output, and against
``predict``.
"""

import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier as SkClassifier

import fastbp
from fastbp.estimators import training

SETTINGS = dict(hidden_layer_sizes=(4,), solver="sgd", learning_rate_init=0.1, momentum=0.5,
                shuffle=False, batch_size=60, alpha=1e-4, max_iter=40, tol=0.0,
                n_iter_no_change=1000, random_state=0)

LABELS = {
    "text": np.array(["no", "yes"]),
    "integers": np.array([3, 7]),
    "negative and positive": np.array([-1, 1]),
}


def _data(labels):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 3))
    # two classes in unequal shares, so that P(classes_[1]) is far from 1/2 on most rows; the
    # first row is of the second class, so that the order of appearance is not the sorted order
    second = X[:, 0] + 0.5 * X[:, 1] > -0.6
    second[0] = True
    return X, np.where(second, labels[1], labels[0])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("labels", list(LABELS), ids=list(LABELS))
def test_binary_predict_proba_columns_follow_classes(labels):
    X, y = _data(LABELS[labels])
    ours = fastbp.MLPClassifier(**SETTINGS, dtype="float64").fit(X, y)
    theirs = SkClassifier(**SETTINGS).fit(X, y)
    np.testing.assert_array_equal(ours.classes_, np.sort(LABELS[labels]))
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)

    proba = ours.predict_proba(X)
    assert proba.shape == (len(X), 2)
    # scikit-learn's own order, to rounding (their loss curves agree to about 1e-15)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(proba, theirs.predict_proba(X), rtol=1e-9, atol=1e-12)
    # column 1 is the network's sigmoid output, P(classes_[1]); column 0 its complement
    sigmoid = training.network(ours).forward(X)[:, 0]
    np.testing.assert_array_equal(proba[:, 1], sigmoid)
    np.testing.assert_allclose(proba[:, 0], 1 - sigmoid, rtol=0, atol=1e-15)
    # the two columns are told apart on this data: a swap could not pass the checks above
    assert np.mean(np.abs(proba[:, 1] - proba[:, 0]) > 0.2) > 0.5
    # predict names the class of the larger column, and the log probabilities follow the columns
    np.testing.assert_array_equal(ours.predict(X), ours.classes_[proba.argmax(axis=1)])
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.predict_log_proba(X), np.log(proba), rtol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_binary_predict_proba_order_on_each_host_backend_and_dtype(backend):
    X, y = _data(LABELS["text"])
    for dtype in ("float32", "float64"):
        ours = fastbp.MLPClassifier(**SETTINGS, dtype=dtype, backend=backend).fit(X, y)
        proba = ours.predict_proba(X.astype(dtype))
        yes = training.network(ours).forward(X.astype(dtype))[:, 0]
        np.testing.assert_array_equal(proba[:, 1], yes)  # P("yes"), classes_[1]
        np.testing.assert_array_equal(ours.predict(X.astype(dtype)) == "yes", yes > 0.5)
