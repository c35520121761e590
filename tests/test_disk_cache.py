"""Numba's disk cache of the kernels is valid for the exact sources that wrote it
(kernels/disk_cache.py): a change to any kernels file, the one a cached function inlines included,
empties the kernels' cache folders before anything is loaded from them; an unchanged checkout keeps
and loads them. Each case runs fresh processes, as a user's next start would."""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastbp
from fastbp.kernels import disk_cache, numba_internals

KERNELS = pathlib.Path(disk_cache.__file__).resolve().parent


def _run(code, cwd, cache_dir=None, public_only=False, argv=()):
    """Run ``code`` in a fresh interpreter (``cache_dir``: its ``NUMBA_CACHE_DIR``, None for
    Numba's in-tree ``__pycache__``); returns what it printed, without Numba's cache log."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", numba_internals.PUBLIC_ONLY_VARIABLE)}
    env.update(PYTHONPATH=os.pathsep.join([str(cwd), env.get("PYTHONPATH", "")]),
               NUMBA_DEBUG_CACHE="1")
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    if public_only:
        env[numba_internals.PUBLIC_ONLY_VARIABLE] = "1"
    done = subprocess.run([sys.executable, "-c", code, *map(str, argv)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    return done, [line for line in done.stdout.splitlines() if not line.startswith("[cache]")]


# ---- a cached function whose helper, in another file, changes ----------------------------------

PAIR = {
    "__init__.py": "",
    "a.py": textwrap.dedent("""
        from numba import njit
        from .b import helper
        @njit(cache=True)
        def total(x):
            return helper(x) + 1
    """),
    "b.py": textwrap.dedent("""
        from numba import njit
        @njit(inline="always")
        def helper(x):
            return x * 2
    """),
}
UNGUARDED = "from pair import a; print(a.total(3))"
GUARDED = textwrap.dedent("""
    import os
    from fastbp.kernels import disk_cache
    import pair
    removed = disk_cache.refresh(os.path.dirname(pair.__file__))
    from pair import a
    print(len(removed), a.total(3))
""")


@pytest.mark.parametrize("cache", ["in-tree", "NUMBA_CACHE_DIR"])
@pytest.mark.parametrize("path", ["fast", "public"])
def test_a_cached_function_is_recompiled_when_a_file_it_inlines_changes(tmp_path, cache, path):
    package = tmp_path / "pair"
    package.mkdir()
    for name, text in PAIR.items():
        (package / name).write_text(text)
    settings = dict(cache_dir=tmp_path / "cache" if cache == "NUMBA_CACHE_DIR" else None,
                    public_only=path == "public")
    first, printed = _run(GUARDED, tmp_path, **settings)
    assert first.returncode == 0, first.stderr
    assert printed == ["0 7"]  # a new folder: nothing to remove, compiled and cached

    (package / "b.py").write_text(PAIR["b.py"].replace("x * 2", "x * 3"))
    # what the stamp prevents: Numba checks a.py alone, finds it unchanged, serves the old code
    stale, printed = _run(UNGUARDED, tmp_path, **settings)
    assert stale.returncode == 0, stale.stderr
    assert printed == ["7"] and "[cache] data loaded from" in stale.stdout

    fresh, printed = _run(GUARDED, tmp_path, **settings)
    assert fresh.returncode == 0, fresh.stderr
    removed, value = printed[0].split()
    assert int(removed) >= 2 and value == "10"  # a's index and data were removed; b's code ran

    again, printed = _run(GUARDED, tmp_path, **settings)
    assert again.returncode == 0, again.stderr
    assert printed == ["0 10"] and "[cache] data loaded from" in again.stdout


# ---- the kernels themselves --------------------------------------------------------------------

DENSE_BACKWARD = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import numpy as np
    import kernels
    assert kernels.__file__.startswith(sys.argv[1]), kernels.__file__
    from kernels import codes, cpu
    rng = np.random.default_rng(0)
    x, W = rng.standard_normal((5, 3)), rng.standard_normal((3, 4))
    grad = rng.standard_normal((5, 4))
    out = x @ W
    dW, db = np.empty((3, 4)), np.empty(4)
    cpu.dense_backward(None, dW, db, grad, x, W, out, out.copy(), codes.IDENTITY)
    print(json.dumps({"db": db.tolist(), "expected": grad.sum(0).tolist()}))
""")


