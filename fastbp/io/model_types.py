"""The check every public function that takes a model makes first: that it got one.

Without it, an object of another type fails further on with a message about something else (a
scikit-learn ``LinearRegression`` given to :func:`fastbp.to_onnx` was called "not fitted yet").
"""

import os
import sys

ACCEPTED = "a fastbp Sequential, MLPClassifier or MLPRegressor"


def check_model(obj, function, path=None):
    """Raise a TypeError naming ``obj``'s type unless it is a fastbp network or estimator.

    Parameters
    ----------
    obj : object
    function : str
        The public function's name (``"save"``, ``"to_onnx"``), for the message.
    path : str or os.PathLike, optional
        The path ``save`` was given: a model given there instead says the arguments were swapped.

    Raises
    ------
    TypeError
        ``"<function> takes a fastbp Sequential, MLPClassifier or MLPRegressor; got <type>"``,
        with a hint where the mistake is a common one.
    """
    from ..model import Sequential

    if isinstance(obj, Sequential):
        return
    from ..estimators import MLPClassifier, MLPRegressor  # scikit-learn: imported only here

    if isinstance(obj, (MLPClassifier, MLPRegressor)):
        return
    if function == "save" and isinstance(path, (Sequential, MLPClassifier, MLPRegressor)):
        raise TypeError(f"save takes the model first and the path second: "
                        f"fastbp.save(model, path); got {type_name(obj)} then "
                        f"{type_name(path)}")
    raise TypeError(f"{function} takes {ACCEPTED}; got {type_name(obj)}{_hint(obj, function)}")


def type_name(obj):
    """``obj``'s type by its public dotted name: ``sklearn.linear_model.LinearRegression`` (the
    class lives in ``sklearn.linear_model._base``), ``fastbp.MLPRegressor`` (in
    ``fastbp.estimators.regressor``), ``numpy.ndarray``, ``str``."""
    cls = type(obj)
    public = []
    for part in cls.__module__.split("."):
        if part.startswith("_") and not part.startswith("__"):
            break  # a private module: the package above it exports the class
        public.append(part)
    for end in range(1, len(public)):  # the shortest package, already imported, that exports it
        package = sys.modules.get(".".join(public[:end]))
        if package is not None and _exports(package, cls):
            public = public[:end]
            break
    module = ".".join(public)
    return cls.__qualname__ if module in ("", "builtins") else f"{module}.{cls.__qualname__}"


def _exports(package, cls):
    """Whether ``package`` has ``cls`` as a name of its own, or lists it in ``__all__`` (a lazy
    export, which ``getattr`` then resolves: ``cls``'s module is imported already)."""
    name = cls.__qualname__
    if vars(package).get(name) is cls:
        return True
    try:
        return name in getattr(package, "__all__", ()) and getattr(package, name) is cls
    except Exception:  # noqa: BLE001  a package's lazy import failing: no shorter name, that's all
        return False


def _hint(obj, function):
    """What to do instead, for the mistakes worth a hint."""
    if isinstance(obj, (str, bytes, os.PathLike)):
        if function == "to_onnx":
            return (f" ({os.fsdecode(obj)!r} looks like a path: load the model first, "
                    f"fastbp.to_onnx(fastbp.load(path)))")
        return f" ({os.fsdecode(obj)!r} looks like a path: fastbp.{function} takes the model first)"
    if function == "to_onnx" and type(obj).__module__.split(".")[0] == "sklearn":
        return " (scikit-learn's own estimators export with skl2onnx.to_onnx)"
    return ""
