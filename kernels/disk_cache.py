"""Numba's disk cache of this package's kernels: valid only for the exact sources that wrote it.

Numba stamps each cached function with its own source file and nothing else. A kernel that inlines
or calls code of another file (``dense_backward`` of ``cpu/__init__.py`` inlines ``_column_sums``
of ``cpu/epoch.py``; every CUDA kernel calls the device functions of ``cuda/math.py``) is loaded
from the cache after that other file changed, and computes with its old code. And Numba unpickles
a whole index before it compares the stamp: an index whose signatures name a record class that
the new sources no longer have fails the first call instead of compiling.

So each folder the kernels are cached in holds a stamp file, :data:`STAMP_FILE`: a hash of every
``.py`` file of the package (its subpackages included), with the fastbp and Numba versions
(:func:`sources_stamp`). :func:`check_once`, called on import by every module here that caches
compiled functions, so before any of them can be loaded, compares it with the sources'; where it
differs (or is missing), every Numba cache file (``.nbi`` index, ``.nbc`` data) in that folder is
removed before the new stamp is written. Numba's cache folders hold one source folder's files each
(``kernels/``, ``kernels/cpu/``, ``kernels/cuda/``), so nothing but the kernels' cache is touched.

Where the folders are comes from Numba's own cache locator where the internals are allowed
(:func:`fastbp.kernels.numba_internals.cache_directory`), else from Numba's documented rules
(``NUMBA_CACHE_DIR``, the ``__pycache__`` beside the sources, the user-wide cache). Two processes
of different sources writing the same cache folder at the same time (a checkout edited while its
tests run) can still leave an entry of the one the other then loads: the stamp is checked once
per process, at its first kernel import.
"""

import hashlib
import os
import threading
import types

from . import numba_internals

#: The stamp file kept in each of the kernels' cache folders.
STAMP_FILE = "fastbp-sources.stamp"

#: Numba's cache files: a function's index and its compiled data.
CACHE_SUFFIXES = (".nbi", ".nbc")

PACKAGE = os.path.dirname(os.path.abspath(__file__))

_check = {"started": False}
_checking = threading.Lock()


def check_once():
    """Empty the kernels' cache folders whose stamp is not the sources' (:func:`refresh`), once
    per process; other threads wait for the check to end. First, have fastbp say when a kernel is
    about to compile (:mod:`fastbp.kernels.compile_notice`): this runs before any kernel can be
    compiled or loaded."""
    with _checking:
        if _check["started"]:
            return
        _check["started"] = True
        from .compile_notice import install

        install()
        try:
            refresh(PACKAGE)
        except OSError:  # sources that cannot be read (an unusual install): Numba's own checks
            pass


def refresh(package):
    """Empty every cache folder of ``package``'s sources whose stamp differs from
    :func:`sources_stamp` of ``package``, and stamp it.

    Parameters
    ----------
    package : str
        A folder of Python sources; its subfolders with sources are covered too.

    Returns
    -------
    list of str
        The cache files removed.
    """
    stamp = sources_stamp(package)
    removed = []
    for folder in source_folders(package):
        removed += refresh_folder(cache_folder(folder), stamp)
    return removed


def source_folders(package):
    """``package`` and each folder under it that holds ``.py`` files (``__pycache__`` aside)."""
    found = []
    for folder, subfolders, files in os.walk(package):
        subfolders[:] = sorted(name for name in subfolders if name != "__pycache__")
        if any(name.endswith(".py") for name in files):
            found.append(folder)
    return found


def cache_folder(source_folder):
    """The folder Numba caches the functions of ``source_folder``'s modules in."""
    first = min(name for name in os.listdir(source_folder) if name.endswith(".py"))
    return numba_internals.cache_directory(_function_of(os.path.join(source_folder, first)))


def _function_of(source):
    """A function that claims to be defined in ``source``, for Numba's locator (which reads no
    more of it than its file): the folder's modules need not be imported to find their cache."""
    def probe():
        """Nothing: its file is all that is asked of it."""
    return types.FunctionType(probe.__code__.replace(co_filename=source), {})


def sources_stamp(package):
    """A hash of every ``.py`` file under ``package`` (path and content), with the fastbp and
    Numba versions: cached code is valid for exactly these.

    Returns
    -------
    str
    """
    import numba

    digest = hashlib.sha256()
    for folder in source_folders(package):
        for name in sorted(os.listdir(folder)):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, package).encode() + b"\0")
                with open(path, "rb") as file:
                    digest.update(file.read() + b"\0")
    digest.update(f"fastbp {_fastbp_version()}\0numba {numba.__version__}".encode())
    return digest.hexdigest()


def _fastbp_version():
    import importlib.metadata

    try:
        return importlib.metadata.version("fastbp")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def refresh_folder(cache_dir, stamp):
    """Remove every Numba cache file in ``cache_dir`` unless its stamp file holds ``stamp``, then
    write ``stamp`` there.

    Parameters
    ----------
    cache_dir : str
    stamp : str

    Returns
    -------
    list of str
        The paths removed; none where the folder cannot be read or written (Numba then caches
        elsewhere, or nothing).
    """
    stamp_path = os.path.join(cache_dir, STAMP_FILE)
    try:
        with open(stamp_path) as file:
            if file.read() == stamp:
                return []
    except OSError:
        pass  # no stamp yet (a new folder, or files fastbp did not stamp): emptied below
    try:
        names = os.listdir(cache_dir)
    except OSError:
        names = []
    removed = []
    for name in names:
        if name.endswith(CACHE_SUFFIXES):
            path = os.path.join(cache_dir, name)
            try:
                os.remove(path)
            except OSError:
                continue  # removed by another process, or not this process's to remove
            removed.append(path)
    try:
        os.makedirs(cache_dir, exist_ok=True)
        partial = f"{stamp_path}.{os.getpid()}"
        with open(partial, "w") as file:
            file.write(stamp)
        os.replace(partial, stamp_path)  # whole or not at all, whoever writes last
    except OSError:
        pass  # a folder this process may not write: Numba cannot cache there either
    return removed
