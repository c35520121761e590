"""fastbp: dense neural networks trained by backpropagation on Numba CPU and CUDA kernels.

``import fastbp`` loads neither Numba nor scikit-learn: kernels compile on first use and the
scikit-learn estimators import on first access.
"""

from .errors import DeviceError, DivergenceError, ModelFileError
from .layers import Dense, NotBuiltError
from . import callbacks, schedules
from .callbacks import Callback
from .model import Sequential
from .schedules import (
    Constant,
    CosineAnnealing,
    InvScaling,
    LinearWarmup,
    ReduceLROnPlateau,
    Schedule,
    StepDecay,
)
from .training.history import History
from .training.optimizers import SGD, Adam
from .training.stopping import EarlyStopping

__all__ = ["SGD", "Adam", "Callback", "Constant", "CosineAnnealing", "Dense", "DeviceError",
           "DivergenceError", "EarlyStopping", "History", "InvScaling", "LinearWarmup",
           "MLPClassifier", "MLPRegressor", "ModelFileError", "NotBuiltError", "ReduceLROnPlateau",
           "Schedule", "Sequential", "StepDecay", "__version__", "callbacks", "load", "save",
           "schedules", "to_onnx"]

#: Names importing scikit-learn (or, for the model files, safetensors and onnx), loaded on first
#: access (PEP 562) to keep ``import fastbp`` light.
_LAZY = {"MLPClassifier": ".estimators", "MLPRegressor": ".estimators", "save": ".io",
         "load": ".io", "to_onnx": ".io"}


def __getattr__(name):
    if name == "__version__":
        # the installed distribution's version (pyproject.toml is the one place it is written),
        # read on first use: the metadata lookup would cost every import some milliseconds
        from importlib.metadata import version

        found = globals()["__version__"] = version("fastbp")
        return found
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | {"__version__"})
