"""Where each layer's parameters live in a model's flat parameter vector.

A model keeps all its parameters in one vector ``theta`` (and its gradient in one vector of the same
layout), so an optimizer update is a single elementwise pass and the whole-epoch trainer has one
signature for any depth. Layer ``l`` holds ``W_l`` (``dims[l] x dims[l+1]``, row-major) followed by
``b_l`` (``dims[l+1]``). Written in the subset of Python that Numba compiles, so every backend shares
this one definition.
"""


def parameter_offsets(dims):
    """Start of each layer's ``W`` in ``theta``, and the total length as the last entry.

    Parameters
    ----------
    dims : sequence of int, shape (n_layers + 1,)
        Layer widths, input first.

    Returns
    -------
    list of int, length n_layers + 1
    """
    offsets = [0]
    for i in range(len(dims) - 1):
        offsets.append(offsets[-1] + dims[i] * dims[i + 1] + dims[i + 1])
    return offsets
