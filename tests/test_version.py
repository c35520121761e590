"""``fastbp.__version__`` is the installed distribution's version, written in pyproject.toml
only."""

import importlib.metadata
import pathlib
import re
import subprocess
import sys

import pytest

import fastbp

CHECKOUT = pathlib.Path(__file__).resolve().parents[1]


def test_version_is_the_installed_metadata():
    assert fastbp.__version__ == importlib.metadata.version("fastbp")
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", fastbp.__version__), fastbp.__version__


def test_version_is_read_from_the_metadata_not_written_in_the_package():
    # the metadata answers something else: so must fastbp.__version__ (a literal would not)
    code = ("import importlib.metadata as m\n"
            "real = m.version\n"
            "m.version = lambda name: '9.8.7' if name == 'fastbp' else real(name)\n"
            "import fastbp\n"
            "print(fastbp.__version__)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=CHECKOUT.parent)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "9.8.7"


def test_pyproject_is_the_one_place_the_version_is_written():
    pyproject = CHECKOUT / "pyproject.toml"
    if not pyproject.exists():
        pytest.skip("the tests run outside a source checkout: no pyproject.toml to compare with")
    declared = re.search(r'^version = "([^"]+)"$', pyproject.read_text(), re.MULTILINE).group(1)
    # the installed metadata is that of this checkout (an install of another version would differ)
    assert fastbp.__version__ == declared
    # and no module repeats it
    package = pathlib.Path(fastbp.__file__).resolve().parent
    kernels = pathlib.Path(fastbp.kernels.__file__).resolve().parent
    written = [str(path) for folder in (package, kernels) for path in folder.rglob("*.py")
               if f'"{declared}"' in path.read_text(encoding="utf-8")]
    assert written == []
