"""A :class:`fastbp.Sequential` kept: pickling, and ``save``/``load``, thin wrappers over
:mod:`fastbp.io` (imported when called: fastbp.io imports the model)."""

import threading

from .. import backends


class Persistence:
    """:class:`fastbp.Sequential`'s pickling hooks, :meth:`save` and :meth:`load`."""

    def __getstate__(self):
        # the kernel module cannot be pickled and the buffers are scratch space
        state = dict(self.__dict__)
        state["_kernels"], state["_scratch"] = None, None
        state.pop("_bound_inference", None)  # made anew from the unpickled theta
        return state

    def __setstate__(self, state):
        state.pop("_buffers", None)  # the single shared buffer set of older pickles
        if "_samples_seen" in state:  # its name in older pickles
            state["samples_seen"] = state.pop("_samples_seen")
        state.setdefault("stop_training", False)  # older pickles: always built, no callbacks
        state.setdefault("_seed", None)
        self.__dict__.update(state)
        self._kernels = backends.load(self.backend)
        self._scratch = threading.local()
        if not self.built:
            return
        # pickle copies each array on its own: make the layers' W and b views of theta again
        for layer, (W, b) in zip(self.layers, self.layer_views(self._theta)):
            W[...], b[...] = layer._W, layer._b
            layer._W, layer._b = W, b

    def save(self, path, *, optimizer=None):
        """Write this network (and ``optimizer``'s state, if given) to ``path``; see
        :func:`fastbp.save`.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (replaced atomically if it exists).
        optimizer : SGD or Adam, optional
            The optimizer passed to :meth:`fit`, to store its state so that training can resume
            after :meth:`load`.

        Raises
        ------
        NotBuiltError
            For a model not built yet: it has no weights to write.
        """
        self._check_built()
        from ..io import save

        save(self, path, optimizer=optimizer)

    @classmethod
    def load(cls, path, *, backend=None, return_optimizer=False):
        """Read a network written by :meth:`save` or :func:`fastbp.save`; see :func:`fastbp.load`.

        Parameters
        ----------
        path : str or os.PathLike
            The model file.
        backend : {"cpu", "numpy", "cuda"} or None, default=None
            Run the network on this backend instead of the one it was saved with.
        return_optimizer : bool, default=False
            Return ``(model, optimizer)``, the optimizer restored from the file (None if it was
            saved without one), to pass to :meth:`fit`.

        Returns
        -------
        Sequential or (Sequential, Optimizer or None)

        Raises
        ------
        TypeError
            When the file holds an estimator, not a network.
        """
        from ..io import load

        loaded = load(path, backend=backend, return_optimizer=return_optimizer)
        model = loaded[0] if return_optimizer else loaded
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}: "
                            f"use {type(model).__name__}.load or fastbp.load")
        return loaded
