"""fastbp on a Dask cluster (``pip install 'fastbp[dask]'``).

:class:`DaskMLPClassifier` and :class:`DaskMLPRegressor` train one network data-parallel across
the workers that hold the rows of a Dask array or DataFrame, and predict on them. The local
estimators (:class:`fastbp.MLPClassifier`, :class:`fastbp.MLPRegressor`) also work with Dask's own
tools: dask-ml's ``Incremental`` and ``ParallelPostFit``, and scikit-learn's searches under
``joblib.parallel_backend("dask")``. Importing this module imports dask and distributed;
``import fastbp`` does not.
"""

from .classifier import DaskMLPClassifier
from .regressor import DaskMLPRegressor
from .waiting import POLL_SECONDS, WorkerLostError

__all__ = ["POLL_SECONDS", "DaskMLPClassifier", "DaskMLPRegressor", "WorkerLostError"]
