"""Exceptions fastbp raises beyond the built-in ValueError and TypeError."""


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss or non-finite weights."""


class DeviceError(RuntimeError):
    """The requested compute device cannot be used (no GPU, or its libraries are missing)."""
