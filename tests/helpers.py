"""Assertions, names and data builders shared by the test modules.

Tests import this module by name (``from helpers import ...``); ``conftest.py`` puts this folder on
``sys.path``.
"""

import numpy as np
from hypothesis import settings

from fastbp.kernels import codes
from fastbp.kernels.records import (
    AdamSettings,
    Batches,
    Network,
    Penalty,
    SGDSettings,
    TrainingState,
)

ACTIVATIONS = tuple(codes.ACTIVATION_CODES)  # identity ... softmax, exp, in code order
OUTPUT_ONLY = ("softmax", "exp")  # models refuse these on hidden layers
HIDDEN_ACTIVATIONS = tuple(a for a in ACTIVATIONS if a not in OUTPUT_ONLY)
LOSSES = tuple(codes.LOSS_CODES)
DTYPES = (np.float32, np.float64)
BACKENDS = ("numpy", "cpu")

#: The output activation each loss requires, or None where any activation is allowed.
REQUIRED_OUTPUT = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid",
                   "poisson": "exp", "squared_error": None, "mse": None}

#: Agreement demanded between two implementations of the same kernel, relative to the
#: largest magnitude of the expected array.
KERNEL_RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}

#: A round pre-activation whose exp is finite with room to spare: exp(z) overflows for real beyond
#: log(max float), ~88.7 (float32) and ~709.8 (float64), so EXP and POISSON are tried up to +-this.
EXP_EDGE = {np.dtype(np.float32): 80.0, np.dtype(np.float64): 700.0}

#: Hypothesis settings for the kernel comparisons: a modest number of examples (the whole file must
#: stay fast on two cores) and no deadline (the first example of each signature compiles).
KERNEL_SETTINGS = settings(max_examples=30, deadline=None)


def kernel_rtol(dtype):
    """The agreement tolerance for kernels computing in ``dtype``."""
    return KERNEL_RTOL[np.dtype(dtype)]


def max_abs_error(actual, expected):
    """``max |actual - expected|`` in float64 (NaN if either holds a NaN)."""
    diff = np.abs(np.asarray(actual, np.float64) - np.asarray(expected, np.float64))
    return float(diff.max()) if diff.size else 0.0


def assert_close(actual, expected, rtol, what="array", magnitude=None):
    """Assert ``max|a - e| <= rtol * max(1e-300, max|e|, magnitude)``: closeness scaled by size.

    ``magnitude`` is for results of sums that may cancel (see :func:`sum_magnitude`): their rounding
    is relative to the size of the terms, not of the result. Shapes must match exactly and neither
    array may hold NaN or infinity (a NaN anywhere makes the error NaN, which fails).
    """
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, (
        f"{what}: shape {actual.shape}, expected {expected.shape}")
    assert np.all(np.isfinite(expected)), f"{what}: the expected values are not all finite"
    scale = max(1e-300, float(np.max(np.abs(expected), initial=0.0)), magnitude or 0.0)
    error = max_abs_error(actual, expected)
    assert error <= rtol * scale, (
        f"{what}: max|a - e| = {error:.3e} exceeds rtol * scale = {rtol:g} * {scale:.3e}")


def sum_magnitude(a, b, c=None):
    """``max(|a| @ |b| + |c|)``: the size of the terms summed in ``a @ b + c``.

    A float32 sum of 300 terms that cancel to a result 100 times smaller than they are is only
    good to ~1e-5 of the result, in any implementation; scaled by this it is good to ~1e-7.
    """
    total = np.abs(np.asarray(a, np.float64)) @ np.abs(np.asarray(b, np.float64))
    if c is not None:
        total = total + np.abs(np.asarray(c, np.float64))
    return float(np.max(total, initial=0.0))


def assert_gradients_close(actual, expected, rtol, what="gradients"):
    """Compare two ``[(dW, db), ...]`` lists array by array with :func:`assert_close`."""
    assert len(actual) == len(expected), f"{what}: {len(actual)} layers, expected {len(expected)}"
    for i, ((dW, db), (eW, eb)) in enumerate(zip(actual, expected)):
        assert_close(dW, eW, rtol, f"{what}: dW of layer {i}")
        assert_close(db, eb, rtol, f"{what}: db of layer {i}")


def output_activation(loss, preferred):
    """The output activation to use with ``loss``: the one it requires, else ``preferred``."""
    return REQUIRED_OUTPUT[loss] or preferred


def normalised_weights(rng, n, dtype):
    """Random positive per-sample weights summing to 1 (the batch mean lives in them)."""
    w = rng.uniform(0.1, 1.0, n)
    return (w / w.sum()).astype(dtype)


def random_targets(rng, n, k, loss, dtype, hard=True):
    """Targets valid for ``loss``, shape (n, k).

    ``cross_entropy``: one-hot rows (``hard``) or probability rows; ``binary_cross_entropy``: 0/1
    entries (``hard``) or probabilities in [0, 1]; ``poisson``: counts with many zeros (``hard``)
    or non-negative reals; the other regression losses: standard normal.
    """
    if loss == "cross_entropy":
        if hard:
            return np.eye(k, dtype=dtype)[rng.integers(0, k, n)]
        p = rng.uniform(0.0, 1.0, (n, k))
        return (p / p.sum(axis=1, keepdims=True)).astype(dtype)
    if loss == "binary_cross_entropy":
        return (rng.integers(0, 2, (n, k)) if hard else rng.uniform(0.0, 1.0, (n, k))).astype(dtype)
    if loss == "poisson":
        return (rng.poisson(1.0, (n, k)) if hard else rng.exponential(1.0, (n, k))).astype(dtype)
    return rng.standard_normal((n, k)).astype(dtype)


def epoch_arguments(case):
    """A backend's ``train_epoch`` arguments (the records of :mod:`fastbp.kernels.records`) from
    a dict of their fields by name, which the epoch tests build and vary."""
    if case["optimizer"] == codes.ADAM:
        settings = AdamSettings(case["lr"], case["beta_1"], case["beta_2"], case["epsilon"])
    else:
        settings = SGDSettings(case["lr"], case["momentum"], case["nesterov"])
    return (TrainingState(case["parameters"], case["gradient"], case["moment_1"],
                          case["moment_2"]),
            Network(case["widths"], case["activations"], case["dropout"], case["loss"]),
            Batches(case["X"], case["Y"], case["sample_weight"], case["order"],
                    case["batch_size"]),
            settings, Penalty(case["l2"], case["l1"]), case["dropout_seed"], case["steps_taken"])


def needs_sklearn(version, feature):
    """Skip mark for a test that compares with a scikit-learn ``feature`` newer than the oldest
    scikit-learn fastbp supports (pyproject.toml): it runs where scikit-learn ``version`` or later
    is installed and, elsewhere, skips saying which feature and version it needs."""
    import pytest
    import sklearn

    installed = tuple(int(part) for part in sklearn.__version__.split(".")[:2])
    wanted = tuple(int(part) for part in version.split("."))
    return pytest.mark.skipif(installed < wanted,
                              reason=f"compares with {feature}, new in scikit-learn {version}; "
                                     f"{sklearn.__version__} is installed")
