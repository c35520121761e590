"""The documentation's Python runs as written: each Markdown page's ```python blocks, in order.

As ``test_readme`` does for the README, every page under ``docs/`` (the front page, the
contributor's page, the user guide and the benchmark pages) that holds ```python blocks is one
case: its blocks are concatenated and run by a new ``python -c`` process (as a reader would paste
them into a session), with a temporary folder as working directory, so the files the examples
save land there. Each page therefore imports what it uses and makes its own small data in its
first block. ``docs/worked-examples.md`` is not here: ``test_worked_examples`` checks its cases;
nor are the generated folders (``_build``, ``auto_examples``, ``api/generated``).

Every other fenced block must say what it is (```bash, ```text, ```dockerfile, ...), in a
language Sphinx can highlight, so that nothing meant to run hides in an unlabelled block; blocks
that cannot run here (a real cluster's address, a GPU) are fenced as such, not as ```python.
"""

import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

from test_readme import fenced_blocks

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
PAGES = [DOCS / "index.md", DOCS / "contributing.md",
         *sorted((DOCS / "guide").glob("*.md")), *sorted((DOCS / "benchmarks").glob("*.md"))]

#: Modules of an optional extra: a page whose blocks import one skips when it is not installed.
OPTIONAL = ("dask", "dask_ml", "distributed", "matplotlib", "onnx", "onnxruntime", "skl2onnx",
            "skops")
IMPORT = re.compile(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", re.MULTILINE)
#: Calls that import an optional extra inside fastbp: History.plot draws with matplotlib.
CALLS = {".plot(": "matplotlib"}


def _name(page):
    return page.relative_to(DOCS).as_posix()


def _blocks(page):
    return fenced_blocks(page.read_text(encoding="utf-8"))


def _python(page):
    return [code for language, code in _blocks(page) if language == "python"]


PYTHON_PAGES = [page for page in PAGES if _python(page)]


def test_the_pages_are_found():
    names = {_name(page) for page in PAGES}
    assert {"index.md", "contributing.md", "guide/sequential.md", "benchmarks/index.md"} <= names
    assert {"index.md", "guide/estimators.md", "guide/sequential.md"} <= \
        {_name(page) for page in PYTHON_PAGES}


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_every_fenced_block_names_its_language(page):
    unlabelled = [code for language, code in _blocks(page) if not language]
    assert not unlabelled, f"label these blocks (```python, ```bash, ```text): {unlabelled}"
    lexers = pytest.importorskip("pygments.lexers")
    unknown = []
    for language, _ in _blocks(page):
        if language.startswith("{"):
            continue  # a MyST directive, such as {toctree}
        try:
            lexers.get_lexer_by_name(language)
        except Exception:  # pygments.util.ClassNotFound
            unknown.append(language)
    assert not unknown, f"languages Pygments does not know: {unknown}"


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=_name)
def test_the_python_blocks_run_top_to_bottom(page, tmp_path):
    script = "\n".join(_python(page))
    needed = set(IMPORT.findall(script)) & set(OPTIONAL)
    needed |= {module for call, module in CALLS.items() if call in script}
    for module in sorted(needed):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{_name(page)} needs {module} (an optional extra)")
    done = f"{_name(page)}: blocks ran to the end"
    env = {**os.environ, "MPLBACKEND": "Agg"}  # figures are drawn to memory, never to a display
    result = subprocess.run([sys.executable, "-c", script + f"\nprint({done!r})\n"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    output = f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    assert result.returncode == 0, output
    assert result.stdout.rstrip().endswith(done), output
