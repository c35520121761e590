"""Backend name -> kernel module. Modules import on first use, so ``import fastbp`` stays light."""

import importlib

from .errors import DeviceError
from .names import choice

#: Each backend is a module implementing the interface of :mod:`fastbp.kernels.reference`.
BACKENDS = {"numpy": "fastbp.kernels.reference", "cpu": "fastbp.kernels.cpu",
            "cuda": "fastbp.kernels.cuda"}


def backend_name(name):
    """Validated backend name."""
    return choice("backend", name, tuple(BACKENDS))


def load(name):
    """The kernel module of backend ``name``.

    Raises
    ------
    DeviceError
        For ``"cuda"`` when numba-cuda is not installed or finds no usable GPU; the message says
        which, and how to install the missing part.
    """
    if backend_name(name) == "cuda":
        from .kernels.cuda_device import DeviceUnavailable, check_device

        try:
            check_device()
        except DeviceUnavailable as exc:
            raise DeviceError(str(exc)) from exc
    return importlib.import_module(BACKENDS[name])
