"""Numba's disk cache across versions of a module (kernels/disk_cache.py): an index another
version left is removed before it can break a call; a current one is kept and loaded."""

import os
import pickle
import subprocess
import sys
import textwrap

import numba
import numpy as np
from numba.core.serialize import dumps

import fastbp
from fastbp.kernels import disk_cache

# Two versions of a module: the second renames the record class the first cached a signature
# with, and keeps the cached function at the same line, so Numba's index file has the same name.
VERSION_1 = textwrap.dedent("""
    from typing import NamedTuple
    from numba import njit
    class Rec(NamedTuple):
        a: float
    @njit(cache=True)
    def double(r):
        return r.a * 2
    RECORD = Rec
""")
VERSION_2 = VERSION_1.replace("class Rec(", "class Record(").replace("= Rec", "= Record")

CALL = "import versioned; print(versioned.double(versioned.RECORD(1.5)))"
GUARDED_CALL = textwrap.dedent("""
    import versioned
    from fastbp.kernels.disk_cache import drop_stale_indexes, numba_cache
    print([os.path.basename(p) for p in drop_stale_indexes(*numba_cache(versioned.double.py_func))])
    print(versioned.double(versioned.RECORD(1.5)))
""").replace("import versioned\n", "import os, versioned\n", 1)


def _printed(run):
    """What the code printed, without Numba's cache log."""
    return [line for line in run.stdout.splitlines() if not line.startswith("[cache]")]


def _run(directory, code):
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_CACHE_DIR"}
    env.update(PYTHONPATH=os.pathsep.join([str(directory), env.get("PYTHONPATH", "")]),
               NUMBA_DEBUG_CACHE="1")
    return subprocess.run([sys.executable, "-c", code], cwd=directory, env=env,
                          capture_output=True, text=True, timeout=300)


def test_an_index_another_version_left_is_removed_before_it_breaks_a_call(tmp_path):
    module = tmp_path / "versioned.py"
    module.write_text(VERSION_1)
    first = _run(tmp_path, CALL)
    assert first.returncode == 0, first.stderr
    assert _printed(first) == ["3.0"]
    index = [name for name in os.listdir(tmp_path / "__pycache__") if name.endswith(".nbi")]
    assert len(index) == 1

    module.write_text(VERSION_2)
    # what the guard prevents: Numba unpickles the old index before it compares the stamps
    unguarded = _run(tmp_path, CALL)
    assert unguarded.returncode != 0
    assert "AttributeError" in unguarded.stderr and "'Rec'" in unguarded.stderr

    guarded = _run(tmp_path, GUARDED_CALL)
    assert guarded.returncode == 0, guarded.stderr
    assert _printed(guarded) == [repr(index), "3.0"]

    # the index this version wrote is current: kept, and the next process loads from it
    again = _run(tmp_path, GUARDED_CALL)
    assert again.returncode == 0, again.stderr
    assert _printed(again) == ["[]", "3.0"]
    assert "[cache] data loaded from" in again.stdout


def _index(path, version, stamp):
    """An index file laid out as Numba's: its version, then (stamp, overloads), each pickled."""
    with open(path, "wb") as file:
        pickle.dump(version, file, protocol=-1)
        file.write(dumps((stamp, {})))


def test_indexes_are_removed_by_their_stamp_and_left_for_another_numba(tmp_path):
    # stamps as Numba 0.68 takes them (a hash) and as numba-cuda does (modification time, size)
    def stamp_of(module):  # "gone" has no source any more
        return (b"current", (1.5, 120)) if module == "kept" else ()

    _index(tmp_path / "kept.fresh-1.py311.nbi", numba.__version__, b"current")
    # the stamp numba-cuda's caching takes: the file's modification time and size
    _index(tmp_path / "kept.cuda-3.py311.nbi", numba.__version__, (1.5, 120))
    _index(tmp_path / "kept.older_cuda-4.py311.nbi", numba.__version__, (1.25, 120))
    _index(tmp_path / "kept.stale-5.py311.nbi", numba.__version__, b"older")
    _index(tmp_path / "gone.f-1.py311.nbi", numba.__version__, b"current")
    # Numba reads another version's index no further than the version: neither does the guard
    with open(tmp_path / "kept.other-9.py311.nbi", "wb") as file:
        pickle.dump("0.0.1", file, protocol=-1)
        file.write(b"not a pickle")
    (tmp_path / "kept.fresh-1.py311.1.nbc").write_bytes(b"data")

    removed = disk_cache.drop_stale_indexes(str(tmp_path), stamp_of)
    assert sorted(os.path.basename(path) for path in removed) == [
        "gone.f-1.py311.nbi", "kept.older_cuda-4.py311.nbi", "kept.stale-5.py311.nbi"]
    assert sorted(os.listdir(tmp_path)) == [
        "kept.cuda-3.py311.nbi", "kept.fresh-1.py311.1.nbc", "kept.fresh-1.py311.nbi",
        "kept.other-9.py311.nbi"]


def test_the_kernels_indexes_are_current_after_a_fit():
    # this process's kernels wrote or loaded their indexes: none is taken for stale, so a warm
    # cache survives every start
    model = fastbp.Sequential([fastbp.Dense(3, 4, "relu"), fastbp.Dense(4, 2, "softmax")],
                              loss="cross_entropy", seed=0)
    model.fit(np.ones((8, 3)), np.arange(8) % 2, epochs=1, batch_size=4)
    cache_dir, stamp_of = disk_cache.numba_cache(disk_cache._probe)
    indexes = [name for name in os.listdir(cache_dir) if name.endswith(".nbi")]
    assert any(name.startswith("cpu_epoch._epoch_worker") for name in indexes)
    assert disk_cache.drop_stale_indexes(cache_dir, stamp_of) == []
    assert all(name in os.listdir(cache_dir) for name in indexes)


def test_importing_a_kernel_module_removes_the_stale_indexes_of_the_kernels(tmp_path):
    # a fresh process with its own Numba cache directory, holding one stale kernels index
    code = textwrap.dedent("""
        import os, pickle, sys
        import numba
        from numba.core.serialize import dumps
        from fastbp.kernels import disk_cache
        cache_dir, _ = disk_cache.numba_cache(disk_cache._probe)
        os.makedirs(cache_dir, exist_ok=True)
        stale = os.path.join(cache_dir, "cpu_epoch.gone-1.py311.nbi")
        with open(stale, "wb") as file:
            pickle.dump(numba.__version__, file, protocol=-1)
            file.write(dumps((b"another version's stamp", {})))
        from fastbp.kernels.cpu import sync as cpu_sync  # a module that caches compiled functions
        print(cache_dir.startswith(sys.argv[1]), os.path.exists(stale))
    """)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["True", "False"]
