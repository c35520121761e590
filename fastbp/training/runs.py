"""Runs of epochs: how many epochs each backend call trains, and the states it leaves behind.

:func:`fastbp.training.fit.train` hands its backend a run of epochs at a time (``train_epochs``).
The CPU backend trains a run in one GIL-free call, so that a fit takes Python's GIL back once per
run instead of once per epoch; beside a busy Python thread each time costs up to the interpreter's
switch interval (5 ms), more than a small network's epoch. Python then goes through the run's
epochs one by one as it always did (figures, schedule, stopping rule); where it stops early, or
where the schedule's rate for the next epoch turns out other than the run assumed, it goes back to
that epoch's state, which the run wrote.

* :class:`RunSizes`: epochs per run, by time. The first run trains one epoch and times it (unless
  an earlier fit of the same network and batches in this process timed it); then each run aims at
  :data:`RUN_SECONDS`, within the epochs left and :data:`MEMORY_BYTES` of rows.
* :class:`Orders`: each epoch's visiting order, drawn by the run that trains it; the orders a run
  drew beyond a cut are kept for the next run, so the generator is used as a loop of
  ``rng.permutation`` calls would use it (a fit that stops early may leave it advanced by the
  orders of epochs it did not train).
* :class:`States`: the rows the last two runs wrote, found by epoch.
* :func:`weighted_runs_epoch`: an epoch cut by batches without weight, one backend call per run
  of batches that carry weight.
"""

import math
import time
from typing import NamedTuple

import numpy as np

from ..kernels.records import Batches, EpochRun
from .data import weighted_batch_runs

#: Seconds of training a run aims at. Beside a busy Python thread the fit waits up to 5 ms for
#: the GIL once per run, a fortieth of this (benchmarks/gil_probe.py measures it); a Ctrl-C, or
#: the progress bar, waits up to this long for the run to end.
RUN_SECONDS = 0.2

#: The share of a run that may lie beyond the epochs the stopping rule certainly lets run
#: (:meth:`fastbp.EarlyStopping.epochs_before_stop`): epochs an early stop throws away, at most
#: half a run's time per fit. Without the bound, the early-stopping fits of scikit-learn's digits
#: trained up to 40% more epochs than they kept; with a bound of 0 every run would end at the
#: patience (eleven epochs for the estimators' default), twice as many runs as at 0.5.
SPECULATION = 0.5

#: A run takes the fit's last epochs too where they would make a run of less than this share of
#: its own: each run costs a wait for the GIL, however few epochs it trains.
TAIL = 0.5

#: Most bytes of rows a fit keeps for its runs: the states of two runs and the orders of one.
MEMORY_BYTES = 64 * 2**20


