"""``save`` and ``load``: fastbp's own model file (safetensors arrays and one JSON header).

Saving writes the whole file to a temporary file in the target's folder and renames it into place,
so an interrupted save leaves either the old file or the new one, never a mixture. Loading reads
the file, checks its layout, header, array names, dtypes, shapes, checksum and finiteness, and only
then builds the object; whatever is wrong raises :class:`fastbp.errors.ModelFileError` and returns
nothing.
"""

import os
import tempfile

import numpy as np

from .. import __version__
from ..errors import ModelFileError
from ..layers import Dense
from ..model import Sequential
from . import format as fmt
from . import state
from .model_types import check_model


def save(obj, path, *, include_optimizer=False, optimizer=None):
    """Write a network or a fitted estimator to ``path`` in fastbp's model file format.

    Parameters
    ----------
    obj : Sequential, MLPClassifier or MLPRegressor
        An estimator must be fitted.
    path : str or os.PathLike
        Overwritten atomically if it exists.
    include_optimizer : bool, default=False
        Also store the optimizer's state (moments, step count) and, for an estimator, its
        learning-rate schedule, so that training resumed after :func:`load` is bitwise the same as
        training that never stopped. An estimator stores the optimizer its ``partial_fit``
        continues with, if it has one (``solver='lbfgs'`` has none).
    optimizer : SGD or Adam, optional
        For a :class:`~fastbp.Sequential`: the optimizer passed to its ``fit`` (a network does not
        keep one). Giving it implies ``include_optimizer=True``.

    Raises
    ------
    TypeError
        For an object of another type (the message names it), or a value the format cannot hold.
    ValueError
        For an unfitted estimator, or an optimizer whose state does not fit the network.
    FileNotFoundError
        If ``path``'s folder does not exist (the message names the folder).
    """
    check_model(obj, "save", path)
    header, arrays = describe(obj, include_optimizer, optimizer)
    text = fmt.encode_header(header)
    metadata = {fmt.METADATA_KEY: text, fmt.CHECKSUM_KEY: fmt.checksum(text, arrays)}
    from safetensors.numpy import save as to_bytes

    write_atomic(path, to_bytes({name: np.ascontiguousarray(a) for name, a in arrays.items()},
                                metadata=metadata))


def load(path, *, backend=None, return_optimizer=False):
    """Read a model file written by :func:`save`.

    Nothing in the file is executed or imported: it holds numbers, strings and names looked up in
    fixed tables.

    Parameters
    ----------
    path : str or os.PathLike
        The file; error messages name it as given.
    backend : {"cpu", "numpy", "cuda"} or None
        Run the loaded network on this backend instead of the one it was saved with.
    return_optimizer : bool, default=False
        For a saved :class:`~fastbp.Sequential`: return ``(model, optimizer)``, the optimizer
        restored from the file (None if it was saved without one), to pass to ``fit``.

    Returns
    -------
    Sequential, MLPClassifier or MLPRegressor
        Or ``(Sequential, Optimizer or None)`` with ``return_optimizer``.

    Raises
    ------
    ModelFileError
        A :class:`ValueError` naming ``path`` and what is wrong: a file of another format (a
        pickle or joblib file, a skops archive, an ONNX model), a truncated file, a corrupt or
        oversized header, an unknown kind, a newer format version, arrays of the wrong name, count,
        shape or dtype, a checksum mismatch or non-finite values.
    """
    with open(path, "rb") as f:
        data = f.read()
    try:
        return _load(data, backend, return_optimizer)
    except ModelFileError as error:
        raise fmt.naming(path, error) from None


def _load(data, backend, return_optimizer):
    """:func:`load` of the file's bytes ``data``."""
    layout = fmt.parse_layout(data, len(data))
    kind = fmt.check_header(layout.header)
    if return_optimizer and kind != "sequential":
        raise TypeError(f"return_optimizer applies to a saved Sequential; this file holds an "
                        f"{kind} (its optimizer goes back into the estimator)")
    if kind == "sequential":
        fmt.count(layout.header, "samples_seen", "header")
        plan = None
        fmt.check_arrays(layout, fmt.expected_arrays(layout.header))
    else:
        from . import estimator_file

        plan = estimator_file.check(layout.header, kind)
        fmt.check_arrays(layout, fmt.expected_arrays(layout.header, plan.extra_arrays))
    arrays = fmt.verified_arrays(data, layout)
    if kind == "sequential":
        model, optimizer = _build_network(layout.header, arrays, backend)
        model.samples_seen = layout.header["samples_seen"]
        return (model, optimizer) if return_optimizer else model
    return plan.build(arrays, backend)


