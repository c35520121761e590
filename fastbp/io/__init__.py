"""Saving, loading and exporting networks and estimators.

:func:`save`/:func:`load` use fastbp's own file (safetensors arrays and one JSON header, see
:mod:`.format`); :func:`to_onnx` exports to ONNX (``pip install 'fastbp[onnx]'``);
:mod:`.skops_support` lists the types to trust with ``skops.io.load``. None of these import
anything heavy until called.
"""

from .native import load, save

__all__ = ["load", "register_skl2onnx", "save", "to_onnx"]


def to_onnx(obj, **options):
    """Export a network or a fitted estimator to ONNX; see :func:`fastbp.io.onnx_export.to_onnx`.

    Parameters
    ----------
    obj : Sequential, MLPClassifier or MLPRegressor
        Any other object raises a TypeError naming its type.
    **options
        ``opset``, ``dtype``, ``name``: as :func:`fastbp.io.onnx_export.to_onnx` takes them.

    Returns
    -------
    onnx.ModelProto
    """
    from .onnx_export import to_onnx as export

    return export(obj, **options)


def register_skl2onnx():
    """Register fastbp's estimators with skl2onnx; see
    :func:`fastbp.io.skl2onnx_registration.register_skl2onnx`."""
    from .skl2onnx_registration import register_skl2onnx as register

    register()
