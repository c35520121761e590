"""Saving, loading and exporting networks and estimators.

:func:`save`/:func:`load` use fastbp's own file (safetensors arrays and one JSON header, see
:mod:`.format`); :func:`to_onnx` exports to ONNX (``pip install 'fastbp[onnx]'``);
:mod:`.skops_support` lists the types to trust with ``skops.io.load``. None of these import
anything heavy until called.
"""

from .native import load, save

__all__ = ["load", "save", "to_onnx"]


def to_onnx(obj, **options):
    """Export to ONNX; see :func:`fastbp.io.onnx_export.to_onnx`."""
    from .onnx_export import to_onnx as export

    return export(obj, **options)
