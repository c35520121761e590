"""``fastbp warmup``: compile the CPU backend into Numba's on-disk cache ahead of use.

A fresh machine, container or CI runner otherwise pays the JIT compile in its first ``fit`` and
again in its first prediction. :func:`tasks` compiles every activation, loss and optimizer kernel
for each dtype asked, then runs, per dtype, what a process runs: a tiny network's training epoch
(with a validation split, and again with dropout, which the epoch is compiled without when no
layer drops), its gradients and loss, and its whole-network forward pass, the one
:meth:`fastbp.Sequential.forward` and the estimators' ``predict``/``predict_proba`` take, on a
writable input and on a read-only one (a read-only array, such as a memory map joblib hands its
workers, is another compiled signature). :func:`model_tasks` compiles exactly what one saved
model needs. Later processes (same machine, same Python, same ``NUMBA_CACHE_DIR``) load it all from
disk.

The compile notice (:mod:`fastbp.kernels.compile_notice`) is silenced while a task runs:
compiling is the point here.
"""

from dataclasses import dataclass

import numpy as np

from .kernels import compile_notice

DTYPES = ("float32", "float64")

#: Rows of the tiny data each network task trains and predicts on (two batches of 32 after a
#: quarter is held out for validation).
ROWS = 64


@dataclass(frozen=True)
class Needs:
    """What decides the compiled code a network runs on the CPU backend (its widths do not).

    Attributes
    ----------
    dtype : str
        ``"float32"`` or ``"float64"``.
    layers : tuple of (int, int, str, float)
        Each layer's ``(n_in, n_out, activation, dropout)``.
    loss : str
    optimizer : str or None
        ``"adam"`` or ``"sgd"``; None for a network never trained by epochs (``solver='lbfgs'``).
    """

    dtype: str
    layers: tuple
    loss: str
    optimizer: object

    @property
    def dropout(self):
        """Whether a layer drops units (the epoch is compiled with its dropout code then)."""
        return any(rate > 0 for *_, rate in self.layers)

    def codes(self):
        """``{table name: kernel codes}`` of the CPU kernel tables this network calls."""
        from .kernels import codes

        activations = {codes.ACTIVATION_CODES[name] for _, _, name, _ in self.layers}
        loss = {codes.LOSS_CODES[self.loss]}
        found = {"activation_forward": activations, "activation_backward": activations,
                 "loss_forward": loss, "loss_backward": loss}
        if self.optimizer is not None:
            found["optimizer_step"] = {codes.OPTIMIZER_CODES[self.optimizer]}
        return found


def typical(dtype, dropout=0.0):
    """The needs of a small ReLU classifier of ``dtype`` trained with Adam (the estimators'
    defaults), with ``dropout`` on its hidden layer."""
    return Needs(dtype, ((3, 4, "relu", dropout), (4, 2, "softmax", 0.0)), "cross_entropy",
                 "adam")


def tasks(dtypes=DTYPES):
    """``(label, callable)`` pairs, each compiling one piece for one dtype: every kernel, then what
    a fit, a prediction and :meth:`~fastbp.Sequential.forward` run.

    Parameters
    ----------
    dtypes : sequence of {"float32", "float64"}

    Returns
    -------
    list of (str, callable)
    """
    from .kernels.cpu import tables as cpu_tables

    found = []
    for dtype in dtypes:
        found += [_kernel_task(table, code, dtype) for table, code in cpu_tables.every_kernel()]
        found += _network_tasks(typical(dtype))
        found.append(_epoch_task(typical(dtype, dropout=0.25)))
    return found


def model_tasks(path):
    """``(label, callable)`` pairs compiling exactly what the model saved at ``path`` needs: its
    dtype's epoch, gradients and forward pass, and the kernels of its activations, loss and
    optimizer only.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`fastbp.save`; it is loaded, and so verified, first.

    Returns
    -------
    list of (str, callable)

    Raises
    ------
    ModelFileError, OSError
        As :func:`fastbp.load` does.
    """
    needs = needs_of_file(path)
    found = [_kernel_task(table, code, needs.dtype)
             for table, found_codes in needs.codes().items() for code in sorted(found_codes)]
    return found + _network_tasks(needs)


def needs_of_file(path):
    """The :class:`Needs` of the model saved at ``path`` (loaded, and so verified, first)."""
    from .io import load
    from .io.inspect import read_header

    if read_header(path)["kind"] == "sequential":
        # a network keeps no optimizer: its next fit takes fit's default unless one was saved
        network, optimizer = load(path, return_optimizer=True)
        name = "adam" if optimizer is None else type(optimizer).__name__.lower()
        return needs_of(network, name)
    from .estimators import training

    estimator = load(path)
    solver = estimator.solver if estimator.solver in ("adam", "sgd") else None
    return needs_of(training.network(estimator), solver)


def needs_of(network, optimizer):
    """The :class:`Needs` of a :class:`~fastbp.Sequential` trained with ``optimizer``."""
    layers = tuple((layer.n_in, layer.n_out, layer.activation, float(layer.dropout))
                   for layer in network.layers)
    return Needs(np.dtype(network.dtype).name, layers, network.loss_name, optimizer)


# ---- the tasks ----------------------------------------------------------------------------------
def _quietly(run):
    """``run`` without the compile notice."""
    def quiet():
        with compile_notice.silenced():
            run()
    return quiet


def _kernel_task(table, code, dtype):
    from .kernels import codes
    from .kernels.cpu import tables as cpu_tables

    names = (codes.LOSS_NAMES if table.startswith("loss") else codes.ACTIVATION_NAMES
             if table.startswith("activation") else
             {code: name for name, code in codes.OPTIMIZER_CODES.items()})
    return (f"{table} {names.get(code, code)} ({dtype})",
            _quietly(lambda: cpu_tables.kernel(table, code, dtype)))


def _network_tasks(needs):
    """The epoch (for a network trained by epochs), the gradients and the forward pass."""
    found = [_epoch_task(needs)] if needs.optimizer is not None else []
    return found + [_gradient_task(needs), _forward_task(needs)]


def _epoch_task(needs):
    def run():
        model, X, Y = _network(needs)
        model.fit(X, Y, epochs=1, batch_size=32, optimizer=needs.optimizer,
                  validation_split=0.25, seed=0)
    dropout = " with dropout" if needs.dropout else ""
    return f"training epoch{dropout} ({needs.dtype})", _quietly(run)


def _gradient_task(needs):
    def run():
        model, X, Y = _network(needs)
        model.gradients(X[:4], Y[:4])
        model.loss(X, Y)
    return f"gradients and loss ({needs.dtype})", _quietly(run)


def _forward_task(needs):
    def run():
        model, X, _ = _network(needs)
        model.forward(X)
        X.flags.writeable = False
        model.forward(X)
    return f"forward pass ({needs.dtype})", _quietly(run)


def _network(needs):
    """A network with ``needs``' layers, loss and dtype on the CPU backend, and data for it:
    targets in [0, 1] that every loss takes (rows summing to 1 for cross-entropy)."""
    from .layers import Dense
    from .model import Sequential

    model = Sequential([Dense(n_in, n_out, activation, dropout=dropout)
                        for n_in, n_out, activation, dropout in needs.layers],
                       loss=needs.loss, dtype=needs.dtype, backend="cpu", seed=0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((ROWS, model.n_inputs)).astype(needs.dtype)
    Y = rng.random((ROWS, model.n_outputs)).astype(needs.dtype)
    if needs.loss == "cross_entropy":
        Y /= Y.sum(axis=1, keepdims=True)
    return model, X, Y
