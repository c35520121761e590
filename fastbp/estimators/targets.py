"""The classifier's targets as the network's indicator matrix, as ``LabelBinarizer`` encodes them.

scikit-learn's ``LabelBinarizer`` classifies the target (``type_of_target``) when it is fitted and
again when it transforms, and builds a sparse matrix on the way to a dense one: 1.7 ms for the
1,198 labels of a digits fit, which takes 45 ms in all with 32 hidden units. The usual target, a
1-D array of integer labels, is encoded here by counting (non-negative labels of a small range)
or with ``np.unique`` and an index instead; the binarizer's state and the indicator matrix are the
ones it would give (``tests/test_target_encoding.py`` compares them). Every other target goes
through ``LabelBinarizer`` itself, with its checks and messages."""

import numpy as np
from sklearn.preprocessing import LabelBinarizer


def fitted_binarizer(y):
    """A ``LabelBinarizer`` fitted on the labels ``y``.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_labels)

    Returns
    -------
    LabelBinarizer
    """
    if _integer_labels(y):
        classes = np.unique(y)
        if len(classes) >= 2:
            return _binarizer(classes)
    return LabelBinarizer().fit(y)


def _binarizer(classes):
    """The ``LabelBinarizer`` fitted on 1-D labels of the (two or more, sorted) ``classes``."""
    binarizer = LabelBinarizer()
    # type_of_target: 'binary' up to two values, 'multiclass' above
    binarizer.y_type_ = "binary" if len(classes) == 2 else "multiclass"
    binarizer.sparse_input_ = False
    binarizer.classes_ = classes
    return binarizer


def fitted_indicator(y, dtype):
    """A ``LabelBinarizer`` fitted on the labels ``y`` and ``y`` encoded by it, in one pass
    fewer than :func:`fitted_binarizer` then :func:`indicator`: labels the classes were just
    found in need no check that they are among them.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_labels)
    dtype : numpy dtype

    Returns
    -------
    binarizer : LabelBinarizer
    Y : ndarray of shape (n_samples, n_outputs), of ``dtype``
    """
    counted = _counted_indicator(y, dtype)
    if counted is not None:
        return counted
    binarizer = fitted_binarizer(y)
    classes = binarizer.classes_
    if not (_integer_labels(y) and isinstance(classes, np.ndarray) and len(classes) >= 2
            and not binarizer.sparse_output):
        return binarizer, indicator(binarizer, y, dtype)
    return binarizer, _one_hot(binarizer, np.searchsorted(classes, y), dtype)


def _counted_indicator(y, dtype):
    """:func:`fitted_indicator` for non-negative integer labels of a range at most about twice
    their number, by counting them: ``np.bincount`` keeps the GIL, and a table of each value's
    row of the indicator matrix encodes them in one pass, where ``np.unique`` and the encoding
    release the GIL three or four times (beside a busy Python thread, each costs up to its switch
    interval). None for other labels, or fewer than two classes."""
    if not (_integer_labels(y) and y.dtype != np.uint64):  # bincount casts to int64 safely
        return None
    if not (y.min() >= 0 and y.max() <= 2 * y.size + 1024):
        return None
    classes = np.flatnonzero(np.bincount(y)).astype(y.dtype)
    if len(classes) < 2:
        return None
    binarizer = _binarizer(classes)
    table = np.zeros((int(classes[-1]) + 1, 1 if len(classes) == 2 else len(classes)), dtype)
    if len(classes) == 2:
        table[classes[1], 0] = 1
    else:
        table[classes, np.arange(len(classes))] = 1
    return binarizer, table[y]


def indicator(binarizer, y, dtype):
    """``binarizer.transform(y)`` as an array of ``dtype``.

    Parameters
    ----------
    binarizer : LabelBinarizer, fitted
    y : array-like of shape (n_samples,) or (n_samples, n_labels)
    dtype : numpy dtype

    Returns
    -------
    ndarray of shape (n_samples, n_outputs)
        One column for a two-class target, one per class or label otherwise.
    """
    classes = binarizer.classes_
    if (_integer_labels(y) and binarizer.y_type_ in ("binary", "multiclass")
            and binarizer.neg_label == 0 and binarizer.pos_label == 1
            and not binarizer.sparse_output and isinstance(classes, np.ndarray)
            and classes.dtype.kind in "iu" and len(classes) >= 2):
        index = np.searchsorted(classes, y)
        # a label outside the classes has no column: the binarizer's own rule decides
        if np.array_equal(classes[np.minimum(index, len(classes) - 1)], y):
            return _one_hot(binarizer, index, dtype)
    return binarizer.transform(y).astype(dtype)


def _one_hot(binarizer, index, dtype):
    """The indicator matrix of labels given by their ``index`` in ``binarizer.classes_``: one
    column (the second class) for a binary target, one per class otherwise."""
    if binarizer.y_type_ == "binary":
        return (index == 1).astype(dtype)[:, None]
    return np.eye(len(binarizer.classes_), dtype=dtype)[index]


def _integer_labels(y):
    return isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype.kind in "iu" and y.size > 0
