"""The ``Examples`` sections of the public modules' docstrings run, and print what they say.

Every module of ``fastbp`` (``fastbp.kernels`` included) whose source holds a doctest prompt is a
test case: :mod:`doctest` finds the examples in its docstrings and runs them, and any failure fails
the case. Modules of an optional extra that is not installed skip. The walk reads the source files,
so a module without examples is not imported here.
"""

import doctest
import importlib
import pathlib

import pytest

import fastbp

ROOT = pathlib.Path(fastbp.__file__).resolve().parent
KERNELS = pathlib.Path(importlib.import_module("fastbp.kernels").__file__).resolve().parent

#: A module's optional dependency: the extra's import that must succeed for its examples to run.
EXTRAS = {"fastbp.dask": "distributed", "fastbp.kernels.cuda": "numba.cuda"}

OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules():
    """Names of the package's modules whose source holds a doctest prompt, in a fixed order."""
    found = []
    for package, folder in (("fastbp", ROOT), ("fastbp.kernels", KERNELS)):
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if folder == ROOT and parts[0] == "kernels":
                continue  # an in-tree kernels folder is walked as fastbp.kernels
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if ">>> " in path.read_text(encoding="utf-8"):
                found.append(".".join((package, *parts)))
    return found


MODULES = _modules()


def _tests(name):
    for prefix, requirement in EXTRAS.items():
        if name == prefix or name.startswith(prefix + "."):
            pytest.importorskip(requirement, reason=f"{name} needs {requirement}")
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    # only what the module defines (a re-exported function's examples run in its own module)
    return [test for test in finder.find(module, name)
            if test.examples and _defined_in(test, module)]


def _defined_in(test, module):
    return test.filename is None or pathlib.Path(test.filename).resolve() == \
        pathlib.Path(module.__file__).resolve()


def test_the_walk_finds_examples():
    assert len(MODULES) >= 10, MODULES
    assert {"fastbp.model", "fastbp.callbacks", "fastbp.layers"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_module_examples(name, tmp_path, monkeypatch):
    tests = _tests(name)
    assert sum(len(test.examples) for test in tests) > 0, f"{name}: no examples found"
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    runner = doctest.DocTestRunner(verbose=False, optionflags=OPTIONS)  # not from sys.argv
    reports = []
    for test in tests:
        runner.run(test, out=reports.append)
    assert not reports, "".join(reports)
    results = runner.summarize(verbose=False)
    assert results.failed == 0 and results.attempted > 0
