"""scikit-learn estimators backed by fastbp: drop-ins for sklearn.neural_network's MLPs.

Importing this package imports scikit-learn; ``import fastbp`` alone does not (``fastbp`` exposes
these classes lazily). :mod:`fastbp.estimators.training` is the public way for other code (model
files, the Dask estimators) to read and write an estimator's training state.
"""

from .classifier import MLPClassifier
from .regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
