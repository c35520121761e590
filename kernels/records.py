"""The records a training epoch takes: what crosses from ``fastbp`` into a backend.

Every backend's ``train_epoch(state, network, batches, optimizer, penalty, dropout_seed,
steps_taken)`` takes these, and its ``train_epochs`` the same followed by an :class:`EpochRun`;
each groups what travels together, so no call spells out two dozen names. They are plain named
tuples: Numba compiles them as records, and a new value of a field (another learning rate, another
batch size) adds no new compiled signature. This module imports neither NumPy nor Numba.
"""

from typing import NamedTuple

from .codes import ADAM, SGD


class Network(NamedTuple):
    """The model as an epoch sees it; host (NumPy) arrays on every backend."""
    widths: object       # int64 (n_layers + 1,): layer widths, input first
    activations: object  # int64 (n_layers,): activation codes (kernels/codes.py)
    dropout: object      # float64 (n_layers,): drop rate after each layer; 0 for none, and the
    #                      output layer never drops
    loss: int            # loss code


class TrainingState(NamedTuple):
    """What an epoch changes: each a (P,) vector in the parameters' layout (kernels/layout.py),
    in the backend's memory."""
    parameters: object
    gradient: object   # the last batch's gradient, penalty included
    moment_1: object   # SGD's velocity, Adam's first moment
    moment_2: object   # Adam's second moment; SGD leaves it alone


class Batches(NamedTuple):
    """The training set and the order an epoch visits it in, in the backend's memory."""
    X: object              # (n, widths[0])
    Y: object              # (n, widths[-1])
    sample_weight: object  # (n,): raw non-negative weights; each batch normalises its own
    order: object          # int64 (n_visited,): row indices; consecutive runs of batch_size
    #                        rows are the batches
    batch_size: int


class SGDSettings(NamedTuple):
    """SGD with (Nesterov) momentum in scikit-learn's form (``reference.sgd_update``)."""
    lr: float
    momentum: float
    nesterov: bool

    code = SGD  # the optimizer's code for compiled callers (kernels/codes.py)


class AdamSettings(NamedTuple):
    """Adam in scikit-learn's form (``reference.adam_update``)."""
    lr: float
    beta_1: float
    beta_2: float
    epsilon: float

    code = ADAM


class Penalty(NamedTuple):
    """Penalty strengths on weights (never biases); each batch of ``m`` rows uses ``l2 / m`` and
    ``l1 / m`` (scikit-learn's ``alpha`` scaling)."""
    l2: float
    l1: float


class EpochRun(NamedTuple):
    """Several epochs in one call of a backend's ``train_epochs``: what changes from one epoch to
    the next, and where each finished epoch is written.

    ``train_epochs`` takes the records of ``train_epoch`` with ``batches.order`` of shape
    ``(R, n)``: epoch ``e`` visits the rows ``order[e % R]`` (one row for a fixed order).
    """
    lrs: object         # float64 (K,): each epoch's learning rate (the optimizer record's lr is
    #                     not read)
    rng: object         # numpy.random.Generator or None: when given, each row e of order (R = K)
    #                     is first filled with rng.permutation(n), rows in order, as a loop of
    #                     rng.permutation calls would draw them
    losses: object      # float64 (K,), host memory, written: each epoch's mean loss
    steps: object       # int64 (K + 1,), host memory, written: the optimizer steps before the
    #                     run (once the start state is in the rows 0), then after each epoch
    parameters: object  # (K + 1, P), written: row 0 the parameters the run starts from, row
    #                     e + 1 those after epoch e
    moment_1: object    # (K + 1, P), written likewise: the optimizer's moment_1
    moment_2: object    # (K + 1, len(moment_2)), written likewise: its moment_2
    stop_rule: object = None  # float64 (5,) or None (no rule): a stopping rule on the epochs'
    #                     loss, [patience, min_delta, best, wait, stopped]. After each epoch
    #                     with a finite loss and weights, ``wait`` becomes 0 where the loss is at
    #                     most ``best - min_delta`` and ``wait + 1`` otherwise, and a loss below
    #                     ``best`` becomes ``best`` (both written in place); where ``wait``
    #                     reaches ``patience`` the run ends after that epoch and writes 1 into
    #                     ``stopped`` (which the caller sets to 0)
