"""The native model file's layout and header schema, checked before anything is built.

A file is a safetensors file: an 8-byte little-endian header length ``N``, ``N`` bytes of JSON
describing each array (dtype, shape, byte range), then the arrays' raw bytes. Its string metadata
holds two entries: ``fastbp``, one JSON document describing the object (format name and version,
kind, layers, dtype, parameters, fitted attributes), and ``fastbp_sha256``, the SHA-256 of that
document and of every array (see :func:`checksum`), so that a flipped bit anywhere is reported
rather than loaded as a slightly different model.

Everything here reads bytes and JSON only: no name read from a file is ever imported or called, and
every kind, dtype and activation is looked up in a fixed table.
"""

import hashlib
import json
import math
import os
import pickle
import struct
from dataclasses import dataclass

import numpy as np

from ..errors import ModelFileError
from ..kernels import codes

FORMAT_NAME = "fastbp-model"
#: The newest format version this library writes and reads; older versions keep loading.
FORMAT_VERSION = 1
#: What a file may hold, from the ``kind`` field, and nothing else.
KINDS = ("sequential", "mlp_classifier", "mlp_regressor")
METADATA_KEY = "fastbp"
CHECKSUM_KEY = "fastbp_sha256"
#: A header past this size is refused before it is read (a 1M-parameter network's is ~1 KiB; a
#: long loss curve adds ~20 bytes an epoch).
MAX_HEADER_BYTES = 16 * 2**20
#: safetensors' dtype codes for the arrays this format stores.
ARRAY_DTYPES = {"F32": np.dtype(np.float32), "F64": np.dtype(np.float64)}
DTYPE_CODES = {dtype.name: code for code, dtype in ARRAY_DTYPES.items()}
#: Names allowed in ``layers[i].init`` (mirrors fastbp.initializers without importing it twice).
INITIALIZERS = ("glorot_uniform", "he_uniform")
OPTIMIZERS = ("sgd", "adam")
BACKENDS = ("numpy", "cpu", "cuda")
#: Every array name a file may hold, by pattern: per layer, the optimizer's two state vectors and
#: the early-stopping snapshot.
OPTIMIZER_ARRAYS = ("optimizer.state_a", "optimizer.state_b")
BEST_PARAMETERS = "best_parameters"


def layer_arrays(i):
    """Names of layer ``i``'s weights and biases in a file."""
    return f"layers.{i}.W", f"layers.{i}.b"


@dataclass(frozen=True)
class Layout:
    """A file's outer structure, parsed from its first ``8 + header_bytes`` bytes.

    Attributes
    ----------
    header : dict
        The ``fastbp`` JSON document.
    header_text : str
        The same document as stored (the checksum covers these exact characters).
    checksum : str
    arrays : dict of str to (numpy.dtype, tuple of int, (int, int))
        Each array's dtype, shape and byte range in the data section.
    header_bytes, file_bytes : int
    """

    header: dict
    header_text: str
    checksum: str
    arrays: dict
    header_bytes: int
    file_bytes: int


def fail(message):
    """A :class:`ModelFileError` carrying ``message`` (raised by the caller)."""
    return ModelFileError(f"not a loadable fastbp model file: {message}")


def naming(path, error):
    """``error`` (a :class:`ModelFileError`) again, its message led by ``path`` as the user gave
    it, so that a message read far from the call (a log, a batch job) says which file it is."""
    return ModelFileError(f"{os.fsdecode(path)}: {error}")


#: Other formats' first bytes, and what to say of a file that starts with them: the files a user
#: may hand to :func:`fastbp.load` by mistake (a pickle of the estimator, a skops or ONNX export).
_COMPRESSED = ("a compressed file ({}), as joblib.dump(..., compress=...) writes: load it with "
               "joblib.load, only if you trust its source (unpickling runs code)")
FOREIGN_FORMATS = (
    (b"PK\x03\x04", "a zip archive, as skops.io.dump writes: load it with skops.io.load"),
    (b"\x1f\x8b", _COMPRESSED.format("gzip")),
    (b"BZh", _COMPRESSED.format("bz2")),
    (b"\xfd7zXZ\x00", _COMPRESSED.format("xz")),
    (b"\x04\x22\x4d\x18", _COMPRESSED.format("lz4")),
    (b"]\x00\x00", _COMPRESSED.format("lzma")),
)