# ---- networks -----------------------------------------------------------------------------------
def network_header(model):
    """The header fields describing a network (its layers, loss, dtype, backend)."""
    return {"dtype": model.dtype.name, "loss": model.loss_name, "backend": model.backend,
            "layers": [{"n_in": layer.n_in, "n_out": layer.n_out,
                        "activation": layer.activation, "init": layer.init,
                        "dropout": layer.dropout} for layer in model.layers]}


def network_arrays(model):
    """``{"layers.i.W": W, "layers.i.b": b}`` of a network, read through its layers."""
    arrays = {}
    for i, layer in enumerate(model.layers):
        W, b = fmt.layer_arrays(i)
        arrays[W], arrays[b] = layer.W, layer.b
    return arrays


def _build_network(header, arrays, backend):
    """A Sequential (and its optimizer, or None) from a checked header and checked arrays."""
    try:
        layers = []
        for i, spec in enumerate(header["layers"]):
            layer = Dense(spec["n_in"], spec["n_out"], spec["activation"], init=spec["init"],
                          dropout=spec["dropout"])
            W, b = fmt.layer_arrays(i)
            layer.W, layer.b = arrays[W], arrays[b]
            layers.append(layer)
        model = Sequential(layers, loss=header["loss"], dtype=header["dtype"],
                           backend=backend or header["backend"], seed=0)
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"the saved network cannot be rebuilt: {error}") from None
    optimizer = None
    if header["optimizer"] is not None:
        optimizer = state.build_optimizer(header["optimizer"],
                                          *(arrays[name] for name in fmt.OPTIMIZER_ARRAYS))
    return model, optimizer


def _common_header(kind, model, optimizer):
    header = {"format": fmt.FORMAT_NAME, "format_version": fmt.FORMAT_VERSION,
              "fastbp_version": __version__, "kind": kind, **network_header(model),
              "optimizer": None if optimizer is None else state.optimizer_header(optimizer)}
    arrays = network_arrays(model)
    if optimizer is not None:
        vectors = state.optimizer_arrays(optimizer, model.n_params, model.dtype)
        arrays.update(zip(fmt.OPTIMIZER_ARRAYS, vectors))
    return header, arrays


def describe(obj, include_optimizer, optimizer):
    """The header and arrays that represent ``obj``."""
    if isinstance(obj, Sequential):
        if include_optimizer and optimizer is None:
            raise ValueError("a Sequential does not keep its optimizer: pass the one given to fit "
                             "as optimizer=")
        header, arrays = _common_header("sequential", obj, optimizer)
        header["samples_seen"] = int(obj.samples_seen)
        return header, arrays
    if optimizer is not None:
        raise TypeError("optimizer= is for a Sequential; an estimator's own optimizer is saved "
                        "with include_optimizer=True")
    from . import estimator_file

    kind = estimator_file.kind_of(obj)
    network = estimator_file.network(obj)
    optimizer = state.estimator_optimizer(obj) if include_optimizer else None
    header, arrays = _common_header(kind, network, optimizer)
    return estimator_file.describe(obj, header, arrays)


def write_atomic(path, data):
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, rename it over
    ``path``: readers see the old file or the complete new one."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                                         dir=folder)
    except OSError as error:
        # the temporary file is this function's business: the message names the user's folder
        raise _folder_error(error, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates the file private (0600); give it the permissions open() would have
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _folder_error(error, path):
    """``error`` (an OSError creating a file beside ``path``) as the same kind of error naming
    ``path``'s folder as the user gave it (``.`` for none)."""
    folder = os.path.dirname(path) or os.curdir
    if not os.path.isdir(folder):
        reason = f"its folder {folder!r} does not exist"
    else:
        reason = f"cannot create a file in its folder {folder!r}: {error.strerror}"
    return type(error)(error.errno, f"cannot save to {path!r}: {reason}")
