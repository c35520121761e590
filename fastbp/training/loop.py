"""The epoch loop: runs of epochs in the backend, then each epoch's figures, schedule, stopping and
callbacks in Python.

Each backend call trains a run of epochs (``train_epochs``: batch gathering, forward, backward,
penalty, optimizer update, each epoch's order drawn) and writes every epoch's loss and state;
:mod:`fastbp.training.runs` says how many epochs a run trains and keeps the states. Python then
records the run's epochs one by one exactly as it would had each been a call of its own: an epoch
that stops the fit, or after which the schedule gives the next epoch another rate than the run
trained with, puts its state back and ends the run there. A plain fit thus takes the GIL back a
few times per fit instead of once per epoch, and runs no NumPy operation on a large array between
its runs (each would release and take back the GIL too).
"""

import math
import time
import warnings

import numpy as np

from ..errors import DivergenceError
from ..kernels.epoch_chunks import STOPPED
from ..kernels.records import Batches, TrainingState
from .history import History
from .metrics import metric_name, validation_metric
from .progress import Progress
from .runs import Orders, RunSizes, States, epoch_run, weighted_runs_epoch
from .data import weighted_batch_runs

#: Log entries kept for the rules written against them (the estimators' stopping rule reads
#: ``val_metric``) but not shown to callbacks, which see the names of ``History.history``.
_INTERNAL_LOGS = ("epoch", "val_metric")


def logged_names(name, validated, train_metric):
    """The names each epoch's logs hold for callbacks (those of ``History.history``).

    Parameters
    ----------
    name : str
        The model's metric, ``"accuracy"`` or ``"r2"``.
    validated, train_metric : bool
        Whether the fit computes validation figures, and the metric on the training rows.

    Returns
    -------
    list of str
    """
    names = ["loss"] + ([name] if train_metric else []) + ["lr", "time"]
    return names + (["val_loss", f"val_{name}"] if validated else [])


def train(model, data, plan, rng):
    """Train ``model`` in place for the epochs of ``plan`` on data already checked.

    Nothing is checked here: ``data`` must be what :func:`fastbp.training.fit.fit` passes after
    its checks (arrays in the model's dtype, C-contiguous, of the model's widths, some weight
    positive). The divergence handling, interruption and best-weights restoring are
    :meth:`fastbp.Sequential.fit`'s.

    Parameters
    ----------
    model : fastbp.Sequential
    data : tuple (X, Y, w, validation)
        ``X`` of shape (n, n_inputs), ``Y`` of shape (n, n_outputs), ``w`` of shape (n,) the
        sample weights (each batch is weighted by ``w / sum(w)`` over the batch; ``fit`` passes
        them normalised to sum to 1), ``validation`` a pair ``(X_val, Y_val)`` or None.
    plan : fastbp.training.fit.TrainingPlan
    rng : numpy.random.Generator
        Draws the dropout seed, then each epoch's order (one ``permutation`` per epoch, in order;
        a fit that stops early may have drawn the orders of epochs it did not train).

    Returns
    -------
    fastbp.History

    Raises
    ------
    fastbp.DivergenceError
        When the loss or weights become non-finite (unless ``plan.stopper`` finishes diverging
        fits); the last weights with finite results are kept.
    """
    return _Loop(model, data, plan, rng).run()


