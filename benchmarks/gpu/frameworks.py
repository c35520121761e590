"""PyTorch and CuPy on the GPU, imported on demand and set to full float32 precision.

Neither is a dependency of fastbp: each loader returns the module, or raises
:class:`Unavailable` saying why, and the callers record the reason in their results.
"""


class Unavailable(RuntimeError):
    """A framework cannot serve as a baseline in this process."""


def cuda_torch():
    """``torch``, with a usable GPU and TF32 off for float32 matrix products.

    TF32 rounds the operands of float32 products to 10-bit mantissas (errors near 3e-4), which
    would make cuBLAS both faster and less accurate than the float32 arithmetic fastbp does.

    Returns
    -------
    torch : module
    settings : dict
        The precision settings in force, for the record.
    """
    try:
        import torch
    except ImportError as exc:
        raise Unavailable(f"PyTorch is not importable ({exc})") from exc
    if not torch.cuda.is_available():
        raise Unavailable("PyTorch sees no CUDA device")
    matmul = torch.backends.cuda.matmul
    # PyTorch 2.9 replaced allow_tf32 with fp32_precision and warns when the old one is set
    if hasattr(matmul, "fp32_precision"):
        matmul.fp32_precision = "ieee"
        settings = {"torch.backends.cuda.matmul.fp32_precision": matmul.fp32_precision}
    else:
        matmul.allow_tf32 = False
        settings = {"torch.backends.cuda.matmul.allow_tf32": matmul.allow_tf32}
    settings["torch.get_float32_matmul_precision"] = torch.get_float32_matmul_precision()
    return torch, settings


def cuda_cupy():
    """``cupy`` with a usable GPU; its float32 products use TF32 only if ``CUPY_TF32=1``.

    Returns
    -------
    cupy : module
    settings : dict
    """
    import os

    try:
        import cupy
    except ImportError as exc:
        raise Unavailable(f"CuPy is not importable ({exc})") from exc
    try:
        cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CuPy raises its own CUDARuntimeError without a device
        raise Unavailable(f"CuPy sees no CUDA device ({exc})") from exc
    if os.environ.get("CUPY_TF32", "0") != "0":
        raise Unavailable("CUPY_TF32 is set: CuPy's float32 products would use TF32")
    return cupy, {"CUPY_TF32": os.environ.get("CUPY_TF32", "unset")}
