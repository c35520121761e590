"""The fit loop: validation, shuffling, schedules and stopping in Python; each epoch in the backend.

One call of the backend's ``train_epoch`` runs a whole epoch (batch gathering, forward, backward,
penalty, optimizer update); Python only sees the epoch's loss.
"""

import math
import numbers
import time
import warnings

import numpy as np

from ..errors import DivergenceError
from ..kernels import codes
from ..validation import check_sample_weight, check_X, check_y
from . import optimizers, schedules
from .history import History
from .progress import Progress
from .stopping import EarlyStopping


def _non_negative(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0 \
            or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return float(value)


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def validation_metric(loss_code, output, Y):
    """Accuracy for the cross-entropy losses (exact match for multilabel), R^2 otherwise.

    Parameters
    ----------
    output, Y : ndarray, shape (n, k)
    """
    if loss_code == codes.CROSS_ENTROPY:
        return float(np.mean(output.argmax(axis=1) == Y.argmax(axis=1)))
    if loss_code == codes.BINARY_CROSS_ENTROPY:
        return float(np.mean(np.all((output > 0.5) == (Y > 0.5), axis=1)))
    residual = ((Y - output) ** 2).sum(axis=0, dtype=np.float64)
    total = ((Y - Y.mean(axis=0)) ** 2).sum(axis=0, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 0, 1 - residual / total, np.where(residual > 0, 0.0, 1.0))
    return float(r2.mean())


def _split_validation(X, Y, w, validation_data, validation_split, model):
    if validation_data is not None and validation_split:
        raise ValueError("pass validation_data or validation_split, not both")
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data must be a pair (X_val, y_val)")
        Xv = check_X(validation_data[0], model.n_inputs, model.dtype)
        Yv = check_y(validation_data[1], Xv.shape[0], model.n_outputs, model._loss_code,
                     model.dtype)
        return X, Y, w, (Xv, Yv)
    if not validation_split:
        return X, Y, w, None
    if not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be in (0, 1); got {validation_split}")
    n_val = int(round(X.shape[0] * validation_split))
    if n_val < 1 or n_val >= X.shape[0]:
        raise ValueError(f"validation_split={validation_split} of {X.shape[0]} samples leaves "
                         f"{n_val} for validation and {X.shape[0] - n_val} for training")
    # Keras's rule: the last fraction, before any shuffling
    cut = X.shape[0] - n_val
    return X[:cut], Y[:cut], w[:cut], (X[cut:], Y[cut:])


def fit(model, X, y, *, epochs=1, batch_size=32, optimizer="adam", schedule=None, shuffle=True,
        seed=None, sample_weight=None, alpha=0.0, l1=0.0, validation_data=None,
        validation_split=0.0, early_stopping=None, verbose=0):
    """Train ``model`` in place; see :meth:`fastbp.Sequential.fit` for the parameters."""
    epochs = _positive_int("epochs", epochs)
    alpha, l1 = _non_negative("alpha", alpha), _non_negative("l1", l1)
    opt = optimizers.resolve(optimizer)
    schedule = schedules.resolve(schedule)
    if early_stopping is True:
        early_stopping = EarlyStopping()
    if early_stopping not in (None, False) and not isinstance(early_stopping, EarlyStopping):
        raise TypeError(f"early_stopping must be an EarlyStopping, True or None; got "
                        f"{early_stopping!r}")
    stopper = early_stopping or None
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle must be a bool; got {shuffle!r}")

    X = check_X(X, model.n_inputs, model.dtype)
    Y = check_y(y, X.shape[0], model.n_outputs, model._loss_code, model.dtype)
    w = check_sample_weight(sample_weight, X.shape[0], model.dtype)
    X, Y, w, validation = _split_validation(X, Y, w, validation_data, validation_split, model)
    if stopper is not None and stopper.needs_validation and validation is None:
        raise ValueError(f"early stopping on {stopper.monitor!r} needs validation_data or "
                         f"validation_split")
    n = X.shape[0]
    batch_size = n if batch_size is None else min(_positive_int("batch_size", batch_size), n)

    k = model._kernels
    rng = np.random.default_rng(seed)
    dropout_seed = int(rng.integers(2**63))
    state_a, state_b = opt._bind(model.n_params, model.dtype)
    momentum, nesterov, beta_1, beta_2, epsilon = opt._hyper()
    # everything the epochs touch goes to the backend's memory once
    theta, grad = k.to_device(model._theta), k.to_device(np.empty_like(model._theta))
    state_a, state_b = k.to_device(state_a), k.to_device(state_b)
    Xd, Yd, wd = k.to_device(X), k.to_device(Y), k.to_device(w)
    dims, activations = k.to_device(model._dims), k.to_device(model._activation_codes)
    dropout = k.to_device(model._dropout)
    ordered = k.to_device(np.arange(n, dtype=np.int64))
    params = model._views(theta)  # the weights being trained, where they are trained
    if validation is not None:
        Xv, Yv = validation
        validation_device = (k.to_device(Xv), k.to_device(Yv),
                             k.to_device(np.full(Xv.shape[0], 1 / Xv.shape[0], model.dtype)))

    classifying = model._loss_code in (codes.CROSS_ENTROPY, codes.BINARY_CROSS_ENTROPY)
    history = History("accuracy" if classifying else "r2")
    progress = Progress(verbose, epochs)
    schedule.reset()
    if stopper is not None:
        stopper.reset()

    def checkpoint():
        """Host copies of the weights and the optimizer state, to fall back on."""
        return (k.to_host(theta).copy(), k.to_host(state_a).copy(), k.to_host(state_b).copy(),
                opt.steps)

    def restore(saved):
        model._set_parameters(saved[0])
        for device, host in ((theta, saved[0]), (state_a, saved[1]), (state_b, saved[2])):
            k.copy_to_device(device, host)
        opt.steps = saved[3]

    last_good = checkpoint()
    best = None
    samples_seen = model._samples_seen
    # the CPU backend holds BLAS to one thread for the whole run: an OpenBLAS worker left spinning
    # by a threaded validation pass would steal a core from the next epoch's threads
    with k.training_session():
        try:
            for epoch in range(epochs):
                start = time.perf_counter()
                lr = float(schedule.lr(epoch, opt.lr, samples_seen))
                order = k.to_device(rng.permutation(n).astype(np.int64)) if shuffle else ordered
                loss, opt.steps = k.train_epoch(
                    theta, grad, state_a, state_b, dims, activations, dropout, model._loss_code,
                    Xd, Yd, wd, order, batch_size, opt.code, lr, momentum, nesterov, beta_1,
                    beta_2, epsilon, alpha, l1, dropout_seed, opt.steps)
                current = k.to_host(theta)
                if not (math.isfinite(loss) and np.all(np.isfinite(current))):
                    restore(last_good)
                    raise DivergenceError(
                        f"training diverged in epoch {epoch + 1}: the loss became {loss} at "
                        f"learning rate {lr:g}; the weights from the end of epoch {epoch} were "
                        f"kept. Try a smaller learning rate.")
                model._set_parameters(current)
                last_good = checkpoint()
                samples_seen += n
                logs = {"epoch": epoch, "loss": loss, "lr": lr}
                if validation is not None:
                    logs["val_loss"] = model._loss(*validation_device, params)
                    output = k.to_host(model._buffers.outs[-1])
                    logs["val_metric"] = validation_metric(model._loss_code, output, validation[1])
                logs["time"] = time.perf_counter() - start
                history.loss.append(loss)
                history.lr.append(lr)
                history.time.append(logs["time"])
                if validation is not None:
                    history.val_loss.append(logs["val_loss"])
                    history.val_metric.append(logs["val_metric"])
                progress.epoch_end(logs)
                schedule.update(epoch, logs)
                if stopper is not None:
                    improved, stop = stopper.update(epoch, logs)
                    if improved and stopper.restore_best_weights:
                        best = last_good[0]
                    if stop:
                        history.stopped_early = True
                        progress.message(f"early stopping after epoch {epoch + 1}: "
                                         f"{stopper.monitor} has not improved for "
                                         f"{stopper.patience} epochs")
                        break
        except KeyboardInterrupt:
            # The backend may have been stopped mid-update: fall back to the last completed epoch.
            restore(last_good)
            history.interrupted = True
            warnings.warn(f"training interrupted after {history.epochs} completed epochs; their "
                          f"weights were kept", RuntimeWarning, stacklevel=3)
        finally:
            progress.close()
            model._samples_seen = samples_seen
            # the optimizer keeps its moments for the next fit, wherever this one computed them
            for host, device in zip(opt._state, (state_a, state_b)):
                if device is not host:
                    host[...] = k.to_host(device)

    if best is not None:
        model._set_parameters(best)
        history.best_epoch = stopper.best_epoch
    return history