def foreign_format(head):
    """What the first bytes ``head`` of a file say it is, if another format a model may be saved
    in; None otherwise.

    Recognised: Python pickles of protocol 2 and later (``pickle.dump``, ``joblib.dump``: the
    PROTO opcode ``\\x80`` and the protocol number), joblib's compressed files, skops' zip
    archives and ONNX models (a protobuf ``ModelProto``: its ``ir_version`` field first, then
    another of its fields, as ``onnx.save`` writes it). Some of these first bytes can also start a
    fastbp file (``80 04 00 ...`` is a 1,152-byte header's length), so callers ask only about a
    file whose own structure is already found wrong.

    Parameters
    ----------
    head : bytes
        At least the file's first 3 bytes (fewer: None).

    Returns
    -------
    str or None
        A phrase for an error message: what the file is and what reads it.
    """
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= pickle.HIGHEST_PROTOCOL:
        return (f"a Python pickle (protocol {head[1]}), as pickle.dump and joblib.dump write: load "
                f"it with joblib.load or pickle.load, only if you trust its source (unpickling "
                f"runs code); fastbp.save writes fastbp's own format")
    for magic, what in FOREIGN_FORMATS:
        if head.startswith(magic):
            return what
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return _COMPRESSED.format("zlib")  # RFC 1950: deflate, 32K window, header check bits
    if len(head) >= 3 and head[0] == 0x08 and 0 < head[1] < 0x80 and head[2] in _ONNX_FIELDS:
        return ("an ONNX model (as fastbp.to_onnx and onnx.save write): run it with onnxruntime; "
                "fastbp does not read ONNX back")
    return None


#: The keys of ``ModelProto``'s fields that may follow its ``ir_version`` (fields 2 to 8: producer
#: name and version, domain, model version, doc string, graph, opset imports).
_ONNX_FIELDS = frozenset({0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42})


def read_prefix(path):
    """The length prefix and header of the file at ``path`` (never its arrays), and its size.

    Returns
    -------
    prefix : bytes
    file_bytes : int
    """
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(0)
        start = f.read(9)  # the length and the header's first byte (refusal looks at it)
        if len(start) < 8:
            raise fail(f"the file is {size} bytes long; the 8-byte header length alone needs 8")
        n = _header_length(start, size)
        rest = f.read(max(0, 8 + n - len(start)))
        return (start + rest)[:8 + n], size


def _header_length(head, size):
    """The header length the first bytes ``head`` (8, or more) of a ``size``-byte file give."""
    (n,) = struct.unpack("<Q", head[:8])
    if n > MAX_HEADER_BYTES:
        raise refusal(head, f"header length {n:,} bytes exceeds the {MAX_HEADER_BYTES:,}-byte "
                            f"limit (corrupt length prefix?)")
    if 8 + n > size:
        raise refusal(head, f"header length {n:,} bytes runs past the end of the {size:,}-byte "
                            f"file (truncated file or corrupt length prefix)")
    return n


def refusal(head, message):
    """The error for a file whose structure is wrong as ``message`` says, starting with ``head``
    (its first 9 bytes or more, where it has them): what the file is instead where
    :func:`foreign_format` knows it, ``message`` otherwise.

    A file whose 9th byte opens a JSON object is a safetensors file (a fastbp one, damaged or
    truncated) whatever its length prefix looks like: ``message`` then."""
    what = None if head[8:9] == b"{" else foreign_format(head)
    return fail(message if what is None else f"this is {what}")


def parse_layout(data, size):
    """Parse and check the outer structure of a file from its first bytes.

    Parameters
    ----------
    data : bytes
        At least the first ``8 + N`` bytes of the file (the whole file is fine).
    size : int
        The file's length in bytes.

    Returns
    -------
    Layout
    """
    if len(data) < 8:
        raise fail(f"the file is {size} bytes long; the 8-byte header length alone needs 8")
    n = _header_length(data, size)
    try:
        table = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise refusal(data, f"the safetensors header is not valid UTF-8 JSON ({error})") \
            from None
    if not isinstance(table, dict):
        raise fail(f"the safetensors header must be a JSON object; got {type(table).__name__}")
    metadata = table.pop("__metadata__", None)
    if not isinstance(metadata, dict) or set(metadata) != {METADATA_KEY, CHECKSUM_KEY} \
            or not all(isinstance(v, str) for v in metadata.values()):
        raise fail(f"the safetensors metadata must hold exactly the strings {METADATA_KEY!r} and "
                   f"{CHECKSUM_KEY!r}; got {sorted(metadata) if isinstance(metadata, dict) else metadata!r}")
    arrays = {name: _array_entry(name, entry) for name, entry in table.items()}
    _check_coverage(arrays, size - 8 - n)
    header = _decode_header(metadata[METADATA_KEY])
    return Layout(header, metadata[METADATA_KEY], metadata[CHECKSUM_KEY], arrays, n, size)


