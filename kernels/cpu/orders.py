"""Each epoch's visiting order drawn in compiled code, as ``rng.permutation(n)`` draws it.

A run of epochs (:func:`fastbp.kernels.cpu.epoch.train_epochs`) draws its orders inside its one
GIL-free call: a ``rng.permutation`` per epoch from Python would take the GIL back once per epoch.
The draw uses the generator's own bit generator through NumPy's documented C interface
(``BitGenerator.ctypes``: the state's address and its ``next_uint32``/``next_uint64`` functions),
so it advances the generator exactly as ``permutation`` does and any bit generator works. The
shuffle is NumPy's: Fisher-Yates from the last element down, each index drawn by
``random_interval`` (masked rejection sampling on 32-bit draws below 2**32).
:func:`bit_generator` gives the addresses; ``tests/test_epoch_chunks.py`` checks the orders
bitwise against ``rng.permutation`` for several bit generators.

Numba's own ``Generator.shuffle`` gives the same orders but costs seconds of cold JIT time (it is
written for arrays of any rank); this loop costs a fraction of a second. The calls through the
bit generator's addresses are Numba internals (:mod:`.numba_internals`): on the public-API path
(:mod:`.numba_path`) :func:`orders_for` draws the orders in Python instead, with the same
``rng.permutation``, before the call.
"""

import ctypes

import numpy as np
from numba import njit

from ..disk_cache import check_once
from .numba_path import FAST

if FAST:
    from .numba_internals import call_uint32_at as _next_uint32, call_uint64_at as _next_uint64

check_once()  # before anything here can be loaded from Numba's disk cache (kernels/disk_cache.py)

#: ``bit_generator(None)``: no generator, the orders are given.
NO_GENERATOR = (0, 0, 0)


def orders_for(rng, orders):
    """What the compiled run draws its orders with: :func:`bit_generator` of ``rng``; on the
    public-API path, where compiled code cannot call the bit generator, ``orders`` (int64, (K, n))
    is filled here with ``rng.permutation(n)`` per row, as the compiled draw would fill it, and
    :data:`NO_GENERATOR` is returned.

    Parameters
    ----------
    rng : numpy.random.Generator or None
    orders : ndarray of int64, shape (K, n)

    Returns
    -------
    tuple of three int
    """
    if FAST or rng is None:
        return bit_generator(rng)
    for row in orders:
        row[:] = rng.permutation(row.shape[0])
    return NO_GENERATOR


def bit_generator(rng):
    """``(state address, next_uint32 address, next_uint64 address)`` of ``rng``'s bit generator,
    or :data:`NO_GENERATOR` for None.

    The caller keeps ``rng`` alive, and holds ``rng.bit_generator.lock``, while compiled code
    draws with these.

    Parameters
    ----------
    rng : numpy.random.Generator or None

    Returns
    -------
    tuple of three int
    """
    if rng is None:
        return NO_GENERATOR
    interface = rng.bit_generator.ctypes
    return (int(interface.state_address),
            ctypes.cast(interface.next_uint32, ctypes.c_void_p).value,
            ctypes.cast(interface.next_uint64, ctypes.c_void_p).value)


@njit(cache=True, nogil=True, inline="always")
def _random_interval(generator, most):
    """A draw in ``[0, most]``, as NumPy's ``random_interval``: the smallest all-ones mask over
    ``most``, redrawn until it falls in range."""
    limit = np.uint64(most)  # compared as uint64: uint64 against int64 would compare as floats
    mask = limit
    for shift in (1, 2, 4, 8, 16, 32):
        mask |= mask >> np.uint64(shift)
    if limit <= np.uint64(0xFFFFFFFF):
        value = np.uint64(_next_uint32(generator[1], generator[0])) & mask
        while value > limit:
            value = np.uint64(_next_uint32(generator[1], generator[0])) & mask
    else:
        value = _next_uint64(generator[2], generator[0]) & mask
        while value > limit:
            value = _next_uint64(generator[2], generator[0]) & mask
    return np.int64(value)


@njit(cache=True, nogil=True, inline="always")
def draw_order(order, generator):
    """Fill ``order`` (int64, (n,)) with ``rng.permutation(n)`` of the generator whose
    :func:`bit_generator` addresses are ``generator``."""
    n = order.shape[0]
    for i in range(n):
        order[i] = i
    for i in range(n - 1, 0, -1):
        j = _random_interval(generator, i)
        held = order[j]
        order[j] = order[i]
        order[i] = held


if not FAST:
    @njit(cache=True, nogil=True, inline="always")
    def draw_order(order, generator):  # noqa: F811
        """Never called on the public-API path (:func:`orders_for` draws the orders in Python and
        gives no generator); replaces the draw through addresses before anything compiles it."""
