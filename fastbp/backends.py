"""Backend name -> kernel module. Modules import on first use, so ``import fastbp`` stays light."""

import importlib

#: Each backend is a module implementing the interface of :mod:`fastbp.kernels.reference`.
BACKENDS = {"numpy": "fastbp.kernels.reference", "cpu": "fastbp.kernels.cpu"}


def backend_name(name):
    """Validated backend name."""
    if not isinstance(name, str):
        raise TypeError(f"backend must be a string, one of {list(BACKENDS)}; got {name!r}")
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; expected one of {list(BACKENDS)}")
    return name


def load(name):
    """The kernel module of backend ``name``."""
    return importlib.import_module(BACKENDS[backend_name(name)])