def _array_entry(name, entry):
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise fail(f"array {name!r}: expected an entry with dtype, shape and data_offsets; got "
                   f"{entry!r}")
    dtype = ARRAY_DTYPES.get(entry["dtype"])
    if dtype is None:
        raise fail(f"array {name!r}: dtype {entry['dtype']!r} is not one of "
                   f"{sorted(ARRAY_DTYPES)}")
    shape, offsets = entry["shape"], entry["data_offsets"]
    if not _int_list(shape) or not _int_list(offsets) or len(offsets) != 2:
        raise fail(f"array {name!r}: shape {shape!r} and data_offsets {offsets!r} must be lists "
                   f"of non-negative integers (offsets: two)")
    nbytes = math.prod(shape) * dtype.itemsize
    if offsets[1] - offsets[0] != nbytes:
        raise fail(f"array {name!r}: shape {shape} of {dtype.name} needs {nbytes:,} bytes; its "
                   f"data_offsets {offsets} span {offsets[1] - offsets[0]:,}")
    return dtype, tuple(shape), tuple(offsets)


def _int_list(value):
    return isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)


def _check_coverage(arrays, data_bytes):
    """The arrays must tile the data section exactly: no gap, no overlap, nothing after it."""
    position = 0
    for name, (_, _, (begin, end)) in sorted(arrays.items(), key=lambda item: item[1][2]):
        if begin != position:
            raise fail(f"array {name!r} starts at byte {begin:,} of the data section; expected "
                       f"{position:,} (arrays must be contiguous)")
        position = end
    if position != data_bytes:
        what = "truncated" if position > data_bytes else "has trailing bytes"
        raise fail(f"the data section is {data_bytes:,} bytes but the arrays need {position:,} "
                   f"(the file {what})")


def _decode_header(text):
    try:
        header = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as error:
        raise fail(f"the {METADATA_KEY!r} header is not valid JSON ({error})") from None
    if not isinstance(header, dict):
        raise fail(f"the {METADATA_KEY!r} header must be a JSON object")
    return header


def _refuse_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def verified_arrays(data, layout):
    """The file's arrays, once their checksum and values are checked as :func:`fastbp.load`
    checks them.

    Parameters
    ----------
    data : bytes
        The whole file.
    layout : Layout
        Its :func:`parse_layout`.

    Returns
    -------
    dict of str to ndarray

    Raises
    ------
    ModelFileError
        If safetensors cannot read the arrays, the checksum does not match the header and arrays,
        or an array holds NaN or infinite values.
    """
    from safetensors.numpy import load as from_bytes

    try:
        arrays = from_bytes(data)
    except Exception as error:  # safetensors raises its own error types; all mean a bad file
        raise fail(f"safetensors cannot read the arrays ({error})") from None
    if checksum(layout.header_text, arrays) != layout.checksum:
        raise fail("the checksum does not match the header and arrays (the file was changed "
                   "or damaged after it was written)")
    for name, array in sorted(arrays.items()):
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        if bad:
            raise fail(f"array {name!r} holds {bad} NaN or infinite values; expected finite")
    return arrays


def encode_header(header):
    """The header as stored: compact, strict JSON (no NaN or Infinity literals)."""
    return json.dumps(header, allow_nan=False, separators=(",", ":"), sort_keys=True)


def checksum(header_text, arrays):
    """SHA-256 over the header's text and each array's name, dtype, shape and bytes, by name.

    Parameters
    ----------
    header_text : str
    arrays : dict of str to ndarray

    Returns
    -------
    str
        Hexadecimal digest.
    """
    digest = hashlib.sha256(header_text.encode("utf-8"))
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"\0{name}\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


