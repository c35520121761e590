"""The CPU backend's two paths through Numba (kernels/cpu/numba_path.py): its internals where they
are tested and probed sound, its documented API alone otherwise, with the same results.

Each case runs fresh processes: the path is chosen once, when the backend is imported.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastbp.kernels import numba_internals

#: A float64 run of what differs between the paths: an epoch split into two shards and two chunks
#: on two threads (the atomics), a forward pass of many rows on threads and of a few by gemv, and
#: a dense layer's gradients (the tables, BLAS).
COMPUTE = textwrap.dedent("""
    import json, sys
    import numpy as np
    from fastbp.kernels import codes, cpu
    from fastbp.kernels.cpu import epoch, forward, numba_path, threads
    from fastbp.kernels.records import AdamSettings, Batches, Network, Penalty, TrainingState

    rng = np.random.default_rng(0)
    dims = np.array([6, 32, 16, 3])
    size = sum(int(a * b + b) for a, b in zip(dims[:-1], dims[1:]))
    theta = rng.uniform(-0.5, 0.5, size)
    state = TrainingState(theta, np.zeros(size), np.zeros(size), np.zeros(size))
    activations = np.array([codes.TANH, codes.RELU, codes.SOFTMAX])
    network = Network(dims, activations, np.array([0.25, 0.0, 0.0]), codes.CROSS_ENTROPY)
    X = rng.standard_normal((97, 6))
    Y = np.eye(3)[rng.integers(0, 3, 97)]
    batches = Batches(X, Y, rng.uniform(0.5, 2.0, 97), rng.permutation(97), 32)
    losses = []
    with threads.training_session():
        for step in (0, 4):
            arguments = (state, network, batches, AdamSettings(0.01, 0.9, 0.999, 1e-8),
                         Penalty(1e-2, 1e-3), 7, step)
            losses.append(epoch.split_epoch(2, 2, arguments, threads=2)[0])
    inference = forward.Forward(theta, dims, activations)
    many, few = rng.standard_normal((600, 6)), rng.standard_normal((3, 6))
    out_many, out_few = np.empty((600, 3)), np.empty((3, 3))
    inference(many, out_many)
    inference(few, out_few)
    x, W = rng.standard_normal((5, 4)), rng.standard_normal((4, 3))
    grad = rng.standard_normal((5, 3))
    pre = x @ W
    out = np.tanh(pre)
    dx, dW, db = np.empty((5, 4)), np.empty((4, 3)), np.empty(3)
    cpu.dense_backward(dx, dW, db, grad, x, W, out, pre, codes.TANH)
    print(json.dumps({
        "fast": numba_path.FAST,
        "internals imported": "fastbp.kernels.cpu.numba_internals" in sys.modules,
        "losses": losses, "theta": theta.tolist(), "many": out_many.tolist(),
        "few": out_few.tolist(), "dx": dx.tolist(), "dW": dW.tolist(), "db": db.tolist()}))
""")


def _run(code, public_only=False, cache_dir=None, warnings_are_errors=True):
    env = {k: v for k, v in os.environ.items() if k != numba_internals.PUBLIC_ONLY_VARIABLE}
    if public_only:
        env[numba_internals.PUBLIC_ONLY_VARIABLE] = "1"
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    flags = ["-W", "error"] if warnings_are_errors else []
    done = subprocess.run([sys.executable, *flags, "-c", code], env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return done


def test_both_paths_compute_the_same_and_the_public_one_touches_no_internal():
    fast = json.loads(_run(COMPUTE).stdout.splitlines()[-1])
    # asked for by the variable: no warning (-W error would fail the run), no internal imported
    public = json.loads(_run(COMPUTE, public_only=True).stdout.splitlines()[-1])
    assert (fast["fast"], fast["internals imported"]) == (True, True)
    assert (public["fast"], public["internals imported"]) == (False, False)
    for name in ("losses", "theta", "many", "few", "dx", "dW", "db"):
        # the products round differently (the bias added by BLAS or after it): float64 agrees to
        # far better than the kernels' tolerance, kernel_rtol(float64) = 1e-12, after two epochs
        np.testing.assert_allclose(public[name], fast[name], rtol=1e-10, atol=1e-12,
                                   err_msg=name)
    assert np.all(np.isfinite(fast["losses"])) and fast["losses"][1] < fast["losses"][0]


UNTESTED = textwrap.dedent("""
    import warnings
    import numba
    numba.__version__ = "0.99.0"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from fastbp.kernels import cpu
        from fastbp.studies import info
    found = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    print(len(found))
    print(found[0])
    print(info._numba_path())
