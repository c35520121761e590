"""Damaged and hostile model files: each raises ModelFileError (a ValueError) naming the problem.

The files corrupted here are the committed v1 files. Where a test changes the header or the arrays
on purpose, it rewrites the file with a fresh checksum, so that the check under test, not the
checksum, is what must catch it.
"""

import copy
import json
import pathlib
import struct

import numpy as np
import pytest
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays

import fastbp
from fastbp import ModelFileError
from fastbp.io import format as fmt

DATA = pathlib.Path(__file__).parent / "data"
SEQUENTIAL = (DATA / "v1-sequential.safetensors").read_bytes()
CLASSIFIER = (DATA / "v1-mlp_classifier.safetensors").read_bytes()


def _n(data):
    return struct.unpack("<Q", data[:8])[0]


def _with_length(value):
    return lambda d: struct.pack("<Q", value) + d[8:]


def _flip(offset, mask=0xFF):
    def mutate(d):
        d = bytearray(d)
        d[offset if offset >= 0 else len(d) + offset] ^= mask
        return bytes(d)
    return mutate


def _table(edit):
    """Edit the outer safetensors JSON table, keeping the data section as it is."""
    def mutate(d):
        n = _n(d)
        table = json.loads(d[8:8 + n])
        result = edit(table)
        text = json.dumps(table if result is None else result).encode()
        return struct.pack("<Q", len(text)) + text + d[8 + n:]
    return mutate


def _rewrite(edit_header=None, edit_arrays=None, header_text=None):
    """Rewrite the file with an edited header and/or arrays and a checksum that matches them."""
    def mutate(d):
        header = copy.deepcopy(fmt.parse_layout(d, len(d)).header)
        arrays = dict(load_arrays(d))
        if edit_header:
            edit_header(header)
        if edit_arrays:
            edit_arrays(arrays)
        text = fmt.encode_header(header) if header_text is None else header_text
        metadata = {fmt.METADATA_KEY: text, fmt.CHECKSUM_KEY: fmt.checksum(text, arrays)}
        return save_arrays(arrays, metadata=metadata)
    return mutate


def _set(path, value):
    """A header edit setting ``header[path[0]][path[1]]... = value``."""
    def edit(header):
        target = header
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return edit


def _arrays(fn):
    return _rewrite(edit_arrays=fn)


def _nan_weight(arrays):
    arrays["layers.0.W"] = arrays["layers.0.W"].copy()
    arrays["layers.0.W"][1, 2] = np.nan


def _inf_moment(arrays):
    arrays["optimizer.state_b"] = arrays["optimizer.state_b"].copy()
    arrays["optimizer.state_b"][0] = np.inf


N = _n(SEQUENTIAL)

