"""Training a :class:`fastbp.Sequential`: one plain gradient step (``step``) and the whole fit
(``fit``, run by :func:`fastbp.training.fit.fit`)."""

import math
import threading

import numpy as np

from ..errors import DivergenceError
from ..layers import layer_states, restore_layer_states
from ..validation import check_positive_float


class Training:
    """:class:`fastbp.Sequential`'s :meth:`step` and :meth:`fit`."""

    def step(self, X, y, lr, sample_weight=None):
        """One plain gradient-descent step ``theta <- theta - lr * dL/dtheta``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs)
            Input rows.
        y : array-like
            Targets as :meth:`loss` takes them.
        lr : float
            The step size, positive.
        sample_weight : array-like, shape (n_samples,), optional
            Weight of each sample in the mean loss; None weighs them equally.

        Returns
        -------
        float
            The loss before the step.
        """
        lr = check_positive_float("lr", lr)
        rate = self._in_dtype("lr", lr)
        args = self._prepare_labelled(X, y, sample_weight)
        with np.errstate(over="ignore", invalid="ignore"):  # reported just below
            loss, gradient = self.loss_and_gradient(*args)
            theta = self._theta - rate * gradient
        if not (math.isfinite(loss) and np.all(np.isfinite(theta))):
            raise DivergenceError(f"this step would leave non-finite weights (loss {loss}, "
                                  f"learning rate {lr:g}); the weights were not changed. Try a "
                                  f"smaller learning rate.")
        self._theta[...] = theta
        return loss

    def _in_dtype(self, name, value):
        """A positive float as the model's dtype; refuses one that overflows or rounds to 0."""
        info = np.finfo(self.dtype)
        if not float(info.tiny) <= value <= float(info.max):
            raise ValueError(f"{name}={value} is outside the positive range of "
                             f"{self.dtype.name} ({info.tiny:.3g} to {info.max:.3g})")
        return self.dtype.type(value)

    def fit(self, X, y, *, epochs=1, batch_size=32, optimizer="adam", schedule=None, shuffle=True,
            seed=None, sample_weight=None, alpha=0.0, l1=0.0, validation_data=None,
            validation_split=0.0, early_stopping=None, verbose=0, callbacks=None,
            class_weight=None, metrics=None):
        """Train by mini-batch gradient descent; each epoch runs whole inside the backend.

        An unbuilt model (first layer without ``n_in``) is built for ``X``'s width once every
        argument is checked.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_inputs)
            Training inputs.
        y : array-like
            Targets as :meth:`loss` takes them.
        epochs : int, default=1
            Passes over the training data (fewer if the fit stops early).
        batch_size : int or None, default=32
            None (or ``len(X)``) is full-batch gradient descent.
        optimizer : {"adam", "sgd"} or Optimizer, default="adam"
            An :class:`fastbp.Adam` or :class:`fastbp.SGD` instance keeps its state across fits.
        schedule : Schedule, "constant", "invscaling" or None
            Learning rate per epoch (see :mod:`fastbp.schedules`).
        shuffle : bool, default=True
            Visit the samples in a new random order each epoch.
        seed : int or None
            Seeds shuffling and dropout: the same seed gives identical weights on a machine,
            whatever the thread count (the CPU backend cuts each batch into shards by its size
            and the machine's cores, runs them on ``numba.get_num_threads()`` threads and sums
            their gradients in a fixed order).
        sample_weight : array-like, shape (n_samples,), optional
            A mini-batch whose weights are all zero takes no step and adds nothing to the epoch's
            loss (the mean over the other batches); if every training weight is zero, ValueError.
        alpha : float, default=0
            L2 penalty ``alpha/2 * ||W||^2`` per batch, divided by the batch size (scikit-learn's
            scaling); weights only, not biases.
        l1 : float, default=0
            L1 penalty ``l1 * |W|`` with the same scaling.
        validation_data : (X_val, y_val), optional
            Held-out data scored, unweighted, after each epoch (``val_loss`` and the validation
            metric); not with ``validation_split``.
        validation_split : float in (0, 1), optional
            Hold out this last fraction of ``X`` (before shuffling) for validation.
        early_stopping : EarlyStopping, True or None
            True monitors ``val_loss`` with patience 10 and restores the best weights.
        verbose : {0, 1, 2}, default=0
            0 silent, 1 a progress bar over epochs, 2 one line per epoch.
        callbacks : list of fastbp.Callback, optional
            Called once per epoch, after it (see :class:`fastbp.Callback`); one returning True
            from ``on_epoch_end``, or setting ``model.stop_training = True``, ends the fit there.
            Ready-made: :class:`fastbp.callbacks.EarlyStopping`,
            :class:`fastbp.callbacks.ModelCheckpoint`.
        class_weight : dict {int: float}, optional
            Each class's weight, multiplied into ``sample_weight`` (Keras's rule): the class of a
            row is its label, or the argmax of its one-hot (or probability) row for
            ``cross_entropy``, and 0 or 1 (the target rounded) for ``binary_cross_entropy`` with
            one output. Classes left out weigh 1. Only the training rows are weighted, not those
            of ``validation_split``.
        metrics : list of str, optional
            ``["accuracy"]`` (alias ``"acc"``) for a classification loss, ``["r2"]`` for a
            regression one: also record the metric on the training data, computed after each
            epoch by one forward pass over the training rows at the epoch's final weights (so it
            costs about a third of an epoch), unweighted; in :attr:`History.history` and the
            progress line as ``accuracy``/``r2``. The validation metric is always recorded when
            there is validation data, as ``val_accuracy``/``val_r2``.

        Returns
        -------
        History

        Raises
        ------
        DivergenceError
            When the loss or the weights stop being finite (a ``ValueError``). As with any error
            that ends the call, the fit is undone: the model (its weights, whether it is built,
            ``samples_seen``) and an :class:`~fastbp.Optimizer` object passed as ``optimizer``
            (its moments and step count) are as they were before the call. An early-stopping
            rule with ``finishes_diverging_fits`` instead records NaN for the epochs left and
            restores its best weights, without raising.
        TypeError
            For labels given as text (strings): encode them with
            ``sklearn.preprocessing.LabelEncoder``, or use :class:`fastbp.MLPClassifier`.

        Examples
        --------
        >>> import numpy as np, fastbp
        >>> X = np.random.default_rng(0).standard_normal((60, 4))
        >>> y = (X[:, 0] > 0).astype(int)
        >>> model = fastbp.Sequential([fastbp.Dense(8, activation="relu"),
        ...                            fastbp.Dense(2, activation="softmax")],
        ...                           loss="cross_entropy", seed=0)
        >>> stop = fastbp.callbacks.EarlyStopping(monitor="val_loss", patience=3)
        >>> history = model.fit(X, y, epochs=5, optimizer=fastbp.Adam(learning_rate=0.01),
        ...                     validation_split=0.25, metrics=["accuracy"], callbacks=[stop],
        ...                     class_weight={0: 1.0, 1: 2.0}, seed=0)
        >>> sorted(history.history)
        ['accuracy', 'loss', 'lr', 'time', 'val_accuracy', 'val_loss']
        """
        from ..training.fit import fit

        undo = self._undo_point(optimizer)
        try:
            return fit(self, X, y, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
                       schedule=schedule, shuffle=shuffle, seed=seed, sample_weight=sample_weight,
                       alpha=alpha, l1=l1, validation_data=validation_data,
                       validation_split=validation_split, early_stopping=early_stopping,
                       verbose=verbose, callbacks=callbacks, class_weight=class_weight,
                       metrics=metrics)
        except DivergenceError as error:
            undo()
            # the fit loop's message says which epoch's weights it fell back to; they are undone
            diverged = str(error).partition(";")[0]
            raise DivergenceError(f"{diverged}; the fit was undone: the model and the optimizer "
                                  f"are as they were before it. Try a smaller learning "
                                  f"rate.") from error
        except Exception:  # not KeyboardInterrupt: an interrupted fit keeps its finished epochs
            undo()
            raise

    def _undo_point(self, optimizer):
        """A function that puts the model, and ``optimizer`` if it is an optimizer object, back
        as they are now: the rule that a call which raises leaves everything as it was.

        The attribute dicts of the model and its layers are restored (an unbuilt model becomes
        unbuilt again, ``samples_seen`` and ``stop_training`` go back), and the weights, which
        training writes in place, are copied back into the model's own vector.
        """
        from ..training.optimizers import Optimizer

        attributes = dict(self.__dict__)
        layers = layer_states(self.layers)
        theta = None if self._theta is None else self._theta.copy()
        if isinstance(optimizer, Optimizer):
            moments = optimizer.moments
            moments = None if moments is None else [moment.copy() for moment in moments]
            steps = optimizer.steps

        def undo():
            self.__dict__.clear()
            self.__dict__.update(attributes)
            restore_layer_states(self.layers, layers)
            if theta is None:
                # the buffers were made for the network the fit built, which is gone
                self._scratch = threading.local()
            else:
                self._theta[...] = theta
            if isinstance(optimizer, Optimizer):
                if moments is None:
                    optimizer.reset()
                else:
                    optimizer.set_state(moments, steps)
                optimizer.steps = steps

        return undo