class _Loop:
    """One ``train`` call: its state on the device, its runs and its records."""

    def __init__(self, model, data, plan, rng):
        X, Y, w, validation = data
        self.model, self.plan, self.X, self.Y = model, plan, X, Y
        self.name = metric_name(model.network.loss)
        # first, as a callback may refuse the fit (a figure it monitors is not logged)
        _begin_callbacks(plan, model, logged_names(self.name, validation is not None,
                                                   plan.train_metric))
        k = self.k = model.kernels
        self.n = n = X.shape[0]
        self.dropout_seed = int(rng.integers(2**63))
        moments = plan.optimizer._bind(model.n_params, model.dtype)
        # the epochs train a copy, handed to the model where its weights are read (a host
        # backend's to_device would otherwise return the model's own vector, which only
        # set_parameters writes); everything else goes to the backend's memory once
        self.state = TrainingState(k.to_device(np.array(model.parameters)),
                                   k.empty(model.n_params, model.dtype),
                                   *(k.to_device(moment) for moment in moments))
        self.data = (k.to_device(X), k.to_device(Y), k.to_device(w))
        self.network = model.network  # one record for every run: the CPU backend reuses what it
        #                               prepared for the same record
        # every batch carries weight when every sample does (the usual case); else the batches
        # without weight cut each epoch into runs of batches, one backend call each
        self.weights = None
        if not float(np.min(w)) > 0:
            runs = weighted_batch_runs(w, plan.batch_size)
            if plan.shuffle or runs != [(0, n)]:
                self.weights = (w, None if plan.shuffle else runs)
        self.validation = validation
        if validation is not None:
            Xv, Yv = validation
            self.validation_device = (k.to_device(Xv), k.to_device(Yv), k.to_device(
                np.full(Xv.shape[0], 1 / Xv.shape[0], model.dtype)))
        shuffle = rng if plan.shuffle else None
        self.orders = Orders(k, n, shuffle if self.weights is None else None)
        self.rng = rng
        self.states = States(k, self.state)
        row_bytes = 2 * States.row_bytes(self.state) + (8 * n if plan.shuffle else 0)
        network = model.network
        work = ((k.__name__, tuple(network.widths), tuple(network.activations),
                 tuple(network.dropout), network.loss, np.dtype(model.dtype).str, plan.batch_size,
                 type(plan.optimizer).__name__, plan.shuffle), n)
        self.sizes = RunSizes(row_bytes, bool(plan.callbacks) or self.weights is not None, work)
        self.history = History(self.name)
        self.progress = Progress(plan.verbose, plan.epochs)
        plan.schedule.reset()
        if plan.stopper is not None:
            plan.stopper.reset()
        self.samples_before = model.samples_seen
        self.epoch = 0           # epochs recorded
        self.best = self.best_index = None
        self.diverged = self.stopped = False
        self.settled = True  # whether the model holds the weights of the state

    # ---- the loop ----------------------------------------------------------------------------
    def run(self):
        model, plan, history = self.model, self.plan, self.history
        # the CPU backend holds BLAS to one thread for the whole run: an OpenBLAS worker left
        # spinning by a threaded validation pass would steal a core from the next run's threads
        with self.k.training_session():
            try:
                while self.epoch < plan.epochs and not self.stopped:
                    if self.diverged:
                        self._record_diverged()
                    else:
                        self._train_run()
                    self._keep_best()
                if not self.settled:
                    self._settle()
            except KeyboardInterrupt:
                # The backend may have been stopped mid-run, or the epochs' figures not yet
                # recorded: go back to the end of the last epoch the history reports.
                self._go_back(history.epochs)
                history.interrupted = True
                warnings.warn(f"training interrupted after {history.epochs} completed epochs; "
                              f"their weights were kept", RuntimeWarning, stacklevel=5)
            except DivergenceError:
                raise  # the weights kept are set
            except Exception:
                if not self.diverged:
                    self._go_back(history.epochs)
                raise
            finally:
                # most important first: a second Ctrl-C may land anywhere in here
                model.samples_seen = self.samples_before + self.n * history.epochs
                # the optimizer keeps its moments for the next fit, wherever this one computed
                # them
                for host, device in zip(plan.optimizer._moments,
                                        (self.state.moment_1, self.state.moment_2)):
                    if device is not host:
                        host[...] = self.k.to_host(device)
                self.progress.close()
        if self.best is not None:
            model.set_parameters(self.best)
            history.best_epoch = plan.stopper.best_epoch
        last = {key: figures[-1] for key, figures in history.history.items() if figures}
        for callback in plan.callbacks:
            callback.on_train_end(last)
        return history

    def _lr(self, epoch):
        plan = self.plan
        return float(plan.schedule.lr(epoch, plan.optimizer.lr,
                                      self.samples_before + self.n * epoch))

    def _train_run(self):
        """Train a run of epochs and record them; stops the run early where the fit stops, the
        schedule changes course or the loss diverges."""
        plan, k, opt = self.plan, self.k, self.plan.optimizer
        stopper = plan.stopper
        # a rule on the training loss ends the run where it stops the fit; another is computed
        # here, between runs, which then run no further than it certainly lets the fit go
        rule = None if stopper is None else stopper.run_rule()
        size = self.sizes.next(plan.epochs - self.epoch, math.inf if rule is not None or
                               stopper is None else stopper.epochs_before_stop())
        order, rng, size = self.orders.take(size)
        lrs = [self._lr(self.epoch + j) for j in range(size)]
        if self.weights is not None:
            order = np.arange(self.n, dtype=np.int64) if not plan.shuffle else \
                self.rng.permutation(self.n).astype(np.int64)
            order = order.reshape(1, self.n)
        run = epoch_run(lrs, rng, self.states.rows(self.epoch, size), rule)
        arguments = (self.state, self.network, Batches(*self.data, order, plan.batch_size),
                     opt.settings(lrs[0]), plan.penalty, self.dropout_seed, opt.steps)
        start, start_cpu = time.perf_counter(), time.thread_time()
        # an overflow shows as a non-finite loss or weights, which the run reports
        with np.errstate(over="ignore", invalid="ignore"):
            if self.weights is None:
                done, steps = k.train_epochs(*arguments, run)
            else:
                done, steps = weighted_runs_epoch(k, arguments, run, self.weights)
        seconds = time.perf_counter() - start
        self.settled = False
        stopped_by_rule = rule is not None and run.stop_rule[STOPPED] != 0
        diverged = done < size and not stopped_by_rule
        ran = done + diverged  # a diverged epoch ran too, in part
        self.sizes.timed(seconds, ran, time.thread_time() - start_cpu)
        opt.steps = steps
        for j in range(done):
            self._record_trained(j, run, seconds / ran)
            if self.stopped or (j + 1 < done and self._lr(self.epoch) != lrs[j + 1]):
                # the fit stops here, or the next epoch's rate is not the one the run trained
                # with (a schedule that follows the figures): back to this epoch's end, unless
                # the run ended there
                if j + 1 < done or diverged:
                    self._go_back(self.epoch)
                self.orders.trained(j + 1)
                return
        self.orders.trained(done)
        if diverged:
            self._diverge(float(run.losses[done]), lrs[done], seconds / ran)

    def _record_trained(self, j, run, seconds):
        """Record the run's epoch ``j`` (its loss and state in the run's rows)."""
        start = time.perf_counter()
        model, plan, epoch = self.model, self.plan, self.epoch
        logs = {"epoch": epoch, "loss": float(run.losses[j])}
        if plan.train_metric or plan.callbacks or self.validation is not None:
            # what reads the model's weights sees this epoch's
            model.set_parameters(self.k.to_host(run.parameters[j + 1]))
        if plan.train_metric:
            logs[self.name] = _training_metric(model, self.X, self.Y)
        logs["lr"] = float(run.lrs[j])
        if self.validation is not None:
            logs["val_loss"], logs["val_metric"] = _validate(
                model, self.validation_device, self.validation[1], run.parameters[j + 1])
            logs[f"val_{self.name}"] = logs["val_metric"]
        logs["time"] = seconds + time.perf_counter() - start
        self._commit(logs)

    def _diverge(self, loss, lr, seconds):
        """The loss or the weights of epoch ``self.epoch`` became non-finite: fall back to the last
        weights with finite results, then raise, or (a stopper that finishes diverging fits)
        record the epoch, and every one after it, as NaN."""
        start = time.perf_counter()
        epoch = self.epoch
        # weights can stay finite yet be so large that the next forward pass overflows; the
        # state before them began an epoch whose losses were all finite
        kept = epoch if self._finite_at(epoch) else max(epoch - 1, 0)
        self._go_back(kept)
        where = "the initial weights" if kept == 0 else f"the weights from the end of epoch {kept}"
        stopper = self.plan.stopper
        if not (stopper is not None and stopper.finishes_diverging_fits):
            raise DivergenceError(f"training diverged in epoch {epoch + 1}: the loss became "
                                  f"{loss} at learning rate {lr:g}; {where} were kept. Try a "
                                  f"smaller learning rate.")
        self.diverged = True
        self.progress.message(f"training diverged in epoch {epoch + 1}; {where} were kept, and "
                              f"the epochs left are recorded as NaN")
        self._record_diverged(lr, seconds + time.perf_counter() - start)

    def _record_diverged(self, lr=None, seconds=0.0):
        """Record epoch ``self.epoch`` of a diverged fit: NaN figures, no training."""
        start = time.perf_counter()
        logs = {"epoch": self.epoch, "loss": math.nan}
        if self.plan.train_metric:
            logs[self.name] = math.nan
        logs["lr"] = self._lr(self.epoch) if lr is None else lr
        if self.validation is not None:
            logs["val_loss"] = logs["val_metric"] = logs[f"val_{self.name}"] = math.nan
        logs["time"] = seconds + time.perf_counter() - start
        self._commit(logs)

    def _commit(self, logs):
        """Record an epoch's figures and show them to the schedule, the callbacks and the stopping
        rule; sets ``stopped`` where one of them stops the fit."""
        model, plan, history, epoch = self.model, self.plan, self.history, self.epoch
        _record(history, logs, self.validation is not None)  # commits the epoch
        model.samples_seen = self.samples_before + self.n * history.epochs
        self.epoch += 1
        self.progress.epoch_end(logs)
        plan.schedule.update(epoch, logs)
        stop = _epoch_end_callbacks(plan.callbacks, model, epoch, logs)
        if stop:
            self.progress.message(f"a callback stopped the fit after epoch {epoch + 1}")
        stopper = plan.stopper
        if stopper is not None:
            improved, stopper_stops = stopper.update(epoch, logs)
            if improved and stopper.restore_best_weights:
                if self.diverged:  # the weights kept when it diverged
                    self.best_index = None
                    self.best = np.array(self.k.to_host(self.state.parameters))
                else:
                    self.best_index = epoch + 1
            if stopper_stops:
                stop = True
                self.progress.message(f"early stopping after epoch {epoch + 1}: "
                                      f"{stopper.monitor} has not improved for "
                                      f"{stopper.patience} epochs")
        if stop:
            history.stopped_early = True
            self.stopped = True

    # ---- states --------------------------------------------------------------------------------
    def _keep_best(self):
        """Copy the best epoch's weights out of the rows, before a later run reuses them."""
        if self.best_index is not None:
            self.best = np.array(self.k.to_host(self.states.parameters(self.best_index)))
            self.best_index = None

    def _go_back(self, index):
        """Put the state after the fit's first ``index`` epochs back, the model's weights too."""
        steps = self.states.restore(index, self.state)
        if steps is not None:
            self.plan.optimizer.steps = steps
        self._settle()

    def _settle(self):
        """Hand the trained weights to the model."""
        self.model.set_parameters(self.k.to_host(self.state.parameters))
        self.settled = True

    def _finite_at(self, index):
        """Whether the network's loss and output on the training data are finite at state
        ``index``."""
        self.model.set_parameters(self.k.to_host(self.states.parameters(index)))
        with np.errstate(over="ignore", invalid="ignore"):  # what is being checked for
            loss, output = self.model.evaluate(*self.data)
        return math.isfinite(loss) and bool(np.all(np.isfinite(output)))


