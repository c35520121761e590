"""fastbp's MLPClassifier/MLPRegressor against scikit-learn's on small real data sets.

Both estimators run with default settings and the same ``random_state`` on the same split; the
benchmark times fastbp's fits, ``extra_info`` holds scikit-learn's time, the speed-up and both
mean test scores (accuracy, or R^2 for diabetes). The mean score over the seeds must be within
1 point of scikit-learn's (``--profile full``: 5 seeds; the quick smoke run uses 2 seeds and a
3-point margin).
Run: ``pytest benchmarks/test_estimators.py --profile full --benchmark-json=...``.
"""

import time
import warnings

import numpy as np
import pytest
from sklearn import datasets, neural_network
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import fastbp

from .baselines import settle

#: name -> (loader, estimator class name)
CASES = {
    "digits": (datasets.load_digits, "MLPClassifier"),
    "breast_cancer": (datasets.load_breast_cancer, "MLPClassifier"),
    "iris": (datasets.load_iris, "MLPClassifier"),
    "wine": (datasets.load_wine, "MLPClassifier"),
    "diabetes": (datasets.load_diabetes, "MLPRegressor"),
}


def _split(loader, classifier, seed):
    """A 75/25 split (stratified for classes), standardised on the training part; diabetes'
    target is standardised too."""
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=y if classifier else None)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    if not classifier:
        mean, std = y_train.mean(), y_train.std()
        y_train, y_test = (y_train - mean) / std, (y_test - mean) / std
    return X_train, X_test, y_train, y_test


def _fit_all(module, name, splits):
    """Fit the default estimator on each split; (seconds, mean test score)."""
    scores, seconds = [], 0.0
    for seed, (X_train, X_test, y_train, y_test) in enumerate(splits):
        est = getattr(module, name)(random_state=seed)
        settle()
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X_train, y_train)
        seconds += time.perf_counter() - start
        scores.append(est.score(X_test, y_test))
    return seconds, float(np.mean(scores))


@pytest.mark.parametrize("case", list(CASES))
def test_estimator_default_settings(benchmark, case, profile):
    loader, name = CASES[case]
    n_seeds, margin = (5, 0.01) if profile == "full" else (2, 0.03)
    splits = [_split(loader, name == "MLPClassifier", seed) for seed in range(n_seeds)]
    benchmark.group = f"estimators {case}"
    # compile (or load from the cache) the kernels outside the timing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        getattr(fastbp, name)(max_iter=1).fit(splits[0][0][:10], splits[0][2][:10])

    results = []

    def fastbp_fits():
        results.append(_fit_all(fastbp, name, splits))

    benchmark.pedantic(fastbp_fits, rounds=1, iterations=1)
    fastbp_s, score = results[-1]
    sklearn_s, sk_score = _fit_all(neural_network, name, splits)
    info = {"estimator": name, "n_seeds": n_seeds, "n_train": len(splits[0][0]),
            "metric": "accuracy" if name == "MLPClassifier" else "r2", "profile": profile,
            "fastbp_s": fastbp_s, "sklearn_s": sklearn_s,
            "speedup_vs_sklearn": sklearn_s / fastbp_s,
            "score": score, "sklearn_score": sk_score, "score_difference": score - sk_score}
    benchmark.extra_info.update(info)
    print(f"\n{case}: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                    for k, v in info.items()))
    assert score >= sk_score - margin
