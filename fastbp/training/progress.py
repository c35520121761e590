"""What ``fit`` prints: a tqdm bar over epochs (verbose=1), a line per epoch (2), or nothing (0)."""

import sys


#: Log entries the line leaves out: the epoch and its time are printed apart, and ``val_metric``
#: is the older name of ``val_accuracy``/``val_r2``, which the line shows.
_NOT_SHOWN = ("epoch", "time", "val_metric")


def _figures(logs):
    return {key: f"{value:.4g}" for key, value in logs.items() if key not in _NOT_SHOWN}


def check_verbose(verbose):
    """Refuse anything but 0, 1 or 2."""
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"verbose must be 0, 1 or 2; got {verbose!r}")
    return verbose


class Progress:
    """Reports each finished epoch at the chosen verbosity: its figures by their Keras names
    (``loss``, ``accuracy``/``r2``, ``lr``, ``val_loss``, ``val_accuracy``/``val_r2``)."""

    def __init__(self, verbose, epochs):
        self.verbose = check_verbose(verbose)
        self.epochs = epochs
        self._bar = None
        if verbose == 1:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=epochs, unit="epoch", file=sys.stderr, dynamic_ncols=True)

    def epoch_end(self, logs):
        if self._bar is not None:
            self._bar.set_postfix(_figures(logs), refresh=False)
            self._bar.update(1)
        elif self.verbose == 2:
            text = " - ".join(f"{k} {v}" for k, v in _figures(logs).items())
            print(f"epoch {logs['epoch'] + 1}/{self.epochs} - {logs['time'] * 1e3:.1f} ms - {text}",
                  flush=True)

    def message(self, text):
        if self._bar is not None:
            self._bar.write(text)
        elif self.verbose:
            print(text, flush=True)

    def close(self):
        if self._bar is not None:
            self._bar.close()
