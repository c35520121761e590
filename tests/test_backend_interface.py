"""The backends are one interface: the same public names with the same parameters, and a compiled
layer that never reaches back into ``fastbp``."""

import ast
import inspect
import pathlib
import subprocess
import sys

import pytest

from fastbp.kernels import cpu, reference

KERNELS = pathlib.Path(reference.__file__).parent

#: Names one backend has beyond the interface, and why.
EXTRAS = {
    "cuda": {"ptx_targets"},  # every CUDA kernel, for compiling PTX ahead of time
    "cpu": {"Inference"},  # the whole network in one compiled call; elsewhere the layer loop
}


def _backends():
    found = {"reference": reference, "cpu": cpu}
    # importing the CUDA face needs numba-cuda (the [cuda] extra, part of [test]), not a GPU
    from fastbp.kernels import cuda
    found["cuda"] = cuda
    return found


def _parameters(function):
    """Parameter names of a Python function or a Numba dispatcher (its Python function)."""
    return list(inspect.signature(getattr(function, "py_func", function)).parameters)


@pytest.mark.parametrize("name", ["cpu", "cuda"])
def test_every_backend_exposes_the_reference_names(name):
    backend = _backends()[name]
    assert set(backend.__all__) - EXTRAS.get(name, set()) == set(reference.__all__)
    for attribute in backend.__all__:
        assert hasattr(backend, attribute), f"{name}.__all__ names {attribute}, which is missing"


@pytest.mark.parametrize("name", ["cpu", "cuda"])
def test_every_function_takes_the_reference_parameters(name):
    backend = _backends()[name]
    for attribute in reference.__all__:
        assert _parameters(getattr(backend, attribute)) == \
            _parameters(getattr(reference, attribute)), attribute


def test_every_public_function_of_the_interface_is_documented():
    for attribute in reference.__all__:
        assert inspect.getdoc(getattr(reference, attribute)), attribute


def test_nothing_in_kernels_imports_fastbp():
    for path in sorted(KERNELS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] == "fastbp" for a in node.names), path.name
            elif isinstance(node, ast.ImportFrom):
                # a relative import above kernels/ would reach fastbp/ once installed
                assert node.level <= 1, f"{path.name} imports from above kernels/"
                assert node.level == 1 or (node.module or "").split(".")[0] != "fastbp", path.name


def test_the_reference_never_imports_numba():
    code = ("import sys; import fastbp.kernels.reference, fastbp.kernels.layer_loop; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'numba'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
