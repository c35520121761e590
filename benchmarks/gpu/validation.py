"""Whether a GEMM result is right: relative Frobenius error against a reference, NaN failing."""

import numpy as np

#: Largest relative Frobenius error accepted against cuBLAS, by dtype: float32 arithmetic lands far
#: under 1e-4 (TF32 near 3e-4 would fail), float64 far under 1e-12.
TOLERANCE = {"float32": 1e-4, "float64": 1e-12}


def relative_error(got, ref):
    """``||got - ref||_F / ||ref||_F`` in float64; NaN if ``got`` has a non-finite element."""
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    if got.shape != ref.shape or not np.all(np.isfinite(got)):
        return float("nan")
    return float(np.linalg.norm(got - ref) / np.linalg.norm(ref))


def passes(error, dtype):
    """Whether ``error`` is within the tolerance of ``dtype``; NaN never is."""
    return bool(error <= TOLERANCE[np.dtype(dtype).name])


def random_operands(n, dtype):
    """Fresh standard-normal ``a, b`` of shape ``(n, n)``, different for every size and dtype.

    Random rather than constant data: zeros would hide unwritten outputs and can run faster
    than real data.
    """
    dtype = np.dtype(dtype)
    rng = np.random.default_rng([n, dtype.itemsize])
    return (rng.standard_normal((n, n), dtype=dtype), rng.standard_normal((n, n), dtype=dtype))


def float64_rows(a, b, count=64):
    """Rows of ``a @ b`` computed in float64 on the host: an independent higher-precision check.

    Returns
    -------
    rows : numpy.ndarray of int
    ref : numpy.ndarray, shape (len(rows), n)
    """
    rows = np.linspace(0, a.shape[0] - 1, min(count, a.shape[0])).astype(int)
    return rows, a[rows].astype(np.float64) @ b.astype(np.float64)
