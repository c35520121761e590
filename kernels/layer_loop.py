"""The pass through a network's layers, driven from the host over any backend's kernels.

Forward (each layer, then its dropout) and backward (the loss gradient, then each layer down,
with its penalty and the dropout below it) are written here once, for the NumPy reference epoch,
the CUDA epoch and ``fastbp.Sequential``. The compiled CPU epoch (kernels/cpu/epoch.py) runs the
same loop in compiled code; tests/test_layer_loop.py pins the two together.

``kernels`` is a backend module (:mod:`~fastbp.kernels.reference`, ``cpu`` or ``cuda``): this
module only calls its functions, so it imports neither NumPy nor Numba.
"""

from .codes import IDENTITY, LOGIT_LOSSES, NEEDS_PREACTIVATION


class LayerBuffers:
    """Every layer's activations and gradients for ``rows`` rows, in the backend's memory.

    ``outs[i]``, ``pres[i]`` and ``grads[i]`` are ``(rows, widths[i + 1])``; ``pres[i]`` is
    ``outs[i]`` itself unless something reads the pre-activation later (see
    :mod:`fastbp.kernels`). ``masks[i]`` and ``droppeds[i]`` exist where layer ``i`` drops units
    and ``training`` is true, else they are None.

    Parameters
    ----------
    kernels : module
        The backend (its ``empty`` allocates).
    network : fastbp.kernels.records.Network
    rows : int
    dtype : numpy dtype
    training : bool, default=False
        Whether to make dropout's buffers.
    """

    def __init__(self, kernels, network, rows, dtype, training=False):
        last = len(network.activations) - 1
        self.rows = rows
        self.outs, self.pres, self.grads, self.masks, self.droppeds = [], [], [], [], []
        for i, width in enumerate(network.widths[1:]):
            shape = (rows, int(width))
            out = kernels.empty(shape, dtype)
            keep_pre = (int(network.activations[i]) in NEEDS_PREACTIVATION
                        or (i == last and network.loss in LOGIT_LOSSES))
            drops = training and float(network.dropout[i]) > 0
            self.outs.append(out)
            self.pres.append(kernels.empty(shape, dtype) if keep_pre else out)
            self.grads.append(kernels.empty(shape, dtype))
            self.masks.append(kernels.empty(shape, dtype) if drops else None)
            self.droppeds.append(kernels.empty(shape, dtype) if drops else None)


def forward(kernels, network, buffers, x, params, dropout_key=None):
    """Every layer on ``x``; dropout after a layer where ``buffers`` has its mask.

    Parameters
    ----------
    kernels : module
    network : fastbp.kernels.records.Network
    buffers : LayerBuffers
    x : array, shape (rows, widths[0])
    params : sequence of (W, b)
        ``W`` of shape (widths[i], widths[i + 1]), ``b`` of shape (widths[i + 1],).
    dropout_key : (int, int), optional
        ``(seed, step)`` of the dropout masks; needed where ``buffers`` has masks.

    Returns
    -------
    list of arrays
        ``inputs[i]`` is what layer ``i`` read (``inputs[0]`` is ``x``); ``inputs[-1]`` is the
        network's output, after the last layer's dropout if it had one.
    """
    inputs = [x]
    for i, (W, b) in enumerate(params):
        out = buffers.outs[i]
        kernels.dense_forward(out, buffers.pres[i], inputs[i], W, b, int(network.activations[i]))
        if buffers.masks[i] is not None:
            kernels.dropout_forward(buffers.droppeds[i], buffers.masks[i], out,
                                    float(network.dropout[i]), dropout_key[0], dropout_key[1], i)
            out = buffers.droppeds[i]
        inputs.append(out)
    return inputs


def backward(kernels, network, buffers, inputs, params, gradients, targets, penalty=None):
    """Backpropagate from the loss to every parameter, after :func:`forward` on ``buffers``.

    Parameters
    ----------
    kernels, network, buffers : as :func:`forward`
    inputs : list of arrays
        What :func:`forward` returned.
    params : sequence of (W, b)
    gradients : sequence of (dW, db)
        Overwritten with the loss's gradient (plus the penalty's on ``dW``), same shapes as
        ``params``.
    targets : (Y, weight)
        ``Y`` of shape (rows, widths[-1]) and per-row ``weight`` of shape (rows,), as
        ``loss_backward`` takes them.
    penalty : (l2, l1), optional
        Penalty strengths for this batch, already divided by its size.
    """
    last = len(params) - 1
    Y, weight = targets
    kernels.loss_backward(buffers.grads[last], buffers.pres[last], buffers.outs[last], Y, weight,
                          network.loss)
    for i in range(last, -1, -1):
        # a logits-form loss hands back dL/dz of the output layer: its derivative is the identity
        logits = i == last and network.loss in LOGIT_LOSSES
        activation = IDENTITY if logits else int(network.activations[i])
        dx = buffers.grads[i - 1] if i > 0 else None
        dW, db = gradients[i]
        kernels.dense_backward(dx, dW, db, buffers.grads[i], inputs[i], params[i][0],
                               buffers.outs[i], buffers.pres[i], activation)
        if penalty is not None:
            kernels.penalty_backward(dW, params[i][0], penalty[0], penalty[1])
        if i > 0 and buffers.masks[i - 1] is not None:
            kernels.dropout_backward(dx, buffers.masks[i - 1])