# ---- the fastbp header -------------------------------------------------------------------------
def field(obj, key, kind, where):
    """``obj[key]`` if present and of ``kind`` (a type or tuple; bool never counts as int)."""
    if not isinstance(obj, dict) or key not in obj:
        raise fail(f"{where}: missing field {key!r}")
    value = obj[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
        names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
        raise fail(f"{where}.{key}: expected {names}; got {value!r}")
    return value


def one_of(obj, key, valid, where):
    """``obj[key]`` if it is one of the strings ``valid``."""
    value = field(obj, key, str, where)
    if value not in valid:
        raise fail(f"{where}.{key}: expected one of {list(valid)}; got {value!r}")
    return value


def count(obj, key, where, minimum=0):
    value = field(obj, key, int, where)
    if value < minimum:
        raise fail(f"{where}.{key}: expected an integer >= {minimum}; got {value}")
    return value


def check_header(header):
    """Check the fields every kind shares; returns the kind.

    Raises
    ------
    ModelFileError
        For a foreign format, a version newer than :data:`FORMAT_VERSION`, an unknown kind, or
        layers that do not chain.
    """
    name = field(header, "format", str, "header")
    if name != FORMAT_NAME:
        raise fail(f"header.format: expected {FORMAT_NAME!r}; got {name!r}")
    version = count(header, "format_version", "header", minimum=1)
    if version > FORMAT_VERSION:
        raise fail(f"format version {version} is newer than the {FORMAT_VERSION} this fastbp "
                   f"reads (the file was written by fastbp {header.get('fastbp_version')!r}); "
                   f"upgrade fastbp to load it")
    field(header, "fastbp_version", str, "header")
    kind = one_of(header, "kind", KINDS, "header")
    one_of(header, "dtype", tuple(DTYPE_CODES), "header")
    one_of(header, "loss", tuple(codes.LOSS_CODES), "header")
    one_of(header, "backend", BACKENDS, "header")
    layers = field(header, "layers", list, "header")
    if not layers:
        raise fail("header.layers: expected at least one layer; got none")
    for i, layer in enumerate(layers):
        where = f"header.layers[{i}]"
        n_in, _ = count(layer, "n_in", where, 1), count(layer, "n_out", where, 1)
        one_of(layer, "activation", tuple(codes.ACTIVATION_CODES), where)
        one_of(layer, "init", INITIALIZERS, where)
        dropout = field(layer, "dropout", (int, float), where)
        if not 0 <= dropout < 1:
            raise fail(f"{where}.dropout: expected a number in [0, 1); got {dropout}")
        if i and n_in != layers[i - 1]["n_out"]:
            raise fail(f"{where}.n_in: expected {layers[i - 1]['n_out']} (the previous layer's "
                       f"n_out); got {n_in}")
    optimizer = field(header, "optimizer", (dict, type(None)), "header")
    if optimizer is not None:
        check_optimizer(optimizer)
    return kind


def check_optimizer(optimizer):
    where = "header.optimizer"
    name = one_of(optimizer, "name", OPTIMIZERS, where)
    count(optimizer, "steps", where)
    for key in ("lr",) + (("momentum",) if name == "sgd" else ("beta_1", "beta_2", "epsilon")):
        value = field(optimizer, key, (int, float), where)
        if not math.isfinite(value):
            raise fail(f"{where}.{key}: expected a finite number; got {value}")
    if name == "sgd":
        field(optimizer, "nesterov", bool, where)


def n_parameters(layers):
    """Parameters of the header's layers, ``sum(n_in * n_out + n_out)``."""
    return sum(layer["n_in"] * layer["n_out"] + layer["n_out"] for layer in layers)


def expected_arrays(header, extra=()):
    """Every array a checked header says its file holds: name -> (dtype, shape).

    Parameters
    ----------
    header : dict
        Passed :func:`check_header`.
    extra : iterable of str
        Optional arrays the kind declares (``best_parameters``).
    """
    dtype = np.dtype(header["dtype"])
    expected = {}
    for i, layer in enumerate(header["layers"]):
        W, b = layer_arrays(i)
        expected[W] = (dtype, (layer["n_in"], layer["n_out"]))
        expected[b] = (dtype, (layer["n_out"],))
    flat = (dtype, (n_parameters(header["layers"]),))
    if header["optimizer"] is not None:
        expected.update(dict.fromkeys(OPTIMIZER_ARRAYS, flat))
    expected.update(dict.fromkeys(extra, flat))
    return expected


def check_arrays(layout, expected):
    """The file's arrays must be exactly ``expected``: same names, dtypes and shapes."""
    missing = sorted(set(expected) - set(layout.arrays))
    unexpected = sorted(set(layout.arrays) - set(expected))
    if missing or unexpected:
        raise fail(f"expected {len(expected)} arrays, found {len(layout.arrays)}"
                   + (f"; missing {missing}" if missing else "")
                   + (f"; unexpected {unexpected}" if unexpected else ""))
    for name, (dtype, shape) in expected.items():
        got_dtype, got_shape, _ = layout.arrays[name]
        if got_dtype != dtype:
            raise fail(f"array {name!r}: expected dtype {dtype.name}; got {got_dtype.name}")
        if got_shape != shape:
            raise fail(f"array {name!r}: expected shape {shape}; got {got_shape}")
