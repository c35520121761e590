"""Estimator parameters and fitted attributes as strict JSON, and back, from a fixed set of types.

JSON has no tuples, non-finite floats, non-string keys, NumPy arrays or random states, all of
which scikit-learn parameters use. Each is written as a one-key object whose key names the type
(``{"tuple": [...]}``, ``{"float": "inf"}``, ``{"array": {...}}``, ...); decoding looks the key up
in a fixed table, and anything else is refused. No type name read from a file is imported.
"""

import math
import numbers

import numpy as np

from .format import fail

#: Element dtypes of arrays held in the header (``classes_``, ``feature_names_in_``).
ARRAY_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                "float32", "float64", "str", "object")
#: NumPy scalar types a parameter may name (the estimators' ``dtype``).
SCALAR_TYPES = {"float32": np.float32, "float64": np.float64}
#: A random state's Mersenne Twister key length.
MT_KEY_LENGTH = 624


def encode(value):
    """``value`` as strict JSON, or TypeError for a type the format does not hold."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, tuple):
        return {"tuple": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"dict": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, np.ndarray):
        return {"array": _encode_array(value)}
    if isinstance(value, type) and value in SCALAR_TYPES.values():
        return {"scalar_type": np.dtype(value).name}
    if isinstance(value, np.random.RandomState):
        return {"random_state": _encode_random_state(value)}
    raise TypeError(f"cannot store a value of type {type(value).__name__} in a model file: "
                    f"{value!r}")


def _encode_array(array):
    if array.ndim != 1:
        raise TypeError(f"only 1-d arrays are stored in the header; got shape {array.shape}")
    if array.dtype.kind == "U":
        dtype = "str"
    elif array.dtype == object:
        if not all(isinstance(v, str) for v in array):
            raise TypeError("an object array is stored only if it holds strings")
        dtype = "object"
    else:
        dtype = array.dtype.name
        if dtype not in ARRAY_DTYPES:
            raise TypeError(f"arrays of dtype {dtype} are not stored")
    return {"dtype": dtype, "values": [encode(v) for v in array.tolist()]}


def _encode_random_state(state):
    name, keys, pos, has_gauss, cached = state.get_state(legacy=True)
    return {"keys": keys.tolist(), "pos": int(pos), "has_gauss": int(has_gauss),
            "cached_gaussian": encode(float(cached))}


def decode(value, where):
    """The inverse of :func:`encode`; :class:`ModelFileError` for anything it did not write."""
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, list):
        return [decode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, dict) or len(value) != 1:
        raise fail(f"{where}: expected a value or a one-key typed object; got {value!r}")
    (tag, content), = value.items()
    decoder = _DECODERS.get(tag)
    if decoder is None:
        raise fail(f"{where}: unknown value type {tag!r}; expected one of {sorted(_DECODERS)}")
    return decoder(content, where)


def _decode_float(content, where):
    if content not in ("inf", "-inf", "nan"):
        raise fail(f"{where}: expected 'inf', '-inf' or 'nan'; got {content!r}")
    return float(content)


def _decode_tuple(content, where):
    if not isinstance(content, list):
        raise fail(f"{where}: a tuple must hold a list; got {content!r}")
    return tuple(decode(v, f"{where}[{i}]") for i, v in enumerate(content))


def _decode_dict(content, where):
    if not isinstance(content, list) or not all(isinstance(p, list) and len(p) == 2
                                                for p in content):
        raise fail(f"{where}: a dict must hold a list of [key, value] pairs; got {content!r}")
    result = {}
    for i, (key, item) in enumerate(content):
        key = decode(key, f"{where} key {i}")
        if not isinstance(key, (str, int, float, bool, tuple)) and key is not None:
            raise fail(f"{where} key {i}: {key!r} cannot be a dict key")
        result[key] = decode(item, f"{where}[{key!r}]")
    return result


def _decode_array(content, where):
    if not isinstance(content, dict) or set(content) != {"dtype", "values"} \
            or not isinstance(content["values"], list):
        raise fail(f"{where}: an array must hold a dtype and a list of values; got {content!r}")
    dtype, values = content["dtype"], [decode(v, where) for v in content["values"]]
    if dtype not in ARRAY_DTYPES:
        raise fail(f"{where}: array dtype {dtype!r} is not one of {list(ARRAY_DTYPES)}")
    if dtype in ("str", "object"):
        if not all(isinstance(v, str) for v in values):
            raise fail(f"{where}: a {dtype} array must hold strings; got {values!r}")
        return np.array(values, dtype=object if dtype == "object" else str)
    python = {"b": bool, "i": int, "u": int, "f": (int, float)}[np.dtype(dtype).kind]
    if not all(isinstance(v, python) and (python is bool or not isinstance(v, bool))
               for v in values):
        raise fail(f"{where}: a {dtype} array holds a value of another type: {values!r}")
    try:
        return np.array(values, dtype=dtype)
    except OverflowError as error:
        raise fail(f"{where}: a value does not fit {dtype} ({error})") from None


def _decode_scalar_type(content, where):
    if content not in SCALAR_TYPES:
        raise fail(f"{where}: scalar type {content!r} is not one of {sorted(SCALAR_TYPES)}")
    return SCALAR_TYPES[content]


def _decode_random_state(content, where):
    if not isinstance(content, dict) or set(content) != {"keys", "pos", "has_gauss",
                                                         "cached_gaussian"}:
        raise fail(f"{where}: a random state needs keys, pos, has_gauss and cached_gaussian")
    keys = content["keys"]
    if not isinstance(keys, list) or len(keys) != MT_KEY_LENGTH or not all(
            isinstance(k, int) and not isinstance(k, bool) and 0 <= k < 2**32 for k in keys):
        raise fail(f"{where}.keys: expected {MT_KEY_LENGTH} integers in [0, 2**32)")
    pos, has_gauss = content["pos"], content["has_gauss"]
    cached = decode(content["cached_gaussian"], where)
    if not (isinstance(pos, int) and 0 <= pos <= MT_KEY_LENGTH and has_gauss in (0, 1)
            and isinstance(cached, float)):
        raise fail(f"{where}: pos, has_gauss or cached_gaussian out of range: {content!r}"[:300])
    state = np.random.RandomState()
    state.set_state(("MT19937", np.array(keys, np.uint32), pos, has_gauss, cached))
    return state


_DECODERS = {"float": _decode_float, "tuple": _decode_tuple, "dict": _decode_dict,
             "array": _decode_array, "scalar_type": _decode_scalar_type,
             "random_state": _decode_random_state}
