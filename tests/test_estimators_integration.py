"""fastbp's estimators inside scikit-learn's tools: Pipeline, search, cross-validation, clone,
pickle and joblib."""

import io
import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastbp import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _iris():
    return load_iris(return_X_y=True)


def test_pipeline_and_cross_val_score():
    X, y = _iris()
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), max_iter=300,
                                                         learning_rate_init=0.01, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.85


def test_grid_search_with_two_processes():
    X, y = _iris()
    search = GridSearchCV(make_pipeline(StandardScaler(), MLPClassifier(max_iter=50,
                                                                        random_state=0)),
                          {"mlpclassifier__hidden_layer_sizes": [(4,), (16,)],
                           "mlpclassifier__learning_rate_init": [1e-3, 1e-2]},
                          cv=2, n_jobs=2)
    search.fit(X, y)
    assert search.best_params_["mlpclassifier__learning_rate_init"] == 1e-2
    assert search.best_estimator_[-1].n_iter_ == 50
    assert len(search.cv_results_["mean_test_score"]) == 4


def test_clone_keeps_parameters_and_drops_the_fit():
    X, y = _iris()
    est = MLPClassifier(hidden_layer_sizes=(5, 3), activation="gelu", dropout=0.1,
                        backend="numpy", max_iter=3).fit(X, y)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert not hasattr(copy, "coefs_")


@pytest.mark.parametrize("dump, load", [
    (pickle.dumps, pickle.loads),
    (lambda est: _joblib_bytes(est), lambda data: _joblib_load(data)),
], ids=["pickle", "joblib"])
@pytest.mark.parametrize("make, target", [
    (lambda: MLPClassifier(hidden_layer_sizes=(6,), max_iter=20, random_state=0), "labels"),
    (lambda: MLPRegressor(hidden_layer_sizes=(6,), max_iter=20, random_state=0), "values"),
], ids=["classifier", "regressor"])
def test_round_trip_predicts_the_same(dump, load, make, target):
    X, y = _iris()
    y = y if target == "labels" else X[:, 0] * 2
    est = make().fit(X, y)
    restored = load(dump(est))
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))
    for a, b in zip(restored.coefs_, est.coefs_):
        np.testing.assert_array_equal(a, b)
    restored.partial_fit(X, y)  # training resumes after a round trip
    assert restored.t_ == est.t_ + len(X)


def _joblib_bytes(est):
    buffer = io.BytesIO()
    joblib.dump(est, buffer)
    return buffer.getvalue()


def _joblib_load(data):
    return joblib.load(io.BytesIO(data))
