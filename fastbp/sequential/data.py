"""The checks of user data that :class:`fastbp.Sequential`'s methods and the fit loop share."""

import numpy as np

from ..validation import check_y


def data_width(X):
    """The number of columns of a would-be 2-D ``X``, to check it against before a model is built
    (0 for anything else: the check then reports what is wrong with ``X``)."""
    shape = np.shape(X)
    return shape[1] if len(shape) == 2 else 0


def check_targets(y, n_samples, n_outputs, loss, dtype):
    """:func:`fastbp.validation.check_y`, saying what to do with labels given as text.

    Raises
    ------
    TypeError
        For ``y=None`` and non-numeric targets; for strings, the message names the two ways to
        use them.
    """
    if y is None:
        raise TypeError("y is None, but targets are needed here: an array of shape (n_samples,) "
                        "or (n_samples, n_outputs)")
    try:
        return check_y(y, n_samples, n_outputs, loss, dtype)
    except TypeError as error:
        if not _holds_text(y):
            raise
        raise TypeError(f"{error}. Sequential takes class labels as integers 0..n_classes-1 (or "
                        f"one-hot rows): encode text labels with "
                        f"sklearn.preprocessing.LabelEncoder (its inverse_transform maps "
                        f"predictions back), or use fastbp.MLPClassifier, which takes them as "
                        f"they are") from error


def _holds_text(y):
    try:
        return np.asarray(y).dtype.kind in "OSU"
    except (TypeError, ValueError):  # ragged or otherwise unconvertible: not a label array
        return False
