"""The README's Python runs as written: its ```python blocks, in order, in one fresh interpreter.

The blocks are concatenated and run by a new ``python -c`` process (as a user would paste them into
a session: with no script file, a Dask ``LocalCluster``'s worker processes do not re-run it), with a
temporary folder as working directory, so the files the examples save land there.
Every other fenced block must say what it is (```bash, ```text, ...), so that nothing meant to run
hides in an unlabelled block.
"""

import pathlib
import re
import subprocess
import sys

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
FENCE = re.compile(r"^```(\S*)\s*$")


def fenced_blocks(text):
    """``[(language, code), ...]`` of the Markdown text's fenced blocks, in order."""
    blocks, language, lines = [], None, []
    for line in text.splitlines():
        match = FENCE.match(line)
        if language is None and match:
            language, lines = match.group(1), []
        elif language is not None and line.rstrip() == "```":
            blocks.append((language, "\n".join(lines) + "\n"))
            language = None
        elif language is not None:
            lines.append(line)
    assert language is None, "an unclosed fenced block"
    return blocks


def python_blocks():
    return [code for language, code in fenced_blocks(README.read_text(encoding="utf-8"))
            if language == "python"]


def test_every_fenced_block_names_its_language():
    blocks = fenced_blocks(README.read_text(encoding="utf-8"))
    assert blocks
    unlabelled = [code for language, code in blocks if not language]
    assert not unlabelled, f"label these blocks (```python, ```bash, ```text): {unlabelled}"


def test_the_python_blocks_run_top_to_bottom(tmp_path):
    pytest.importorskip("onnxruntime", reason="the README's ONNX lines need the onnx extra")
    pytest.importorskip("distributed", reason="the README's Dask block needs the dask extra")
    blocks = python_blocks()
    assert len(blocks) >= 4  # the ten lines, the estimator, save/load/ONNX, Dask
    script = "\n".join(blocks)
    done = "README blocks ran to the end"
    result = subprocess.run([sys.executable, "-c", script + f"\nprint({done!r})\n"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    output = f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    assert result.returncode == 0, output
    assert result.stdout.rstrip().endswith(done), output
    assert (tmp_path / "model.safetensors").is_file()
    assert (tmp_path / "dask-clf.safetensors").is_file()
