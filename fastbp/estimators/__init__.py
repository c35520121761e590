"""scikit-learn estimators backed by fastbp: drop-ins for sklearn.neural_network's MLPs.

Importing this package imports scikit-learn; ``import fastbp`` alone does not (``fastbp`` exposes
these classes lazily).
"""

from .classifier import MLPClassifier
from .regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
