"""fastbp's compiled layer: one kernel interface, three implementations.

``reference`` (plain NumPy, the oracle), ``cpu`` (Numba ``@njit``) and, where numba-cuda is present,
``cuda`` expose the same functions with the same argument order. Arrays in, arrays out: outputs are
preallocated by the caller, C-contiguous, of the inputs' dtype, and passed first. Activations and
losses are the integer codes of :mod:`fastbp.kernels.codes`.

Conventions every backend follows:

* A dense layer computes ``out = act(x @ W + b)`` with ``W`` of shape ``(n_in, n_out)``.
* ``pre`` (the pre-activation ``x @ W + b``) may be the very same array as ``out``. Callers pass a
  separate buffer only where it is read later: GELU layers (their derivative needs ``z``) and the
  output layer of a logits-form loss (its loss is evaluated from ``z``).
* Gradient buffers (``dW``, ``db``, ``dx``, the loss gradient) are **overwritten**, never accumulated.
* The batch mean is taken in exactly one place: the per-sample ``weight`` vector given to
  ``loss_forward`` / ``loss_backward`` (``1/n`` each for a plain mean, ``s_i / sum(s)`` for sample
  weights ``s``). Everything downstream of the loss gradient is a plain sum over the batch.
* ``dense_backward`` overwrites its incoming gradient with ``delta = grad * act'(z)`` in place.
* ``train_epoch(state, network, batches, optimizer, penalty, dropout_seed, steps_taken)`` runs a
  whole epoch inside the backend, on the records of :mod:`fastbp.kernels.records`; callers enter
  ``training_session()`` around a whole training run (the CPU backend holds BLAS to one thread in
  it, because its epochs split each batch across threads; see :mod:`fastbp.kernels.cpu.epoch`).
* ``train_epochs(..., run)`` takes ``train_epoch``'s arguments and a
  :class:`~fastbp.kernels.records.EpochRun`, and runs several epochs in one call, writing each
  one's loss and state into the run's rows (the CPU backend in one GIL-free call; the others in
  :mod:`fastbp.kernels.epoch_chunks`, written once over their ``train_epoch``).
* The host-driven pass through the layers is :mod:`fastbp.kernels.layer_loop`, written once.
* A backend may also offer ``Inference(theta, dims, activations)``, a callable ``(X, out)`` that
  runs the whole network at once and returns whether every value of ``X`` was finite (the CPU
  backend's :mod:`fastbp.kernels.cpu.forward`);
  :meth:`fastbp.Sequential.forward` uses it where present and the layer loop otherwise.
"""
