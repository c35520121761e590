"""``train_epochs``, several epochs in one call, written once over a backend's ``train_epoch``.

A fit that calls its backend once per epoch takes Python's GIL back once per epoch, and beside a
busy Python thread each time costs it up to the interpreter's switch interval. ``train_epochs``
runs a run of K epochs in one call and writes the start state and each finished epoch's loss,
step count and state (parameters and moments) into the caller's rows, so that the caller can go
back to any of them (early stopping, a learning rate that depends on the epoch's figures) without
running the epochs again; a stopping rule on the training loss ends the run where it stops the
fit. The CPU backend runs the whole run in one compiled, GIL-free call
(:mod:`fastbp.kernels.cpu.epoch`); the NumPy reference and the CUDA backend run it here, one
``train_epoch`` per epoch, which trains exactly as those calls would.

:func:`check_run` refuses a run whose rows do not fit the state, for every backend: the CPU
backend's compiled code writes them without bounds checks.
"""

import math

import numpy as np


def check_run(state, batches, run):
    """Refuse an :class:`~fastbp.kernels.records.EpochRun` whose arrays do not fit ``state`` and
    ``batches``.

    Parameters
    ----------
    state : fastbp.kernels.records.TrainingState
    batches : fastbp.kernels.records.Batches
        ``order`` of shape (R, n): R = K rows where ``run.rng`` draws them, else at least one.
    run : fastbp.kernels.records.EpochRun

    Raises
    ------
    ValueError
        For a shape, dtype or memory layout other than the run needs, naming what was expected
        and what came.
    """
    n_epochs = len(run.lrs)
    if n_epochs < 1 or np.ndim(run.lrs) != 1:
        raise ValueError(f"run.lrs must be a vector of at least one learning rate; got shape "
                         f"{np.shape(run.lrs)}")
    order = batches.order
    shape = tuple(order.shape)
    rows = n_epochs if run.rng is not None else shape[0] if len(shape) == 2 else 0
    _expect("batches.order", order, (rows, shape[len(shape) - 1]), np.int64,
            "(K, n) when run.rng draws the orders, else (R, n) with R >= 1")
    if shape[0] < 1 or shape[1] < 1:
        raise ValueError(f"batches.order must hold at least one order of at least one row; got "
                         f"shape {tuple(order.shape)}")
    _expect("run.losses", run.losses, (n_epochs,), np.float64)
    if run.stop_rule is not None:
        _expect("run.stop_rule", run.stop_rule, (5,), np.float64)
    _expect("run.steps", run.steps, (n_epochs + 1,), np.int64)
    for name in ("parameters", "moment_1", "moment_2"):
        vector = getattr(state, name)
        _expect(f"run.{name}", getattr(run, name), (n_epochs + 1, vector.shape[0]),
                vector.dtype)


def _expect(name, array, shape, dtype, shape_text=None):
    if (tuple(array.shape) != tuple(shape) or np.dtype(array.dtype) != np.dtype(dtype)
            or not _c_contiguous(array)):
        raise ValueError(f"{name} must be a C-contiguous {np.dtype(dtype).name} array of shape "
                         f"{shape_text or shape}; got a {np.dtype(array.dtype).name} array of "
                         f"shape {tuple(array.shape)}"
                         f"{'' if _c_contiguous(array) else ', not C-contiguous'}")


def _c_contiguous(array):
    flags = array.flags
    return bool(flags["C_CONTIGUOUS"])


def train_epochs(backend, arguments, run):
    """``backend.train_epochs``: the epochs of ``run`` as one ``backend.train_epoch`` call each.

    Parameters
    ----------
    backend : module
        The backend's face: its ``train_epoch``, ``copy_to_device`` (which also copies one of its
        own arrays into another) and ``to_host``.
    arguments : tuple
        ``train_epochs``'s first seven arguments, those of ``train_epoch`` with ``batches.order``
        of shape (R, n).
    run : fastbp.kernels.records.EpochRun

    Returns
    -------
    epochs_done : int
    steps_taken : int
    """
    state, network, batches, optimizer, penalty, dropout_seed, steps_taken = arguments
    check_run(state, batches, run)
    orders = batches.order
    if run.rng is not None:  # every order first, as the CPU backend draws them
        for row in range(orders.shape[0]):
            backend.copy_to_device(orders[row], run.rng.permutation(orders.shape[1]))
    rows = (run.parameters, run.moment_1, run.moment_2)
    vectors = (state.parameters, state.moment_1, state.moment_2)
    for saved, vector in zip(rows, vectors):
        backend.copy_to_device(saved[0], vector)
    run.steps[0] = steps_taken  # last: the rows 0 are whole
    for e in range(len(run.lrs)):
        loss, steps = backend.train_epoch(
            state, network, batches._replace(order=orders[e % orders.shape[0]]),
            optimizer._replace(lr=float(run.lrs[e])), penalty, dropout_seed, steps_taken)
        run.losses[e] = loss
        if not math.isfinite(loss):
            return e, steps
        for saved, vector in zip(rows, vectors):
            backend.copy_to_device(saved[e + 1], vector)
        if not np.isfinite(backend.to_host(run.parameters[e + 1])).all():
            return e, steps
        run.steps[e + 1] = steps_taken = steps
        if run.stop_rule is not None and rule_stops(run.stop_rule, loss):
            run.stop_rule[STOPPED] = 1.0
            return e + 1, steps_taken
    return len(run.lrs), steps_taken


#: The fields of :class:`~fastbp.kernels.records.EpochRun`'s ``stop_rule``, by position.
PATIENCE, MIN_DELTA, BEST, WAIT, STOPPED = range(5)


def no_rule():
    """A ``stop_rule`` that never stops a run (the compiled epoch always takes one; it writes it)."""
    return np.array([math.inf, 0.0, math.inf, 0.0, 0.0])


def rule_stops(rule, loss):
    """Count an epoch of finite ``loss`` in ``rule`` (an ``EpochRun.stop_rule``, updated in
    place); whether its patience has run out. The CPU backend compiles this same function into
    its epoch worker: one rule for every backend."""
    rule[WAIT] = rule[WAIT] + 1.0 if loss > rule[BEST] - rule[MIN_DELTA] else 0.0
    if loss < rule[BEST]:
        rule[BEST] = loss
    return rule[WAIT] >= rule[PATIENCE]