def test_the_kernels_bias_gradient_follows_a_change_to_the_helper_it_inlines(tmp_path):
    """``dense_backward`` (cpu/__init__.py) inlines ``_column_sums`` (cpu/epoch.py); after a
    change to the latter, the next process computes with it, not with the cached old code."""
    copy = tmp_path / "checkout"
    shutil.copytree(KERNELS, copy / "kernels", ignore=shutil.ignore_patterns("__pycache__"))
    cache = tmp_path / "cache"
    first, printed = _run(DENSE_BACKWARD, tmp_path, cache_dir=cache, argv=[copy])
    assert first.returncode == 0, first.stderr
    before = json.loads(printed[-1])
    np.testing.assert_allclose(before["db"], before["expected"], rtol=1e-12)

    epoch = copy / "kernels" / "cpu" / "epoch.py"
    source = epoch.read_text()
    assert source.count("db[j] += delta[i, j]") == 1, "_column_sums is no longer as this test knows"
    epoch.write_text(source.replace("db[j] += delta[i, j]", "db[j] += 2 * delta[i, j]"))
    after_change, printed = _run(DENSE_BACKWARD, tmp_path, cache_dir=cache, argv=[copy])
    assert after_change.returncode == 0, after_change.stderr
    after = json.loads(printed[-1])
    np.testing.assert_allclose(after["db"], 2 * np.array(after["expected"]), rtol=1e-12)


def test_the_kernels_cache_folders_are_stamped_and_kept_after_a_fit():
    # this process's kernels wrote or loaded their cache: every folder is stamped with the
    # sources, so the next start keeps it all
    model = fastbp.Sequential([fastbp.Dense(3, 4, "relu"), fastbp.Dense(4, 2, "softmax")],
                              loss="cross_entropy", seed=0)
    model.fit(np.ones((8, 3)), np.arange(8) % 2, epochs=1, batch_size=4)
    folders = [disk_cache.cache_folder(folder) for folder in disk_cache.source_folders(KERNELS)]
    assert [os.path.basename(folder) for folder in disk_cache.source_folders(KERNELS)] == [
        "kernels", "cpu", "cuda"]
    stamp = disk_cache.sources_stamp(str(KERNELS))
    for folder in folders:
        assert (pathlib.Path(folder) / disk_cache.STAMP_FILE).read_text() == stamp, folder
    cpu_files = os.listdir(folders[1])
    assert any(name.startswith("epoch._epoch_worker") and name.endswith(".nbi")
               for name in cpu_files)
    assert disk_cache.refresh(str(KERNELS)) == []
    assert sorted(os.listdir(folders[1])) == sorted(cpu_files)


def test_importing_a_kernel_module_empties_a_cache_folder_stamped_for_other_sources(tmp_path):
    # a fresh process with its own Numba cache directory, whose CPU folder was stamped by other
    # sources; a folder of the user's own beside it is left alone
    code = textwrap.dedent("""
        import os, sys
        from fastbp.kernels import disk_cache
        cpu = os.path.join(os.path.dirname(disk_cache.__file__), "cpu")
        folder = disk_cache.cache_folder(cpu)
        os.makedirs(folder, exist_ok=True)
        for name in ("epoch.gone-1.py311.nbi", "epoch.gone-1.py311.1.nbc", "notes.txt"):
            open(os.path.join(folder, name), "w").close()
        with open(os.path.join(folder, disk_cache.STAMP_FILE), "w") as file:
            file.write("other sources")
        mine = os.path.join(sys.argv[1], "mine_0123")
        os.makedirs(mine)
        open(os.path.join(mine, "mine.f-1.py311.nbi"), "w").close()
        from fastbp.kernels.cpu import sync  # a module that caches compiled functions
        planted = ("epoch.gone-1.py311.nbi", "epoch.gone-1.py311.1.nbc", "notes.txt",
                   disk_cache.STAMP_FILE)
        left = sorted(name for name in os.listdir(folder) if name in planted)
        print(folder.startswith(sys.argv[1]), left, os.listdir(mine))
        with open(os.path.join(folder, disk_cache.STAMP_FILE)) as file:
            print(file.read() == disk_cache.sources_stamp(os.path.dirname(disk_cache.__file__)))
    """)
    done, printed = _run(code, tmp_path, cache_dir=tmp_path, argv=[tmp_path])
    assert done.returncode == 0, done.stderr
    assert printed == [f"True {sorted(['notes.txt', disk_cache.STAMP_FILE])!r} "
                       f"{['mine.f-1.py311.nbi']!r}", "True"]


