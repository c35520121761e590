"""Numba's disk cache of this package's kernels, kept loadable across upgrades.

Numba keeps, per cached function, an index file (``<module>.<function>-<line>.pyXY.nbi``) holding
a stamp of the module's source and the compiled signatures. It unpickles the whole index and only
then compares the stamp with the source's, so an index written for another version of a module is
read before it is found stale. Its signatures name the record classes of the version that wrote
it; where this version no longer has one of them, the unpickling raises ``AttributeError`` and the
function fails on its first call instead of compiling. Installers leave these files behind (they
are not among a wheel's files), and a function's line often stays the same across versions.

:func:`check_once`, called on import by every module here that caches compiled functions, so before
any of them is loaded, removes each index whose stamp is not its source's: one Numba would discard
anyway, so no valid entry is lost. Stamps are compared without unpickling (from the pickle's
opcodes). A source's stamp is the one Numba's own cache locator takes (a hash of the file in Numba
0.68), or the file's modification time and size, which numba-cuda's caching (the CUDA kernels'
indexes) and older Numba versions take.
"""

import copy
import inspect
import os
import pickletools
import threading

import numba
from numba.core.caching import FunctionCache
from numba.core.serialize import dumps

_check = {"started": False}
_checking = threading.Lock()


def check_once():
    """Remove the stale Numba cache indexes of this package's kernels (:func:`drop_stale_
    indexes`), once per process; other threads wait for the check to end. First, have fastbp say
    when a kernel is about to compile (:mod:`fastbp.kernels.compile_notice`): this runs before
    any kernel can be compiled or loaded."""
    with _checking:
        if _check["started"]:
            return
        _check["started"] = True
        from .compile_notice import install

        install()
        try:
            cache_dir, stamp_of = numba_cache(_probe)
        except Exception:  # noqa: BLE001  Numba laid out otherwise: its cache is left to it
            return
        drop_stale_indexes(cache_dir, stamp_of)


def _probe():
    """A function of this package's directory, for Numba to locate its cache."""


def numba_cache(function):
    """Where Numba caches the functions compiled from the modules of ``function``'s directory
    (``NUMBA_CACHE_DIR``, the directory's ``__pycache__`` or the user's cache), and the stamp it
    takes of those modules' sources.

    Parameters
    ----------
    function : a Python function

    Returns
    -------
    cache_dir : str
    stamp_of : callable
        Module name -> the stamps its source may be given now, as a tuple: the one Numba's cache
        locator takes, and ``(st_mtime, st_size)``; empty for a module that is not there.

    Raises
    ------
    RuntimeError
        If the locator does not take its stamp from the file it is pointed at: a wrong stamp
        would have every index removed on every start.
    """
    cache = FunctionCache(function)
    locator = cache._impl.locator
    source = os.path.abspath(inspect.getfile(function))

    def stamp(path):
        twin = copy.copy(locator)
        twin._py_file = path
        return twin.get_source_stamp()

    own = stamp(source)
    if own != locator.get_source_stamp() or stamp(os.__file__) == own:
        raise RuntimeError("Numba's cache locator stamps sources otherwise")

    def stamp_of(module):
        path = os.path.join(os.path.dirname(source), module + ".py")
        if not os.path.isfile(path):
            return ()
        status = os.stat(path)
        return stamp(path), (status.st_mtime, status.st_size)

    return cache._cache_path, stamp_of


def drop_stale_indexes(cache_dir, stamp_of):
    """Remove the Numba cache indexes in ``cache_dir`` whose stamp is none of their module's.

    Indexes written by another Numba version are left alone: Numba skips them unread.

    Parameters
    ----------
    cache_dir : str
        A directory of Numba cache files.
    stamp_of : callable
        Module name -> the stamps its source may be given now (:func:`numba_cache`); none if it
        is gone.

    Returns
    -------
    list of str
        The paths removed.
    """
    try:
        names = [name for name in os.listdir(cache_dir) if name.endswith(".nbi")]
    except OSError:
        return []  # no cache yet, or none this process may read
    stamps = {}
    removed = []
    for name in names:
        path = os.path.join(cache_dir, name)
        module = name.split(".", 1)[0]
        if module not in stamps:
            stamps[module] = [_stamp_opcodes(pickletools.genops(dumps((stamp, {}))))
                              for stamp in stamp_of(module)]
        if not _stale(path, stamps[module]):
            continue
        try:
            os.remove(path)
        except OSError:
            continue  # removed by another process, or not this process's to remove
        removed.append(path)
    return removed


def _stale(path, current):
    """Whether the index at ``path`` was written by this Numba for another source than the one
    whose stamps pickle as the opcodes in the list ``current`` (empty: a source that is gone)."""
    try:
        with open(path, "rb") as file:
            # two pickles: Numba's version, then (stamp, overloads); genops stops at the end of
            # the first
            version = [arg for op, arg, _ in pickletools.genops(file)
                       if arg is not None and op.name not in _FRAMING]
            if version != [numba.__version__]:
                return False
            found = _stamp_opcodes(pickletools.genops(file))
    except (OSError, ValueError, EOFError):
        return False  # unreadable here: left to Numba
    return found is not None and found not in current


_FRAMING = {"PROTO", "FRAME", "MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"}


def _stamp_opcodes(opcodes):
    """``(name, argument)`` of the opcodes of a ``(stamp, overloads)`` pickle up to the
    overloads' dict; None if there is none within the first few."""
    found = []
    for op, arg, _ in opcodes:
        if op.name in _FRAMING:
            continue
        if op.name == "EMPTY_DICT":
            return found
        found.append((op.name, arg))
        if len(found) > 8 or op.name == "STOP":
            return None
    return None
