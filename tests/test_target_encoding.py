"""The classifier's target encoding (fastbp/estimators/targets.py) against scikit-learn's
``LabelBinarizer``, which it replaces for 1-D integer labels and calls for everything else."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.preprocessing import LabelBinarizer

import fastbp
from fastbp.estimators.targets import fitted_binarizer, fitted_indicator, indicator

RNG = np.random.default_rng(0)
TARGETS = {
    "multiclass int64": RNG.integers(0, 10, 300),
    "multiclass int32, unsorted, negative": np.array([3, -2, 7, 3, -2, 11, 7], np.int32),
    "multiclass uint8, three classes": np.array([9, 4, 4, 200, 9], np.uint8),
    "binary int64": RNG.integers(0, 2, 50),
    "binary, labels 5 and -1": np.array([5, -1, -1, 5, 5]),
    "binary uint64": np.array([7, 2, 2, 7], np.uint64),
    "multiclass, one label far above the others": np.array([0, 3, 10**9, 3, 0]),
    "binary int16, labels 0 and 1000": np.array([1000, 0, 0], np.int16),
    # the binarizer's own path
    "one class": np.array([4, 4, 4]),
    "strings": np.array(["b", "a", "c", "a"]),
    "integral floats": np.array([0.0, 2.0, 1.0, 2.0]),
    "booleans": np.array([True, False, True]),
    "multilabel indicator": RNG.integers(0, 2, (20, 3)),
    "list": [2, 0, 1, 1],
}


def _state(binarizer):
    return (binarizer.y_type_, binarizer.sparse_input_, binarizer.classes_.dtype,
            binarizer.classes_.tolist())


@pytest.mark.parametrize("name", list(TARGETS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_encoding_is_the_label_binarizers(name, dtype):
    y = TARGETS[name]
    expected = LabelBinarizer().fit(y)
    found = fitted_binarizer(y)
    assert _state(found) == _state(expected)
    Y = indicator(found, y, dtype)
    assert Y.dtype == dtype
    np.testing.assert_array_equal(Y, expected.transform(y).astype(dtype))
    # the other way round too: a binarizer scikit-learn fitted, encoded here
    np.testing.assert_array_equal(indicator(expected, y, dtype), Y)


@pytest.mark.parametrize("name", list(TARGETS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fitting_and_encoding_at_once_is_the_label_binarizers(name, dtype):
    y = TARGETS[name]
    expected = LabelBinarizer().fit(y)
    binarizer, Y = fitted_indicator(y, dtype)
    assert _state(binarizer) == _state(expected)
    assert Y.dtype == dtype and Y.flags.c_contiguous
    np.testing.assert_array_equal(Y, expected.transform(y).astype(dtype))


@pytest.mark.parametrize("fitted_on, y", [
    ([0, 1, 2], np.array([0, 5, 2])),      # a label above the classes
    ([0, 1, 2], np.array([-3, 1])),        # below
    ([0, 2, 4], np.array([0, 1, 4])),      # between two
    ([3, 8], np.array([3, 8, 9])),         # two classes
])
def test_labels_outside_the_classes_are_encoded_by_the_binarizer(fitted_on, y):
    binarizer = LabelBinarizer().fit(fitted_on)
    np.testing.assert_array_equal(indicator(binarizer, y, np.float64),
                                  binarizer.transform(y).astype(np.float64))


def test_a_binarizer_with_other_labels_is_left_to_transform():
    binarizer = LabelBinarizer(neg_label=-1, pos_label=2).fit([0, 1, 2])
    y = np.array([2, 0, 1])
    np.testing.assert_array_equal(indicator(binarizer, y, np.float32),
                                  binarizer.transform(y).astype(np.float32))


def test_integer_and_string_labels_train_the_same_network():
    # the integer labels take the encoding here, the strings scikit-learn's: same weights
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16, y[:300]
    names = np.array([f"digit {d}" for d in range(10)])
    fits = []
    for labels in (y, names[y]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # five epochs do not converge
            fits.append(fastbp.MLPClassifier((16,), max_iter=5, random_state=0).fit(X, labels))
    for W, V in zip(fits[0].coefs_, fits[1].coefs_):
        np.testing.assert_array_equal(W, V)
    np.testing.assert_array_equal(names[fits[0].predict(X)], fits[1].predict(X))
    assert fits[0].loss_curve_ == fits[1].loss_curve_