class RunSizes:
    """How many epochs the next run trains.

    Parameters
    ----------
    row_bytes : int
        Bytes one epoch adds to the rows (two runs' states and one run's order).
    one_at_a_time : bool
        Train one epoch per run (where Python must act between epochs: callbacks, an epoch cut
        by batches without weight).
    work : tuple (hashable, int) or None
        What an epoch's time depends on besides its rows (the backend, network, batch size,
        dtype, optimizer), and the rows: the fits of this process with the same first element
        remember the time per row the last one measured, and their first run aims at
        :data:`RUN_SECONDS` by it instead of training one epoch to time it (one wait for the GIL
        fewer per fit of a grid search or a cross-validation). None: forget nothing, remember
        nothing.
    """

    def __init__(self, row_bytes, one_at_a_time, work=None):
        self.most = 1 if one_at_a_time else max(1, MEMORY_BYTES // max(row_bytes, 1) - 1)
        self._work = work
        known = None if work is None else _SECONDS_PER_ROW.get(work[0])
        # until a run of this fit has been timed: None (unknown), or what an earlier fit timed
        self.epoch_seconds = None if known is None else known * work[1]
        self._timed = False

    def next(self, epochs_left, before_stop=math.inf):
        """Epochs of the next run: 1 until an epoch has been timed; then as many as take
        :data:`RUN_SECONDS` (or the fit's last epochs, where fewer than :data:`TAIL` of that
        many would be left), cut to the ``before_stop`` epochs that the stopping rule certainly
        lets run, or to :data:`SPECULATION` of them if that is more (and to ``epochs_left``)."""
        if self.epoch_seconds is None:
            return 1
        wanted = int(RUN_SECONDS / max(self.epoch_seconds, 1e-9))
        if epochs_left - wanted < wanted * TAIL:  # not a short run of its own at the end
            wanted = epochs_left
        wanted = min(wanted, max(before_stop, math.ceil(wanted * SPECULATION)))
        return int(max(1, min(wanted, self.most, epochs_left)))

    def timed(self, seconds, epochs, cpu_seconds=None):
        """A run of ``epochs`` epochs took ``seconds``, of which the calling thread spent
        ``cpu_seconds`` on a CPU. A run's time also holds the wait for the GIL after it (up to
        the switch interval beside a busy Python thread, more than a small network's epoch), which
        takes no CPU: the epoch takes the least time per epoch of this fit's runs, by the
        calling thread's CPU time where it is the lesser and the clock resolves it."""
        if epochs > 0:
            if cpu_seconds is not None and _THREAD_CLOCK_RESOLVES:
                seconds = min(seconds, cpu_seconds)
            per_epoch = seconds / epochs
            self.epoch_seconds = per_epoch if not self._timed else \
                min(self.epoch_seconds, per_epoch)
            self._timed = True
            if self._work is not None:
                if len(_SECONDS_PER_ROW) >= _REMEMBERED:
                    _SECONDS_PER_ROW.clear()
                _SECONDS_PER_ROW[self._work[0]] = self.epoch_seconds / max(self._work[1], 1)


#: Whether ``time.thread_time`` resolves a short run (it ticks every 15.6 ms on some systems).
_THREAD_CLOCK_RESOLVES = time.get_clock_info("thread_time").resolution <= 1e-4

#: An epoch's seconds per row, by what else its time depends on (:class:`RunSizes`'s ``work``),
#: as this process's last fit of each measured it; at most _REMEMBERED of them.
_SECONDS_PER_ROW = {}
_REMEMBERED = 256


class Orders:
    """Each epoch's visiting order, in the backend's memory.

    Parameters
    ----------
    kernels : module
        The backend.
    n : int
        Rows per epoch.
    rng : numpy.random.Generator or None
        Draws each epoch's order (``rng.permutation(n)``); None visits the rows in order.
    """

    def __init__(self, kernels, n, rng):
        self._k, self._n, self._rng = kernels, n, rng
        self._fixed = None if rng is not None else \
            kernels.to_device(np.arange(n, dtype=np.int64).reshape(1, n))
        self._drawn = None   # (capacity, n): orders drawn by the last run that drew
        self._next = self._end = 0  # rows [next, end) of it: drawn, not yet trained

    def take(self, epochs):
        """The orders of the next run: ``(order, rng, epochs)``, the orders of shape (R, n) and
        the generator that draws them into it (None: given), for at most ``epochs`` epochs (the
        orders left over by a cut run, if any, come first)."""
        if self._rng is None:
            return self._fixed, None, epochs
        if self._next < self._end:
            epochs = min(epochs, self._end - self._next)
            return self._drawn[self._next:self._next + epochs], None, epochs
        if self._drawn is None or self._drawn.shape[0] < epochs:
            self._drawn = self._k.empty((epochs, self._n), np.int64)
        self._next, self._end = 0, epochs
        return self._drawn[:epochs], self._rng, epochs

    def trained(self, epochs):
        """The last run's first ``epochs`` orders were trained."""
        if self._rng is not None:
            self._next = min(self._next + epochs, self._end)


class _Rows(NamedTuple):
    losses: np.ndarray      # float64 (capacity,), host
    steps: np.ndarray       # int64 (capacity + 1,), host
    parameters: object      # (capacity + 1, P), the backend's memory
    moment_1: object
    moment_2: object


class States:
    """The states the last two runs wrote, by epoch: the fit's state after its ``index`` first
    epochs, index 0 the state it started from.

    Parameters
    ----------
    kernels : module
        The backend.
    state : fastbp.kernels.records.TrainingState
        The fit's state (its vectors give the rows' widths and dtypes).
    """

    def __init__(self, kernels, state):
        self._k = kernels
        self._vectors = (state.parameters, state.moment_1, state.moment_2)
        self._rows = [None, None]
        self._first = [0, 0]     # the index of each buffer's row 0
        self._turn = 0

    @staticmethod
    def row_bytes(state):
        """Bytes an epoch's state takes in the rows."""
        return sum(v.shape[0] * v.dtype.itemsize for v in (state.parameters, state.moment_1,
                                                            state.moment_2))

    def rows(self, first, epochs):
        """The rows of a run of ``epochs`` epochs starting at state ``first``: the
        :class:`~fastbp.kernels.records.EpochRun` fields from ``losses`` on."""
        # in an order that a KeyboardInterrupt anywhere leaves _find right: the rows are marked
        # unwritten before they are named the newest
        turn = self._turn ^ 1
        rows = self._rows[turn]
        if rows is None or rows.losses.shape[0] < epochs:
            k = self._k
            rows = _Rows(np.empty(epochs), np.empty(epochs + 1, np.int64),
                         *(k.empty((epochs + 1, v.shape[0]), v.dtype) for v in self._vectors))
        rows.steps[0] = -1  # until the run has written its rows 0
        self._rows[turn] = rows
        self._first[turn] = first
        self._turn = turn
        return (rows.losses[:epochs], rows.steps[:epochs + 1],
                *(r[:epochs + 1] for r in rows[2:]))

    def _find(self, index):
        """The rows holding state ``index`` and its row there, or None; the newest first."""
        for turn in (self._turn, self._turn ^ 1):
            rows, first = self._rows[turn], self._first[turn]
            if rows is not None and first <= index and rows.steps[0] >= 0 \
                    and index - first < rows.steps.shape[0]:
                return rows, index - first
        return None

    def parameters(self, index):
        """State ``index``'s parameters (a row in the backend's memory)."""
        rows, row = self._find(index)
        return rows.parameters[row]

    def restore(self, index, state):
        """Copy state ``index`` into ``state``'s vectors; returns its step count, or None where no
        run has written it (no run started: ``state`` is still the fit's start)."""
        found = self._find(index)
        if found is None:
            return None
        rows, row = found
        for vector, saved in zip((state.parameters, state.moment_1, state.moment_2), rows[2:]):
            self._k.copy_to_device(vector, saved[row])
        return int(rows.steps[row])


def weighted_runs_epoch(k, arguments, run, weights):
    """One epoch whose batches without weight cut it into runs of batches, each trained by a
    ``k.train_epoch`` call: ``k.train_epochs`` for ``run`` of one epoch, in Python.

    Parameters
    ----------
    k : module
        The backend.
    arguments : tuple
        ``train_epochs``'s first seven arguments, ``batches.order`` of shape (1, n) in host memory
        (drawn already where the epoch shuffles).
    run : fastbp.kernels.records.EpochRun
        One epoch's rows, ``rng`` None.
    weights : tuple (ndarray, list or None)
        The sample weights in host memory, and the runs of the rows in order (None: find them
        in the order).

    Returns
    -------
    epochs_done : int
    steps_taken : int
    """
    state, network, batches, optimizer, penalty, dropout_seed, steps = arguments
    order = batches.order[0]
    w, runs = weights
    if runs is None:
        runs = weighted_batch_runs(w[order], batches.batch_size)
    vectors = (state.parameters, state.moment_1, state.moment_2)
    for saved, vector in zip((run.parameters, run.moment_1, run.moment_2), vectors):
        k.copy_to_device(saved[0], vector)
    run.steps[0] = steps
    total, count = 0.0, 0
    settings = optimizer._replace(lr=float(run.lrs[0]))
    for lo, hi in runs:
        part = Batches(batches.X, batches.Y, batches.sample_weight, k.to_device(order[lo:hi]),
                       batches.batch_size)
        loss, steps = k.train_epoch(state, network, part, settings, penalty, dropout_seed,
                                    steps)
        if len(runs) == 1:
            total, count = loss, 1
        else:
            total, count = total + loss * (hi - lo), count + (hi - lo)
        if not math.isfinite(loss):
            run.losses[0] = math.nan
            return 0, steps
    run.losses[0] = total / count
    for saved, vector in zip((run.parameters, run.moment_1, run.moment_2), vectors):
        k.copy_to_device(saved[1], vector)
    if not np.isfinite(k.to_host(run.parameters[1])).all():
        return 0, steps
    run.steps[1] = steps
    return 1, steps


def epoch_run(lrs, rng, rows, stop_rule=None):
    """The :class:`~fastbp.kernels.records.EpochRun` of ``lrs`` (a list of floats), the
    generator (or None), :meth:`States.rows` and the stopping rule (or None)."""
    return EpochRun(np.array(lrs, np.float64), rng, *rows, stop_rule)
