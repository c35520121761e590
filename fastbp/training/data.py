"""The training data a fit takes, prepared: the validation hold-out, the class weights multiplied
into the sample weights, and the runs of batches that carry weight."""

import math
import numbers
from collections.abc import Mapping

import numpy as np

from ..kernels import codes
from ..model import check_targets
from ..validation import check_sample_weight, check_X


def split_validation(X, Y, w, validation_data, validation_split, model):
    """The training rows and the validation pair ``(X_val, Y_val)`` (or None): the checked
    ``validation_data``, or the last ``validation_split`` of the rows (Keras's rule)."""
    if validation_data is not None and validation_split:
        raise ValueError("pass validation_data or validation_split, not both")
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data must be a pair (X_val, y_val)")
        Xv = check_X(validation_data[0], X.shape[1], model.dtype)
        Yv = check_targets(validation_data[1], Xv.shape[0], model.n_outputs,
                           codes.LOSS_CODES[model.loss_name], model.dtype)
        return X, Y, w, (Xv, Yv)
    if not validation_split:
        return X, Y, w, None
    if not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be in (0, 1); got {validation_split}")
    n_val = int(round(X.shape[0] * validation_split))
    if n_val < 1 or n_val >= X.shape[0]:
        raise ValueError(f"validation_split={validation_split} of {X.shape[0]} samples leaves "
                         f"{n_val} for validation and {X.shape[0] - n_val} for training")
    # Keras's rule: the last fraction, before any shuffling
    cut = X.shape[0] - n_val
    return X[:cut], Y[:cut], w[:cut], (X[cut:], Y[cut:])


def weighted_batch_runs(weight, batch_size):
    """Runs of consecutive batches that carry weight, as ``(start, stop)`` positions in the order.

    A batch whose sample weights are all zero has no defined per-sample weighting (``w / sum(w)``
    is 0/0): :func:`train` skips such a batch, taking no optimizer step and adding nothing to the
    epoch's loss. The kernels see each run as an epoch of its own, so the remaining batches are cut
    exactly as they would have been.

    Parameters
    ----------
    weight : ndarray of shape (n,)
        The sample weights in visiting order.
    batch_size : int

    Returns
    -------
    list of (int, int)
        Half-open ranges of positions, in order, not touching one another; ``[(0, n)]`` when every
        batch carries weight.

    Examples
    --------
    >>> import numpy as np
    >>> weighted_batch_runs(np.array([1, 1, 0, 0, 1, 0, 1.0]), 2)
    [(0, 2), (4, 7)]
    """
    starts = np.arange(0, weight.shape[0], batch_size)
    carries = np.add.reduceat((weight > 0).astype(np.int64), starts) > 0
    if carries.all():
        return [(0, weight.shape[0])]
    runs = []
    for i in np.flatnonzero(carries):
        lo, hi = int(starts[i]), min(int(starts[i]) + batch_size, weight.shape[0])
        if runs and runs[-1][1] == lo:
            runs[-1] = (runs[-1][0], hi)
        else:
            runs.append((lo, hi))
    return runs


def class_sample_weight(class_weight, Y, loss_code, sample_weight):
    """``sample_weight`` (ones if None) times each row's class weight, as Keras multiplies them.

    Parameters
    ----------
    class_weight : dict {int: float} or None
        None returns ``sample_weight`` as it is.
    Y : ndarray, shape (n, n_outputs)
        Checked targets: one-hot (or probability) rows for ``cross_entropy``, whose class is the
        argmax; one 0/1 column for ``binary_cross_entropy``, whose class is the target rounded.
    loss_code : int
    sample_weight : array-like of shape (n,) or None

    Returns
    -------
    ndarray of shape (n,) (float64), or ``sample_weight`` when ``class_weight`` is None

    Raises
    ------
    ValueError
        For a regression loss, a multilabel output, or keys or weights that are not classes and
        finite non-negative numbers.
    """
    if class_weight is None:
        return sample_weight
    table = _class_weight_table(class_weight, loss_code, Y.shape[1])
    classes = Y.argmax(axis=1) if loss_code == codes.CROSS_ENTROPY else \
        np.rint(Y[:, 0]).astype(np.intp)
    # the sample weights are checked here first, so that theirs are the messages of bad ones
    check_sample_weight(sample_weight, Y.shape[0], np.float64)
    base = 1.0 if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    return base * table[classes]


def _class_weight_table(class_weight, loss_code, n_outputs):
    """``class_weight`` as an array indexed by class (1 for the classes it leaves out)."""
    if loss_code == codes.CROSS_ENTROPY:
        n_classes = n_outputs
    elif loss_code == codes.BINARY_CROSS_ENTROPY and n_outputs == 1:
        n_classes = 2
    elif loss_code == codes.BINARY_CROSS_ENTROPY:
        raise ValueError(f"class_weight is for one label per row; this model has {n_outputs} "
                         f"binary_cross_entropy outputs (multilabel): weight the rows with "
                         f"sample_weight")
    else:
        raise ValueError(f"class_weight is for the classification losses (cross_entropy, "
                         f"binary_cross_entropy); this model's loss is "
                         f"{codes.LOSS_NAMES[loss_code]!r}: weight the rows with sample_weight")
    if not isinstance(class_weight, Mapping):
        raise TypeError(f"class_weight must be a dict {{class index: weight}}; got "
                        f"{class_weight!r}")
    table = np.ones(n_classes)
    for key, weight in class_weight.items():
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, numbers.Integral) or \
                not 0 <= key < n_classes:
            raise ValueError(f"class_weight has the key {key!r}, which is not a class of this "
                             f"model: the classes are 0 to {n_classes - 1}")
        if isinstance(weight, (bool, np.bool_)) or not isinstance(weight, numbers.Real) or \
                not (math.isfinite(weight) and weight >= 0):
            raise ValueError(f"class_weight[{key!r}] must be a finite number >= 0; got "
                             f"{weight!r}")
        table[key] = weight
    return table
