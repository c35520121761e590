"""Numba's undocumented parts are named in two modules only, numba-cuda's in the files the CUDA
backend lists.

fastbp's CPU speed rests on parts of Numba it does not document (calls through addresses, its BLAS
helpers, LLVM atomics, functions without wrappers, its cache layout and compile events). They live
in ``kernels/cpu/numba_internals.py`` and, for what the backends share,
``kernels/numba_internals.py``, where each is probed and has a public fallback
(``kernels/cpu/numba_path.py``): a Numba upgrade that moves one of them costs speed, never a
failure. A static scan (Python's ``ast``; nothing is
imported) of every other file of ``kernels/`` and ``fastbp/`` flags, with ``file:line``:

* an import of ``llvmlite``, of ``numba.np``, of ``numba.core`` beyond its ``errors`` and ``types``,
  of any other ``numba.`` module but the documented ``numba.types``, ``numba.typed``,
  ``numba.extending`` and ``numba.experimental``, or of ``intrinsic`` from ``numba.extending``;
* the attributes ``overloads``, ``entry_point``, ``get_pointer_to_function``, ``fndesc``,
  ``llvm_func_name``, ``call_conv``, ``_impl``, ``_cache_path``, ``_py_file``, ``_is_initialized``,
  ``FunctionCache``, ``ExternalFunction`` and ``cgutils``;
* the compile options ``no_cpython_wrapper`` and ``no_cfunc_wrapper`` (as keywords or strings) and
  Numba's C helpers' names (``numba_xxgemm`` ...);
* in ``kernels/cuda/``, an import of a ``numba.cuda`` submodule outside the files listed in
  ``NUMBA_CUDA_INTERNALS`` of ``kernels/cuda/__init__.py``.
"""

import ast
import pathlib
import textwrap

import fastbp
from fastbp import kernels

FASTBP = pathlib.Path(fastbp.__file__).resolve().parent
KERNELS = pathlib.Path(kernels.__file__).resolve().parent

#: The modules that may name Numba's internals.
INTERNALS = (KERNELS / "numba_internals.py", KERNELS / "cpu" / "numba_internals.py")

DOCUMENTED_NUMBA = ("numba", "numba.types", "numba.typed", "numba.extending", "numba.experimental",
                    "numba.core.errors", "numba.core.types")
ATTRIBUTES = frozenset({"overloads", "entry_point", "get_pointer_to_function", "fndesc",
                        "llvm_func_name", "call_conv", "_impl", "_cache_path", "_py_file",
                        "_is_initialized", "FunctionCache", "ExternalFunction", "cgutils"})
FLAGS = frozenset({"no_cpython_wrapper", "no_cfunc_wrapper"})
C_HELPERS = ("numba_xx", "numba_gufunc", "NRT_")


