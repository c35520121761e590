"""What ``fit`` returns: per-epoch figures, and a plot of them."""


class History:
    """Per-epoch training record.

    Attributes
    ----------
    loss : list of float
        Mean training loss of each epoch (penalty included), as the optimizer saw it.
    val_loss, val_metric : list of float
        Validation loss and metric (empty without validation data).
    metric_name : str
        ``"accuracy"`` for the cross-entropy losses, ``"r2"`` for the regression ones.
    lr : list of float
        Learning rate used in each epoch.
    time : list of float
        Wall-clock seconds of each epoch, validation included.
    stopped_early : bool
        Whether early stopping ended the fit; ``best_epoch`` then says which epoch it kept.
    interrupted : bool
        Whether Ctrl-C ended the fit.
    """

    def __init__(self, metric_name):
        self.metric_name = metric_name
        self.loss, self.val_loss, self.val_metric, self.lr, self.time = [], [], [], [], []
        self.stopped_early = False
        self.interrupted = False
        self.best_epoch = None

    @property
    def epochs(self):
        """Number of completed epochs."""
        return len(self.loss)

    @property
    def history(self):
        """The figures as a Keras-style dict of lists."""
        record = {"loss": self.loss, "lr": self.lr, "time": self.time}
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
