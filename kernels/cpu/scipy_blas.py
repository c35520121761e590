"""SciPy's BLAS module, the one Numba's BLAS helpers and ``np.dot`` call, loaded on its own.

This module imports nothing but the standard library (and SciPy when :func:`load` runs), so that
both :mod:`fastbp.kernels.cpu.numba_internals` and :mod:`fastbp.kernels.cpu.blas` can load the
module before Numba looks for it.
"""

import importlib.machinery
import importlib.util
import os
import sys

MODULE = "scipy.linalg.cython_blas"


def load():
    """Import SciPy's ``cython_blas``, the BLAS ``numba_xxgemm`` calls, without running
    ``scipy/linalg/__init__.py`` first: that imports all of SciPy's linear algebra, a sizeable share
    of a fresh process's start-up (``benchmarks/test_startup.py``), for one extension module that
    needs none of it.

    The module is registered under its own name, so Numba, threadpoolctl and a later
    ``import scipy.linalg`` all find this one. Where the shortcut does not apply (SciPy laid out
    otherwise), Numba's own import of it does the work.
    """
    if MODULE in sys.modules or "scipy.linalg" in sys.modules:
        return
    try:
        import scipy

        folder = os.path.join(os.path.dirname(scipy.__file__), "linalg")
        spec = importlib.machinery.PathFinder.find_spec(MODULE, [folder])
        module = importlib.util.module_from_spec(spec)
        sys.modules[MODULE] = module
        spec.loader.exec_module(module)
    except Exception:  # noqa: BLE001  (any failure: leave it to the plain import)
        sys.modules.pop(MODULE, None)
