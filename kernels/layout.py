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


def parameter_views(flat, dims):
    """Each layer's ``W`` (``dims[l] x dims[l+1]``) and ``b`` as views of a flat vector.

    Works on NumPy arrays, inside Numba-compiled code, and on numba-cuda device arrays.

    Parameters
    ----------
    flat : array, shape (P,)
        Parameters, or anything in their layout (a gradient, an optimizer moment).
    dims : sequence of int, shape (n_layers + 1,)

    Returns
    -------
    Ws : list of arrays, shapes (dims[l], dims[l+1])
    bs : list of arrays, shapes (dims[l+1],)
    """
    # self-contained (compiled code cannot call a plain Python helper); the first items sit in the
    # list literals because Numba types a list from its first item
    split = dims[0] * dims[1]
    Ws = [flat[0:split].reshape((dims[0], dims[1]))]
    bs = [flat[split:split + dims[1]]]
    start = split + dims[1]
    for i in range(1, len(dims) - 1):
        split = start + dims[i] * dims[i + 1]
        Ws.append(flat[start:split].reshape((dims[i], dims[i + 1])))
        bs.append(flat[split:split + dims[i + 1]])
        start = split + dims[i + 1]
    return Ws, bs
