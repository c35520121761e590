"""skops: fastbp's types to trust when loading a fitted estimator or network with ``skops.io``
(``fastbp[skops]``).

skops refuses to build any type not in its default trusted set unless the caller names it; these
are the fastbp types a fitted :class:`~fastbp.MLPClassifier`, :class:`~fastbp.MLPRegressor` or
:class:`~fastbp.Sequential` holds. They are plain data holders: building one runs no code that a
file chooses (skops restores their attributes; fastbp's ``__setstate__`` only re-links the layers
to the network's parameter vector and picks the backend's kernel module by name from a fixed
table).
"""

#: What ``skops.io.get_untrusted_types`` lists for a fastbp object's file, and nothing else.
TRUSTED_TYPES = [
    "fastbp.estimators.classifier.MLPClassifier",
    "fastbp.estimators.regressor.MLPRegressor",
    "fastbp.estimators.rules.SklearnSchedule",
    "fastbp.estimators.rules.SklearnStopping",
    "fastbp.layers.Dense",
    "fastbp.model.Sequential",
    "fastbp.training.optimizers.Adam",
    "fastbp.training.optimizers.SGD",
    "numpy.dtype",
]


def load(file):
    """``skops.io.load(file, trusted=TRUSTED_TYPES)``: a fastbp object saved with
    ``skops.io.dump``. A file holding any other untrusted type is refused by skops.

    Parameters
    ----------
    file : str, os.PathLike or file-like
    """
    import skops.io

    return skops.io.load(file, trusted=TRUSTED_TYPES)