def _begin_callbacks(plan, model, logged):
    """Hand the callbacks the model and the fit's settings, then start them."""
    model.stop_training = False
    for callback in plan.callbacks:
        callback.set_model(model)
        callback.set_params({"epochs": plan.epochs, "verbose": plan.verbose,
                             "metrics": list(logged)})
    for callback in plan.callbacks:
        callback.on_train_begin({})


def _epoch_end_callbacks(callbacks, model, epoch, logs):
    """Call every callback's ``on_epoch_end`` (each with its own copy of the logs, by their
    ``History.history`` names); whether one asked to stop, by its return value or by
    ``model.stop_training`` (Keras's way)."""
    stop = False
    for callback in callbacks:
        public = {key: value for key, value in logs.items() if key not in _INTERNAL_LOGS}
        stop = bool(callback.on_epoch_end(epoch, public)) or stop
    return stop or bool(model.stop_training)


def _training_metric(model, X, Y):
    """The metric on the training rows at the model's current weights: one forward pass."""
    with np.errstate(over="ignore", invalid="ignore"):  # recorded as it comes, like validation's
        return validation_metric(model.network.loss, model.forward_validated(X), Y)


def _validate(model, validation_device, Yv, parameters):
    """Validation loss and metric at ``parameters`` (in the backend's memory; infinite where they
    overflow: recorded as such)."""
    with np.errstate(over="ignore", invalid="ignore"):
        val_loss, output = model.evaluate(*validation_device, parameters)
        return val_loss, validation_metric(model.network.loss, output, Yv)


def _record(history, logs, validated):
    """Append an epoch's figures; the training loss goes last, as it is what counts the epochs."""
    history.lr.append(logs["lr"])
    history.time.append(logs["time"])
    if history.metric_name in logs:
        history.metric.append(logs[history.metric_name])
    if validated:
        history.val_loss.append(logs["val_loss"])
        history.val_metric.append(logs["val_metric"])
    history.loss.append(logs["loss"])