def cuda_internal_files():
    """``NUMBA_CUDA_INTERNALS`` of kernels/cuda/__init__.py, read without importing numba-cuda."""
    tree = ast.parse((KERNELS / "cuda" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "NUMBA_CUDA_INTERNALS"
                                                for t in node.targets):
            return frozenset(ast.literal_eval(node.value))
    raise AssertionError("kernels/cuda/__init__.py has no NUMBA_CUDA_INTERNALS")


def _undocumented(module):
    """Why importing ``module`` names an internal of Numba (or llvmlite), or None."""
    if module == "llvmlite" or module.startswith("llvmlite."):
        return "llvmlite"
    if module.startswith("numba.cuda"):
        return None  # numba-cuda's own rule (scan's cuda argument)
    if module == "numba" or module.startswith("numba."):
        if module in DOCUMENTED_NUMBA:
            return None
        return f"Numba's undocumented module {module}"
    return None


def _dotted(node):
    """``a.b.c`` of a chain of attributes on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else None


def scan(source, filename, cuda_internals_allowed=True):
    """The violations in one file's ``source``: ``"file:line: what"`` strings."""
    found = []

    def flag(node, what):
        found.append(f"{filename}:{node.lineno}: {what}")

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                why = _undocumented(alias.name)
                if why:
                    flag(node, f"imports {why}")
                if alias.name.startswith("numba.cuda.") and not cuda_internals_allowed:
                    flag(node, f"imports numba-cuda's {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            why = _undocumented(node.module) if node.module != "numba.core" else None
            if why:
                flag(node, f"imports from {why}")
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if node.module == "numba.core" and full not in DOCUMENTED_NUMBA:
                    flag(node, f"imports Numba's undocumented module {full}")
                if node.module == "numba.extending" and alias.name == "intrinsic":
                    flag(node, "imports numba.extending.intrinsic (its code generation is Numba's "
                               "internals)")
                if node.module == "numba.np" or (node.module == "numba" and alias.name == "np"):
                    flag(node, f"imports Numba's undocumented module {full}")
            if node.module.startswith("numba.cuda.") and not cuda_internals_allowed:
                flag(node, f"imports from numba-cuda's {node.module}")
        elif isinstance(node, ast.Attribute):
            if node.attr in ATTRIBUTES:
                flag(node, f"uses Numba's undocumented .{node.attr}")
            chain = _dotted(node)
            if chain and chain.startswith(("numba.core.", "numba.np", "llvmlite.")) and (
                    _undocumented(chain)) and (
                    len(chain.split(".")) == 3 if chain.startswith("numba.core.") else
                    len(chain.split(".")) == 2):  # the module itself, once per use
                flag(node, f"uses {_undocumented(chain)}")
        elif isinstance(node, ast.keyword) and node.arg in FLAGS:
            flag(node.value, f"passes Numba's undocumented option {node.arg}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in FLAGS:
                flag(node, f"names Numba's undocumented option {node.value!r}")
            elif node.value.startswith(C_HELPERS):
                flag(node, f"binds Numba's C helper {node.value!r}")
    return found


def _files():
    """Every source file scanned, with whether it may use numba-cuda's internals."""
    listed = cuda_internal_files()
    cuda = KERNELS / "cuda"
    for path in sorted([*KERNELS.rglob("*.py"), *FASTBP.rglob("*.py")]):
        if path in INTERNALS or "__pycache__" in path.parts:
            continue
        yield path, path.parent != cuda or path.name in listed


def test_no_file_but_the_internals_modules_names_numbas_internals():
    violations = []
    for path, cuda_allowed in _files():
        violations += scan(path.read_text(), path.relative_to(KERNELS.parent), cuda_allowed)
    assert not violations, ("Numba's internals named outside kernels/numba_internals.py and "
                            "kernels/cpu/numba_internals.py:\n" + "\n".join(violations))


def test_the_files_listed_for_numba_cuda_internals_use_them():
    # a stale entry would let a new use slip into a file no one reviews for it
    for name in sorted(cuda_internal_files()):
        source = (KERNELS / "cuda" / name).read_text()
        assert scan(source, name, cuda_internals_allowed=False), (
            f"kernels/cuda/{name} is listed in NUMBA_CUDA_INTERNALS but uses no numba-cuda "
            f"internal")


def test_the_internals_modules_use_what_they_are_for():
    # were one emptied, the scan above could not tell: each still names internals
    for path in INTERNALS:
        assert scan(path.read_text(), path.name), path


VIOLATIONS = textwrap.dedent("""
    import llvmlite.binding
    from llvmlite import ir
    from numba.core import cgutils
    from numba.core.caching import FunctionCache
    from numba.extending import intrinsic
    from numba.np.ufunc import parallel
    from numba.np.linalg import ensure_blas
    from numba.cuda.cudadrv.driver import driver
    import numba
    entry = dispatcher.overloads[signature].entry_point
    address = result.library.get_pointer_to_function(result.fndesc.llvm_func_name)
    locator = cache._impl.locator
    started = parallel._is_initialized
    event = numba.core.event
    compiled = numba.njit(no_cpython_wrapper=True)(f)
    options = {"no_cfunc_wrapper": True}
    gemm = numba.types.ExternalFunction("numba_xxgemm", signature)
""")

PUBLIC = textwrap.dedent("""
    import numba
    import numpy as np
    from numba import cuda, njit, types
    from numba.core.errors import TypingError
    from numba.core import types as core_types
    from numba.extending import overload
    from .numba_internals import address, entry_point as compiled_entry
    jit = njit(cache=True, nogil=True, error_model="numpy")
    threads = numba.get_num_threads() if numba.threading_layer() else numba.config.NUMBA_NUM_THREADS
    value = np.dot(a, b)
""")


def test_the_scan_flags_each_kind_of_use_and_passes_public_code():
    found = scan(VIOLATIONS, "example.py", cuda_internals_allowed=False)
    lines = {int(entry.split(":")[1]) for entry in found}
    # every line of the example but the plain ``import numba`` is flagged
    assert lines == set(range(2, 19)) - {10}, "\n".join(found)
    assert scan(PUBLIC, "public.py", cuda_internals_allowed=False) == []