CORRUPTIONS = {
    # truncations at each part of the file
    "empty file": (SEQUENTIAL, lambda d: b"", "8-byte header length alone needs 8"),
    "truncated in the length prefix": (SEQUENTIAL, lambda d: d[:5], "8-byte header length"),
    "truncated in the header": (SEQUENTIAL, lambda d: d[:8 + N // 2], "runs past the end"),
    "truncated after the header": (SEQUENTIAL, lambda d: d[:8 + N],
                                   r"data section is 0 bytes .*truncated"),
    "truncated in the arrays": (SEQUENTIAL, lambda d: d[:-3], "the file truncated"),
    "trailing bytes": (SEQUENTIAL, lambda d: d + b"\0" * 8, "trailing bytes"),
    # the length prefix
    "oversized header length": (SEQUENTIAL, _with_length(2**40), "exceeds the 16,777,216-byte"),
    "header length past the file": (SEQUENTIAL, _with_length(len(SEQUENTIAL)),
                                    "runs past the end"),
    # safetensors pads its header with spaces, so one byte short still parses; the bytes then
    # fail to add up
    "header length one byte short": (SEQUENTIAL, _with_length(N - 1),
                                     "data section is 277 bytes but the arrays need 276"),
    "header length far too short": (SEQUENTIAL, _with_length(N // 2), "not valid UTF-8 JSON"),
    # flipped and replaced header bytes
    "flipped first header byte": (SEQUENTIAL, _flip(8), "not valid UTF-8 JSON"),
    "header byte made non-UTF-8": (SEQUENTIAL, _flip(8 + 20, 0x80), "not valid UTF-8 JSON"),
    "header is not an object": (SEQUENTIAL, _table(lambda t: [t]), "must be a JSON object"),
    "no fastbp metadata": (SEQUENTIAL, _table(lambda t: t.pop("__metadata__") and None),
                           "metadata must hold exactly"),
    "fastbp header not JSON": (SEQUENTIAL, _rewrite(header_text="{\"format\": "),
                               "'fastbp' header is not valid JSON"),
    "NaN literal in the header": (SEQUENTIAL, _rewrite(header_text='{"format": NaN}'),
                                  "non-standard JSON constant NaN"),
    "edited checksum": (SEQUENTIAL, _table(lambda t: t["__metadata__"].update(
        fastbp_sha256="0" * 64)), "checksum does not match"),
    "flipped data byte": (SEQUENTIAL, _flip(-1, 0x01), "checksum does not match"),
    "flipped byte in the fastbp header": (SEQUENTIAL, lambda d: d.replace(b'gelu', b'relu', 1),
                                          "checksum does not match"),
    # what the header says
    "foreign format": (SEQUENTIAL, _rewrite(_set(["format"], "keras")),
                       "header.format: expected 'fastbp-model'; got 'keras'"),
    "newer format version": (SEQUENTIAL, _rewrite(_set(["format_version"], 2)),
                             "format version 2 is newer than the 1 this fastbp reads"),
    "format version zero": (SEQUENTIAL, _rewrite(_set(["format_version"], 0)),
                            "format_version: expected an integer >= 1"),
    "format version as text": (SEQUENTIAL, _rewrite(_set(["format_version"], "1")),
                               "format_version: expected int"),
    "unknown kind": (SEQUENTIAL, _rewrite(_set(["kind"], "pickle")),
                     "header.kind: expected one of .*got 'pickle'"),
    "unknown activation": (SEQUENTIAL, _rewrite(_set(["layers", 1, "activation"], "os.system")),
                           r"layers\[1\].activation: expected one of"),
    "layers do not chain": (SEQUENTIAL, _rewrite(_set(["layers", 1, "n_in"], 4)),
                            r"layers\[1\].n_in: expected 3 .*got 4"),
    "unknown dtype": (SEQUENTIAL, _rewrite(_set(["dtype"], "float16")), "header.dtype"),
    # the arrays
    "wrong array dtype": (SEQUENTIAL, _arrays(lambda a: a.update({"layers.0.W": a[
        "layers.0.W"].astype(np.float64)})),
        "array 'layers.0.W': expected dtype float32; got float64"),
    "wrong array shape": (SEQUENTIAL, _arrays(lambda a: a.update({"layers.0.W": a[
        "layers.0.W"].T.copy()})),
        r"array 'layers.0.W': expected shape \(4, 3\); got \(3, 4\)"),
    "missing array": (SEQUENTIAL, _arrays(lambda a: a.__delitem__("layers.1.b")),
                      r"expected 6 arrays, found 5; missing \['layers.1.b'\]"),
    "extra array": (SEQUENTIAL, _arrays(lambda a: a.update(code=np.zeros(3, np.float32))),
                    r"unexpected \['code'\]"),
    "optimizer arrays without an optimizer": (
        SEQUENTIAL, _rewrite(_set(["optimizer"], None)),
        r"expected 4 arrays, found 6; unexpected \['optimizer.state_a', 'optimizer.state_b'\]"),
    "NaN weight": (SEQUENTIAL, _arrays(_nan_weight),
                   "array 'layers.0.W' holds 1 NaN or infinite values"),
    "infinite optimizer moment": (SEQUENTIAL, _arrays(_inf_moment),
                                  "array 'optimizer.state_b' holds 1 NaN or infinite"),
    "unsupported safetensors dtype": (SEQUENTIAL, _table(lambda t: t["layers.0.b"].update(
        dtype="F16")), "dtype 'F16' is not one of"),
    "offsets disagree with the shape": (SEQUENTIAL, _table(lambda t: t["layers.0.b"].update(
        shape=[5])), r"shape \[5\] of float32 needs 20 bytes"),
    "arrays not contiguous": (SEQUENTIAL, _table(lambda t: [
        e.update(data_offsets=[e["data_offsets"][0] + 4, e["data_offsets"][1] + 4])
        for e in t.values() if "data_offsets" in e and e["data_offsets"][0] > 0] and None),
        "expected .* \\(arrays must be contiguous\\)"),
    # the estimator part
    "unknown estimator parameter": (CLASSIFIER, _rewrite(_set(
        ["estimator", "params", "__reduce__"], "os.system")), r"unknown parameters \['__reduce__'\]"),
    "unknown value type": (CLASSIFIER, _rewrite(_set(["estimator", "params", "activation"],
                                                     {"pickle": "cos\nsystem"})),
                           "unknown value type 'pickle'"),
    "invalid parameter value": (CLASSIFIER, _rewrite(_set(["estimator", "params", "solver"],
                                                          "newton")),
                                "params: The 'solver' parameter"),
    "unknown fitted attribute": (CLASSIFIER, _rewrite(_set(["estimator", "fitted", "__class__"],
                                                           "x")), "unknown attribute '__class__'"),
    "classes that do not fit the outputs": (CLASSIFIER, _rewrite(_set(
        ["estimator", "fitted", "classes_"], {"array": {"dtype": "str", "values": ["a", "b"]}})),
        "2 multiclass classes do not fit 3 output units"),
    "missing fitted attribute": (CLASSIFIER, _rewrite(lambda h: h["estimator"]["fitted"].pop(
        "n_outputs_")), r"missing \['n_outputs_'\]"),
    "fitted attribute of the wrong type": (CLASSIFIER, _rewrite(_set(
        ["estimator", "fitted", "n_iter_"], "30")), "n_iter_: value of the wrong type"),
}


@pytest.mark.parametrize("base, mutate, message", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_each_corruption_raises_model_file_error_naming_it(tmp_path, base, mutate, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(mutate(base))
    assert path.read_bytes() != base
    with pytest.raises(ModelFileError, match=message) as caught:
        fastbp.load(path)
    assert isinstance(caught.value, ValueError)
    # the message names the file first, as the user gave it
    assert str(caught.value).startswith(f"{path}: not a loadable fastbp model file: ")


def test_the_unchanged_bases_load():
    """The control: the corruptions above start from files that load."""
    assert isinstance(fastbp.load(DATA / "v1-sequential.safetensors"), fastbp.Sequential)
    assert isinstance(fastbp.load(DATA / "v1-mlp_classifier.safetensors"), fastbp.MLPClassifier)


def test_a_rewrite_that_changes_nothing_loads(tmp_path):
    """The control of the rewriting helper: with no edit its file loads."""
    path = tmp_path / "same.safetensors"
    path.write_bytes(_rewrite()(CLASSIFIER))
    assert fastbp.load(path).predict([[0.1, 0.2, 0.3, 0.4]]).shape == (1,)


@pytest.mark.parametrize("mask", [0x01, 0x80])
def test_every_single_bit_flip_is_refused(tmp_path, mask):
    """Flip one bit (lowest or highest) of each byte of a valid file in turn: every result is
    refused, whether the flip lands in the length, the table, the header or the arrays."""
    path = tmp_path / "flipped.safetensors"
    accepted = []
    for offset in range(len(SEQUENTIAL)):
        path.write_bytes(_flip(offset, mask)(SEQUENTIAL))
        try:
            fastbp.load(path)
        except ModelFileError:
            continue
        accepted.append(offset)
    assert accepted == []


def test_inspect_reads_only_the_header_and_refuses_the_same_damage(tmp_path):
    from fastbp.io.inspect import describe_file

    path = tmp_path / "m.safetensors"
    path.write_bytes(SEQUENTIAL[:8 + N])  # no arrays at all: inspect still sees the header...
    with pytest.raises(ModelFileError, match="truncated"):  # ...but reports the missing bytes
        describe_file(path)
    path.write_bytes(_with_length(2**40)(SEQUENTIAL))
    with pytest.raises(ModelFileError, match="exceeds"):
        describe_file(path)