""")


def test_an_untested_numba_takes_the_public_path_with_one_warning(tmp_path):
    # its own cache: the stamp of the kernels' cache names the Numba version (kernels/disk_cache.py)
    printed = _run(UNTESTED, cache_dir=tmp_path, warnings_are_errors=False).stdout.splitlines()
    assert printed[0] == "1"
    assert "Numba 0.99.0 is outside the versions fastbp is tested with" in printed[1]
    assert "documented API" in printed[1] and "slower" in printed[1]
    assert printed[2].startswith("public API path: Numba 0.99.0 is outside")


BROKEN_ATOMICS = textwrap.dedent("""
    import warnings
    from llvmlite import ir
    original = ir.IRBuilder.atomic_rmw
    def subtract_instead(self, op, ptr, val, ordering, name=""):
        return original(self, "sub", ptr, val, ordering, name)
    ir.IRBuilder.atomic_rmw = subtract_instead  # a Numba whose atomics went wrong
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from fastbp.kernels.cpu import numba_path
    found = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    print(len(found), numba_path.FAST)
    print(found[0])
    from fastbp.cli import main
    main(["info"])
""")

MISSING_BLAS = textwrap.dedent("""
    import warnings
    import numba.np.linalg
    def no_blas():
        raise ImportError("no BLAS here")
    numba.np.linalg.ensure_blas = no_blas
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from fastbp.kernels.cpu import numba_path
    print(sum(issubclass(w.category, RuntimeWarning) for w in caught), numba_path.FAST)
    print(numba_path.PATH.describe())
""")


def test_a_failing_probe_takes_the_public_path_and_names_the_probe(tmp_path):
    # an empty cache: the probes compile with the broken atomics
    printed = _run(BROKEN_ATOMICS, cache_dir=tmp_path, warnings_are_errors=False).stdout
    lines = printed.splitlines()
    assert lines[0] == "1 False"
    assert "a probe of Numba" in lines[1] and "the atomics gave" in lines[1]
    kernels_line = next(line for line in lines if line.startswith("CPU kernels"))
    assert "public API path: a probe of Numba" in kernels_line
    assert "the atomics gave" in kernels_line


def test_internals_that_fail_to_import_take_the_public_path(tmp_path):
    lines = _run(MISSING_BLAS, cache_dir=tmp_path, warnings_are_errors=False).stdout.splitlines()
    assert lines[0] == "1 False"
    assert lines[1].startswith("public API path: Numba ")
    assert "internals could not be imported (ImportError: no BLAS here)" in lines[1]


def _versions():
    """Releases just inside and just outside :data:`TESTED_NUMBA`, patch releases included."""
    (old_major, old_minor), (new_major, new_minor) = (
        numba_internals.release(end) for end in numba_internals.TESTED_NUMBA)
    return [(f"{old_major}.{old_minor}.0", False), (f"{new_major}.{new_minor}.0", False),
            (f"{new_major}.{new_minor}.7", False), (f"{new_major}.{new_minor}.1rc1", False),
            (f"{old_major}.{old_minor - 1}.9", True), (f"{new_major}.{new_minor + 1}.0", True),
            (f"{new_major + 1}.0.0", True), ("nonsense", True)]


@pytest.mark.parametrize("version, untested", _versions())
def test_the_tested_range_includes_every_patch_release_of_its_ends(version, untested):
    assert (numba_internals.untested_version(version) is not None) == untested


def test_info_names_the_path_this_process_took():
    from fastbp.kernels.cpu.numba_path import PATH
    from fastbp.studies import info

    facts = dict(info.collect())
    line = facts["CPU kernels"]
    assert line == PATH.describe()
    if PATH.fast:
        assert line.startswith("fast path: Numba ") and "internals" in line
    else:  # the suite run by .ci/public_api.sh
        assert line == f"public API path: {numba_internals.PUBLIC_ONLY_VARIABLE}=1 is set"
