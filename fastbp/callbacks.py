"""Callbacks: your code, run by ``Sequential.fit`` once per epoch (Keras's protocol, in small).

``fit(..., callbacks=[...])`` takes instances of :class:`Callback` subclasses. Two come ready:
:class:`EarlyStopping` (fastbp's early-stopping rule, :class:`fastbp.EarlyStopping`, as a callback)
and :class:`ModelCheckpoint` (writes the model with :meth:`fastbp.Sequential.save`).
"""

import math
import os

import numpy as np

from .training import stopping


class Callback:
    """Base class of what ``Sequential.fit(callbacks=[...])`` calls; override what you need.

    ``fit`` calls, in this order:

    1. ``set_model(model)`` and ``set_params(params)``, then ``on_train_begin(logs)`` with empty
       ``logs``;
    2. ``on_epoch_end(epoch, logs)`` after each completed epoch (``epoch`` counts from 0), from
       Python between epochs: never per batch, as the batches run inside the backend;
    3. ``on_train_end(logs)`` with the last epoch's ``logs``, when the fit ends without raising
       (its epochs done, stopped, or interrupted with Ctrl-C).

    ``logs`` holds the epoch's figures under the names of :attr:`fastbp.History.history`:
    ``loss``, ``accuracy``/``r2`` (with ``fit(metrics=[...])``), ``lr``, ``time``, and with
    validation data ``val_loss`` and ``val_accuracy``/``val_r2``; a copy each callback may keep.

    To stop: return True from ``on_epoch_end``, or set ``self.model.stop_training = True`` (as in
    Keras). The fit then ends after that epoch, with that epoch's weights and history (the other
    callbacks are still called for it).

    The model's weights (``self.model.parameters``) are the epoch's when ``on_epoch_end`` runs,
    to read or save. Weights a callback writes take effect only in ``on_train_end``: the epochs
    train ``fit``'s own copy.

    Attributes
    ----------
    model : fastbp.Sequential
        The model being trained, from ``set_model``.
    params : dict
        From ``set_params``: ``epochs`` (asked for), ``verbose``, and ``metrics``, the names
        ``logs`` will hold each epoch.

    Examples
    --------
    >>> import numpy as np, fastbp
    >>> class StopBelow(fastbp.Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         return logs["loss"] < 0.5              # True ends the fit after this epoch
    >>> X = np.random.default_rng(0).standard_normal((32, 2))
    >>> model = fastbp.Sequential([fastbp.Dense(2, 1)], seed=0)
    >>> history = model.fit(X, X.sum(axis=1), epochs=200, optimizer=fastbp.SGD(learning_rate=0.1),
    ...                     callbacks=[StopBelow()], seed=0)
    >>> history.epochs < 200, history.loss[-1] < 0.5 <= min(history.loss[:-1])
    (True, True)
    """

    model = None
    params = None

    def set_model(self, model):
        """Take the model ``fit`` trains.

        Parameters
        ----------
        model : fastbp.Sequential
            Kept as :attr:`model`.
        """
        self.model = model

    def set_params(self, params):
        """Take the fit's settings.

        Parameters
        ----------
        params : dict
            ``epochs``, ``verbose`` and ``metrics``; kept as :attr:`params`.
        """
        self.params = params

    def on_train_begin(self, logs=None):
        """Before the first epoch.

        Parameters
        ----------
        logs : dict or None
            Empty.
        """

    def on_epoch_end(self, epoch, logs=None):
        """After each epoch; return True to stop the fit there.

        Parameters
        ----------
        epoch : int
            The finished epoch, counted from 0.
        logs : dict or None
            Its figures (see the class docstring).

        Returns
        -------
        bool or None
            True ends the fit after this epoch.
        """
        return None

    def on_train_end(self, logs=None):
        """After the last epoch.

        Parameters
        ----------
        logs : dict or None
            The last epoch's figures.
        """

    def _check_logged(self, monitor):
        """Refuse a ``monitor`` the fit does not log, naming those it does."""
        logged = (self.params or {}).get("metrics")
        if logged is not None and monitor not in logged:
            raise ValueError(f"{type(self).__name__} monitors {monitor!r}, which this fit does not "
                             f"log; it logs {list(logged)} (validation figures need "
                             f"validation_data or validation_split, the training metric "
                             f"fit(metrics=[...]))")


