"""What ``fit`` returns: per-epoch figures, and a plot of them."""


class History:
    """Per-epoch training record.

    The model's metric is ``accuracy`` for the cross-entropy losses (exact match of every output
    for multilabel ``binary_cross_entropy``) and ``r2`` for the regression ones; it goes by that
    name everywhere: ``val_accuracy``/``val_r2`` (and ``accuracy``/``r2`` on the training data) as
    attributes, as keys of :attr:`history` and in ``fit``'s progress line.

    Parameters
    ----------
    metric_name : {"accuracy", "r2"}

    Attributes
    ----------
    loss : list of float
        Mean training loss of each epoch (penalty included), as the optimizer saw it.
    val_loss : list of float
        Validation loss (empty without validation data).
    val_accuracy, val_r2 : list of float
        The validation metric, under the model's metric name (the other name raises
        ``AttributeError``); empty without validation data.
    val_metric : list of float
        The same list by its older name.
    accuracy, r2 : list of float
        The metric on the training rows at the end of each epoch, when ``fit`` was asked for it
        with ``metrics=``; empty otherwise. Under the model's metric name, as ``val_*``.
    metric : list of float
        The same list whatever the name.
    metric_name : str
        ``"accuracy"`` for the cross-entropy losses, ``"r2"`` for the regression ones.
    lr : list of float
        Learning rate used in each epoch.
    time : list of float
        Wall-clock seconds of each epoch, validation and training metric included. Epochs
        trained in one backend call (a run, :mod:`fastbp.training.runs`) share its time evenly.
    stopped_early : bool
        Whether early stopping or a callback ended the fit before its epochs ran out;
        ``best_epoch`` then says which epoch an ``early_stopping=`` rule kept.
    interrupted : bool
        Whether Ctrl-C ended the fit.

    Examples
    --------
    >>> import numpy as np, fastbp
    >>> X, y = np.random.default_rng(0).standard_normal((40, 3)), np.arange(40) % 2
    >>> model = fastbp.Sequential([fastbp.Dense(3, 2, "softmax")], loss="cross_entropy", seed=0)
    >>> history = model.fit(X, y, epochs=3, validation_split=0.25, metrics=["accuracy"])
    >>> list(history.history)
    ['loss', 'accuracy', 'lr', 'time', 'val_loss', 'val_accuracy']
    >>> history.val_accuracy is history.val_metric
    True
    """

    def __init__(self, metric_name):
        self.metric_name = metric_name
        self.loss, self.val_loss, self.val_metric, self.lr, self.time = [], [], [], [], []
        self.metric = []
        self.stopped_early = False
        self.interrupted = False
        self.best_epoch = None

    def __setstate__(self, state):
        state.setdefault("metric", [])  # pickles from before the training metric
        self.__dict__.update(state)

    def _named(self, name, figures):
        """``figures`` if ``name`` is this history's metric; else AttributeError saying which."""
        if name != self.metric_name:
            raise AttributeError(f"this History's metric is {self.metric_name!r} (from the "
                                 f"model's loss), not {name!r}")
        return figures

    @property
    def accuracy(self):
        """The training accuracy of each epoch (with ``fit(metrics=["accuracy"])``).

        Raises
        ------
        AttributeError
            If the model's metric is ``r2``.
        """
        return self._named("accuracy", self.metric)

    @property
    def r2(self):
        """The training R^2 of each epoch (with ``fit(metrics=["r2"])``).

        Raises
        ------
        AttributeError
            If the model's metric is ``accuracy``.
        """
        return self._named("r2", self.metric)

    @property
    def val_accuracy(self):
        """The validation accuracy of each epoch (empty without validation data).

        Raises
        ------
        AttributeError
            If the model's metric is ``r2``.
        """
        return self._named("accuracy", self.val_metric)

    @property
    def val_r2(self):
        """The validation R^2 of each epoch (empty without validation data).

        Raises
        ------
        AttributeError
            If the model's metric is ``accuracy``.
        """
        return self._named("r2", self.val_metric)

    @property
    def epochs(self):
        """Number of completed epochs."""
        return len(self.loss)

    @property
    def history(self):
        """The figures as a Keras-style dict of lists: ``loss``, ``accuracy``/``r2`` when
        computed, ``lr``, ``time``, and with validation ``val_loss`` and ``val_accuracy``/
        ``val_r2``."""
        record = {"loss": self.loss}
        if self.metric:
            record[self.metric_name] = self.metric
        record.update(lr=self.lr, time=self.time)
        if self.val_loss:
            record["val_loss"] = self.val_loss
            record[f"val_{self.metric_name}"] = self.val_metric
        return record

    def plot(self, path=None, ax=None):
        """Draw the loss curves (training and, if any, validation) against the epoch.

        Parameters
        ----------
        path : str or path-like, optional
            Save the figure there.
        ax : matplotlib Axes, optional
            Draw into it instead of a new figure.

        Returns
        -------
        matplotlib Axes
        """
        try:
            import matplotlib

            if ax is None and path is not None:
                matplotlib.use("Agg", force=False)
            import matplotlib.pyplot as plt
        except ImportError as error:
            raise ImportError("History.plot needs matplotlib: pip install 'fastbp[plot]'") from error
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        epochs = range(1, self.epochs + 1)
        ax.plot(epochs, self.loss, label="training loss")
        if self.val_loss:
            ax.plot(epochs, self.val_loss, label="validation loss")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.legend()
        if path is not None:
            ax.figure.savefig(path, dpi=120, bbox_inches="tight")
        return ax

    def __repr__(self):
        last = f", last loss {self.loss[-1]:.6g}" if self.loss else ""
        return f"<History: {self.epochs} epochs{last}>"
