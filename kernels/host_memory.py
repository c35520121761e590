"""Memory functions of the host backends (reference and cpu): their arrays are NumPy arrays.

The cuda backend defines the same four functions for device memory, so callers move data without
knowing where a backend computes.
"""

import numpy as np


def empty(shape, dtype):
    """An uninitialised array where this backend computes."""
    return np.empty(shape, dtype)


def to_device(array):
    """The array where this backend computes: host memory, unchanged."""
    return array


def to_host(array):
    """A NumPy array of ``array``: itself, for a host backend."""
    return array


def copy_to_device(device_array, host_array):
    """Overwrite ``device_array`` with the values of the NumPy array ``host_array``."""
    if device_array is not host_array:
        device_array[...] = host_array