def check_callbacks(callbacks):
    """``callbacks`` as a tuple of :class:`Callback`, after checking it is a list of them.

    Parameters
    ----------
    callbacks : list or tuple of Callback, or None
        What ``fit`` was given; None is no callbacks.

    Returns
    -------
    tuple of Callback

    Raises
    ------
    TypeError
        For anything else, with a pointer for :class:`fastbp.EarlyStopping` (the rule that
        ``fit``'s ``early_stopping=`` takes, not a callback).
    """
    if callbacks is None:
        return ()
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"callbacks must be a list of fastbp.Callback; got {callbacks!r}")
    for i, callback in enumerate(callbacks):
        if isinstance(callback, stopping.EarlyStopping):
            raise TypeError(f"callbacks[{i}] is a fastbp.EarlyStopping, the rule fit's "
                            f"early_stopping= takes: pass it there, or use "
                            f"fastbp.callbacks.EarlyStopping in callbacks")
        if not isinstance(callback, Callback):
            raise TypeError(f"callbacks[{i}] must be a fastbp.Callback; got "
                            f"{type(callback).__name__}")
    return tuple(callbacks)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has stopped improving: :class:`fastbp.EarlyStopping`'s rule as a
    callback, with the best weights put back at the end.

    Parameters
    ----------
    monitor : str, default="val_loss"
        A name the fit logs: ``"val_loss"``, ``"loss"``, ``"val_accuracy"``/``"val_r2"``, or
        ``"accuracy"``/``"r2"`` with ``fit(metrics=[...])``. Metrics are maximised, losses
        minimised.
    patience : int, default=10
        Epochs without an improvement of at least ``min_delta`` before stopping.
    min_delta : float, default=0
        Non-negative: how much an epoch must improve on the best figure to reset the patience
        count.
    restore_best_weights : bool, default=True
        At the end of the fit, put back the weights of the best epoch.

    Notes
    -----
    The defaults are those of ``fit(early_stopping=True)``, not Keras's (``patience=0``,
    ``restore_best_weights=False``); Keras's ``patience=0`` stops as ``patience=1`` does here.
    Unlike ``early_stopping=``, it does not set ``History.best_epoch``: read :attr:`best_epoch`.

    Attributes
    ----------
    best : float
        The best figure seen in this fit.
    best_epoch : int or None
        Its epoch, counted from 0.
    stopped_epoch : int or None
        The epoch after which it stopped the fit (None: it did not).
    best_weights : ndarray of shape (n_params,) or None
        Those of ``best_epoch``, with ``restore_best_weights``.

    Examples
    --------
    >>> import numpy as np, fastbp
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 5)); y = X[:, 0] + rng.standard_normal(40)
    >>> model = fastbp.Sequential([fastbp.Dense(64, activation="relu"), fastbp.Dense(1)], seed=0)
    >>> stop = fastbp.callbacks.EarlyStopping(monitor="val_loss", patience=5)
    >>> history = model.fit(X, y, epochs=500, batch_size=None, validation_split=0.5,
    ...                     optimizer=fastbp.Adam(learning_rate=0.02), callbacks=[stop], seed=0)
    >>> history.epochs == stop.stopped_epoch + 1 < 500
    True
    >>> model.loss(X[20:], y[20:]) == min(history.val_loss)    # the best epoch's weights
    True
    """

    def __init__(self, monitor="val_loss", patience=10, min_delta=0.0, restore_best_weights=True):
        #: the rule that decides; this callback only feeds it and keeps the weights
        self.rule = stopping.EarlyStopping(monitor, patience, min_delta, restore_best_weights)
        self.stopped_epoch = None
        self.best_weights = None

    @property
    def monitor(self):
        """The name of the figure watched."""
        return self.rule.monitor

    @property
    def best(self):
        """The best figure seen in this fit."""
        return self.rule.best

    @property
    def best_epoch(self):
        """The epoch of :attr:`best`, counted from 0 (None before any)."""
        return self.rule.best_epoch

    def on_train_begin(self, logs=None):
        """Check that the fit logs ``monitor``, and start afresh.

        Parameters
        ----------
        logs : dict or None
            Empty.
        """
        self._check_logged(self.monitor)
        self.rule.reset()
        self.stopped_epoch = self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        """Feed the epoch to the rule; keep the weights if it is the best so far.

        Parameters
        ----------
        epoch : int
            The finished epoch, counted from 0.
        logs : dict
            Its figures; ``logs[monitor]`` is read.

        Returns
        -------
        bool
            True when the patience has run out.
        """
        improved, stop = self.rule.update(epoch, logs)
        if improved and self.rule.restore_best_weights:
            self.best_weights = np.array(self.model.parameters)
        if stop:
            self.stopped_epoch = epoch
        return stop

    def on_train_end(self, logs=None):
        """Put back the best epoch's weights, with ``restore_best_weights``.

        Parameters
        ----------
        logs : dict or None
            The last epoch's figures (unused).
        """
        if self.best_weights is not None:
            self.model.set_parameters(self.best_weights)


class ModelCheckpoint(Callback):
    """Write the model after each epoch, or only after those that improve ``monitor``, with
    :meth:`fastbp.Sequential.save` (which replaces the file atomically).

    Parameters
    ----------
    path : str or path-like
        Where to write. As in Keras, it may name the epoch (from 1) and the logged figures as
        ``str.format`` fields, e.g. ``"model-{epoch:03d}-{val_loss:.3f}.safetensors"``; a path
        holding other braces must double them.
    monitor : str, default="val_loss"
        With ``save_best_only``: a name the fit logs (as :class:`EarlyStopping`'s).
    save_best_only : bool, default=False
        Write only when ``monitor`` is better than at every earlier write of this callback (its
        best carries over to later fits, as in Keras, so a resumed fit does not overwrite a
        better file); a NaN figure is never better.

    Attributes
    ----------
    best : float
        The best figure written so far (``inf``, or ``-inf`` for a metric, before any).

    Examples
    --------
    >>> import os, tempfile, numpy as np, fastbp
    >>> X = np.random.default_rng(0).standard_normal((40, 3))
    >>> model = fastbp.Sequential([fastbp.Dense(3, 1)], seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "best.safetensors")
    >>> keep = fastbp.callbacks.ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    >>> history = model.fit(X, X.sum(axis=1), epochs=5, validation_split=0.25, callbacks=[keep],
    ...                     seed=0)
    >>> float(fastbp.load(path).loss(X[30:], X[30:].sum(axis=1))) == min(history.val_loss)
    True
    """

    def __init__(self, path, monitor="val_loss", save_best_only=False):
        self.path = os.fspath(path)
        self.monitor = stopping.check_monitor(monitor)
        self.save_best_only = bool(save_best_only)
        self.best = -math.inf if stopping.maximised(self.monitor) else math.inf

    def on_train_begin(self, logs=None):
        """With ``save_best_only``, check that the fit logs ``monitor``.

        Parameters
        ----------
        logs : dict or None
            Empty.
        """
        if self.save_best_only:
            self._check_logged(self.monitor)

    def on_epoch_end(self, epoch, logs=None):
        """Write the model to ``path`` (formatted with the epoch and ``logs``), unless
        ``save_best_only`` and the epoch is not the best.

        Parameters
        ----------
        epoch : int
            The finished epoch, counted from 0 (``{epoch}`` in ``path`` is counted from 1).
        logs : dict
            Its figures, also the format fields of ``path``.

        Returns
        -------
        None
            It never stops the fit.
        """
        if self.save_best_only:
            if not self._better(logs[self.monitor]):
                return None
            self.best = logs[self.monitor]
        self.model.save(self.path.format(epoch=epoch + 1, **logs))
        return None

    def _better(self, value):
        """Whether ``value`` beats :attr:`best` (False for NaN)."""
        return value > self.best if stopping.maximised(self.monitor) else value < self.best
