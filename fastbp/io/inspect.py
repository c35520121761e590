"""What a model file holds, read from its header (``fastbp inspect FILE``), its arrays verified.

By default the whole file is read and its arrays' checksum and values are verified as
:func:`fastbp.load` verifies them, so a damaged file (one flipped bit) is refused. With
``verify=False`` (``fastbp inspect --header-only``) only the header is read: the file's size is
still checked against the byte ranges the header gives, so a truncated file is reported, but damage
inside the arrays is not seen, and the facts say so.
"""

import os

from ..errors import ModelFileError
from . import format as fmt


def read_header(path):
    """The ``fastbp`` header of the model file at ``path``, checked as :func:`fastbp.load` checks
    it (its arrays are not read).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    dict

    Raises
    ------
    ModelFileError
        For the damage visible without reading the arrays; the message names ``path``.
    """
    try:
        layout = fmt.parse_layout(*fmt.read_prefix(path))
        fmt.check_header(layout.header)
    except ModelFileError as error:
        raise fmt.naming(path, error) from None
    return layout.header


def describe_file(path, verify=True):
    """The facts of a model file's header, checked as :func:`fastbp.load` checks them.

    Parameters
    ----------
    path : str or os.PathLike
    verify : bool, default=True
        Also read the arrays and verify their checksum and values; False reads the header alone.

    Returns
    -------
    list of (str, str or list of str)
        Labelled facts: kind, format and library versions, dtype, loss, backend, layers,
        parameters, optimizer, estimator details, arrays, sizes and whether the checksum was
        verified.

    Raises
    ------
    ModelFileError
        For a file that is not a loadable model: with ``verify``, damage anywhere in it (a
        checksum that does not match); without, the damage visible in its header. The message
        names ``path``.
    """
    try:
        return _describe(path, verify)
    except ModelFileError as error:
        raise fmt.naming(path, error) from None


def _describe(path, verify):
    if verify:
        with open(path, "rb") as f:
            data = f.read()
        size = len(data)
    else:
        data, size = fmt.read_prefix(path)
    layout = fmt.parse_layout(data, size)
    header = layout.header
    kind = fmt.check_header(header)
    if verify:
        fmt.verified_arrays(data, layout)
    layers = header["layers"]
    facts = [
        ("file", f"{os.fspath(path)}"),
        ("kind", kind),
        ("format", f"{header['format']} version {header['format_version']}, written by fastbp "
                   f"{header['fastbp_version']}"),
        ("dtype", header["dtype"]),
        ("loss", header["loss"]),
        ("backend", header["backend"]),
        ("layers", [f"{i}: Dense {la['n_in']} -> {la['n_out']}, {la['activation']}"
                    + (f", dropout {la['dropout']}" if la["dropout"] else "")
                    for i, la in enumerate(layers)]),
        ("parameters", f"{fmt.n_parameters(layers):,}"),
        ("optimizer", _optimizer(header["optimizer"])),
    ]
    estimator = header.get("estimator")
    if isinstance(estimator, dict):
        facts.append(("estimator", _estimator(estimator)))
    data_bytes = size - 8 - layout.header_bytes
    facts.append(("arrays", [f"{name}  {dtype.name} {shape}  {end - begin:,} bytes"
                             for name, (dtype, shape, (begin, end)) in sorted(
                                 layout.arrays.items())]))
    facts.append(("size", f"{size:,} bytes: {layout.header_bytes:,} of header, "
                          f"{data_bytes:,} of arrays"))
    facts.append(("checksum", "verified: the header and arrays are as written" if verify else
                  "not verified (header only): damage inside the arrays is not seen"))
    return facts


def _optimizer(fields):
    if fields is None:
        return "not saved"
    hyper = ", ".join(f"{k} {v}" for k, v in sorted(fields.items()) if k not in ("name", "steps"))
    return f"{fields['name']} after {fields['steps']:,} steps ({hyper})"


def _estimator(part):
    fitted = part.get("fitted") if isinstance(part.get("fitted"), dict) else {}
    lines = []
    classes = fitted.get("classes_")
    if isinstance(classes, dict) and isinstance(classes.get("array"), dict):
        values = classes["array"].get("values", [])
        shown = ", ".join(str(v) for v in values[:10]) + (", ..." if len(values) > 10 else "")
        lines.append(f"classes_ ({classes['array'].get('dtype')}): {shown}")
    for name in ("n_iter_", "t_", "loss_"):
        if name in fitted:
            lines.append(f"{name} {fitted[name]}")
    params = part.get("params") if isinstance(part.get("params"), dict) else {}
    for name in ("solver", "activation", "hidden_layer_sizes"):
        if name in params:
            lines.append(f"{name} {_plain(params[name])}")
    return lines or ["(no fitted attributes)"]


def _plain(value):
    """A header value as text, without the type tags of :mod:`.values`."""
    if isinstance(value, dict) and len(value) == 1:
        return _plain(next(iter(value.values())))
    if isinstance(value, list):
        return "(" + ", ".join(_plain(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return str(value)


def format_description(facts):
    """``describe_file``'s facts as aligned lines of text."""
    width = max(len(label) for label, _ in facts) + 2
    lines = []
    for label, value in facts:
        values = value if isinstance(value, list) else [value]
        for i, text in enumerate(values):
            lines.append(f"{label if i == 0 else '':<{width}}{text}")
    return "\n".join(lines)
