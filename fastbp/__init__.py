"""fastbp: dense neural networks trained by backpropagation on Numba CPU and CUDA kernels.

``import fastbp`` loads neither Numba nor scikit-learn: kernels compile on first use and the
scikit-learn estimators import on first access.
"""

from .errors import DeviceError, DivergenceError
from .layers import Dense
from .model import Sequential
from .training.history import History
from .training.optimizers import SGD, Adam
from .training.stopping import EarlyStopping

__version__ = "0.1.0"

__all__ = ["SGD", "Adam", "Dense", "DeviceError", "DivergenceError", "EarlyStopping", "History",
           "Sequential", "__version__"]
