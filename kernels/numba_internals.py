"""Every use of Numba beyond its documented API that the backends share, and the Numba versions
fastbp has been tested with.

Two conveniences of :mod:`fastbp.kernels.disk_cache` and :mod:`fastbp.kernels.compile_notice` rest
on parts of Numba that it does not document, and ``fastbp info`` reads the host CPU through
llvmlite; they live here, each with a plain fallback, so that a Numba that lays itself out
otherwise costs a convenience, never a failure:

* :func:`cache_directory`: where Numba's cache locator puts a function's cache files
  (``numba.core.caching.FunctionCache``); the fallback derives it from the source's path
  (:func:`cache_directory_by_path`);
* :func:`listen_to_compiles`: Numba's compile events (``numba.core.event``); without them fastbp
  gives no notice before a compile;
* :func:`host_cpu`: llvmlite's name and features of the host CPU.

The CPU backend's own uses (its calls through addresses, BLAS helpers, atomics) are in
:mod:`fastbp.kernels.cpu.numba_internals`; numba-cuda's are in the files listed by
``fastbp.kernels.cuda.NUMBA_CUDA_INTERNALS``. ``tests/test_numba_internals_audit.py`` checks that no
other file of the CPU backend or of ``fastbp`` names an undocumented part of Numba.

None of this runs where ``FASTBP_NUMBA_PUBLIC_ONLY=1`` is set, or where the running Numba is outside
:data:`TESTED_NUMBA`: the fallbacks do.
"""

import hashlib
import os
import sys
import tempfile

#: The oldest and newest Numba releases (major.minor, any patch release) fastbp is tested with;
#: outside them the backends use Numba's documented API alone.
TESTED_NUMBA = ("0.60", "0.68")

#: Set to 1, the backends use Numba's documented API alone, whatever Numba is installed.
PUBLIC_ONLY_VARIABLE = "FASTBP_NUMBA_PUBLIC_ONLY"


def public_only_requested():
    """Whether ``FASTBP_NUMBA_PUBLIC_ONLY`` asks for Numba's documented API alone."""
    return os.environ.get(PUBLIC_ONLY_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def release(version):
    """``(major, minor)`` of a version string such as ``"0.68.1"`` or ``"0.61.0rc1"``."""
    parts = version.split(".")
    try:
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or "-1")
    except (IndexError, ValueError):
        return (-1, -1)


def untested_version(version=None):
    """Why the running Numba (or ``version``) is outside :data:`TESTED_NUMBA`, or None if it is
    within it."""
    if version is None:
        import numba

        version = numba.__version__
    oldest, newest = (release(v) for v in TESTED_NUMBA)
    if oldest <= release(version) <= newest:
        return None
    return (f"Numba {version} is outside the versions fastbp is tested with "
            f"({TESTED_NUMBA[0]} to {TESTED_NUMBA[1]})")


def internals_allowed():
    """Whether the shared conveniences may use Numba's internals: not forced off, and a tested
    Numba."""
    return not public_only_requested() and untested_version() is None


# ---- where Numba caches a function --------------------------------------------------------------

def cache_directory(function):
    """The directory Numba caches ``function``'s compiled code in, from Numba's own cache locator
    where allowed, else :func:`cache_directory_by_path`.

    Parameters
    ----------
    function : a Python function, defined in a source file

    Returns
    -------
    str
    """
    if internals_allowed():
        try:
            from numba.core.caching import FunctionCache

            found = FunctionCache(function)._cache_path
            if isinstance(found, str):
                return found
        except Exception:  # noqa: BLE001  Numba laid out otherwise: the documented rules below
            pass
    return cache_directory_by_path(function.__code__.co_filename)


def cache_directory_by_path(source):
    """The directory Numba caches the functions of the file ``source`` in, by the rules its
    documentation gives (section "Cache" of the ``@jit`` options and ``NUMBA_CACHE_DIR``):
    ``NUMBA_CACHE_DIR`` where set; else the ``__pycache__`` folder beside the source where it can
    be written; else the user-wide cache folder (``$XDG_CACHE_HOME/numba`` or ``~/.cache/numba``
    on Linux, ``~/Library/Caches/numba`` on macOS, ``%LOCALAPPDATA%\\numba\\Cache`` on Windows).

    Under ``NUMBA_CACHE_DIR`` and the user-wide folder, Numba keeps each source folder's files in
    a subfolder named after the folder and the SHA-1 of its absolute path: that name is not
    documented, and is what this function assumes of it (checked against Numba's locator by
    ``tests/test_disk_cache.py``).

    Parameters
    ----------
    source : str
        A Python source file.

    Returns
    -------
    str
    """
    import numba

    folder = os.path.dirname(os.path.abspath(source))
    subfolder = "_".join([os.path.basename(folder), hashlib.sha1(folder.encode()).hexdigest()])
    if numba.config.CACHE_DIR:
        return os.path.join(numba.config.CACHE_DIR, subfolder)
    in_tree = os.path.join(folder, "__pycache__")
    try:
        os.makedirs(in_tree, exist_ok=True)
        tempfile.TemporaryFile(dir=in_tree).close()
        return in_tree
    except OSError:
        return os.path.join(_user_cache_folder(), subfolder)


def _user_cache_folder():
    if sys.platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA", os.path.expanduser("~"))
        return os.path.join(base, "numba", "Cache")
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Caches/numba")
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                        "numba")


# ---- Numba's compile events ---------------------------------------------------------------------

def listen_to_compiles(on_start, on_end):
    """Call ``on_start(module, argument_types)`` when Numba starts compiling a function of
    ``module`` for those argument types (never when it loads one from its disk cache), and
    ``on_end()`` when that compile ends; neither may raise.

    Returns
    -------
    bool
        False where Numba's events are not available (or not allowed): nothing will be called.
    """
    if not internals_allowed():
        return False
    try:
        from numba.core import event

        class CompileListener(event.Listener):
            def on_start(self, found):
                data = found.data
                on_start(getattr(data["dispatcher"].py_func, "__module__", "") or "",
                         data["args"])

            def on_end(self, found):
                on_end()

        event.register("numba:compile", CompileListener())
    except Exception:  # noqa: BLE001  no events: no notice
        return False
    return True


# ---- the host CPU, as Numba compiles for it -----------------------------------------------------

def host_cpu():
    """``(name, features)`` of the host CPU as Numba's compiler (llvmlite) sees it: features are
    the names it enables, such as ``"avx2"``."""
    import llvmlite.binding as llvm

    features = llvm.get_host_cpu_features().flatten().split(",")
    return llvm.get_host_cpu_name(), [f[1:] for f in features if f.startswith("+")]