def test_a_stamped_folder_is_kept_and_another_emptied_of_cache_files_alone(tmp_path):
    for name in ("m.f-1.py311.nbi", "m.f-1.py311.1.nbc", "m.cpython-311.pyc"):
        (tmp_path / name).write_bytes(b"x")
    removed = disk_cache.refresh_folder(str(tmp_path), "stamp 1")
    assert sorted(os.path.basename(path) for path in removed) == [
        "m.f-1.py311.1.nbc", "m.f-1.py311.nbi"]
    assert sorted(os.listdir(tmp_path)) == [disk_cache.STAMP_FILE, "m.cpython-311.pyc"]
    (tmp_path / "m.g-2.py311.nbi").write_bytes(b"x")  # written under stamp 1
    assert disk_cache.refresh_folder(str(tmp_path), "stamp 1") == []
    assert len(disk_cache.refresh_folder(str(tmp_path), "stamp 2")) == 1
    assert (tmp_path / disk_cache.STAMP_FILE).read_text() == "stamp 2"
    # a folder that cannot be made (a file is in the way): nothing removed, nothing raised
    assert disk_cache.refresh_folder(str(tmp_path / "m.cpython-311.pyc" / "sub"), "s") == []


def test_the_sources_stamp_covers_every_file_of_the_package(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "sub" / "b.py").write_text("y = 1\n")
    (tmp_path / "notes.txt").write_text("not a source")
    stamp = disk_cache.sources_stamp(str(tmp_path))
    (tmp_path / "notes.txt").write_text("still not a source")
    assert disk_cache.sources_stamp(str(tmp_path)) == stamp
    (tmp_path / "sub" / "b.py").write_text("y = 2\n")
    assert disk_cache.sources_stamp(str(tmp_path)) != stamp


LOCATED = textwrap.dedent("""
    import json, os
    from numba.core.caching import FunctionCache
    from fastbp.kernels import disk_cache, numba_internals
    found = []
    for folder in disk_cache.source_folders(os.path.dirname(disk_cache.__file__)):
        first = min(name for name in os.listdir(folder) if name.endswith(".py"))
        source = os.path.join(folder, first)
        numba_s = FunctionCache(disk_cache._function_of(source))._cache_path
        found.append([numba_s, numba_internals.cache_directory_by_path(source),
                      disk_cache.cache_folder(folder)])
    print(json.dumps(found))
""")


@pytest.mark.parametrize("cache", ["in-tree", "NUMBA_CACHE_DIR"])
def test_the_documented_rules_find_the_folders_numbas_locator_uses(tmp_path, cache):
    # the public path locates the kernels' cache by Numba's documented rules and the one naming
    # they do not document (kernels/numba_internals.py): this holds it to Numba's own locator
    done, printed = _run(LOCATED, tmp_path,
                         cache_dir=tmp_path / "cache" if cache == "NUMBA_CACHE_DIR" else None)
    assert done.returncode == 0, done.stderr
    found = json.loads(printed[-1])
    assert len(found) == 3
    for by_numba, by_path, used in found:
        assert by_numba == by_path == used
