"""Exceptions fastbp raises beyond the built-in ValueError and TypeError."""


class DivergenceError(FloatingPointError, ValueError):
    """Training produced a non-finite loss or non-finite weights.

    A ``ValueError`` too, as scikit-learn raises for non-finite weights, so code written for its
    estimators catches it."""


class DeviceError(RuntimeError):
    """The requested compute device cannot be used (no GPU, or its libraries are missing)."""


class ModelFileError(ValueError):
    """A saved model file that cannot be loaded: truncated, corrupt, of an unknown kind or of a
    newer format version, or holding arrays that do not fit its header. Nothing is built."""
