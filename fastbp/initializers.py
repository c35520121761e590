"""Weight initialisers: Glorot/Xavier uniform and He uniform, drawn from a NumPy Generator.

Glorot uniform is the default for every activation, as in scikit-learn and Keras: on a
100-256-128-10 ReLU classifier trained 3 epochs with Adam, He uniform's larger weights cost about 12
points of training accuracy against Glorot's (``benchmarks/test_training.py`` trains with the
defaults).
"""

import math

import numpy as np

from .names import choice


def glorot_uniform_bound(n_in, n_out, activation):
    """Glorot/Xavier bound ``sqrt(6 / (fan_in + fan_out))``; ``sqrt(2 / (fan_in + fan_out))`` for
    sigmoid, as scikit-learn draws it."""
    return math.sqrt((2.0 if activation == "sigmoid" else 6.0) / (n_in + n_out))


def he_uniform_bound(n_in, n_out, activation):
    """He uniform bound ``sqrt(6 / fan_in)``."""
    return math.sqrt(6.0 / n_in)


INITIALIZERS = {"glorot_uniform": glorot_uniform_bound, "he_uniform": he_uniform_bound}


def default_initializer(activation):
    """The initialiser chosen for ``activation`` when the user names none: Glorot uniform."""
    return "glorot_uniform"


def initializer_name(name):
    """Validated initialiser name."""
    return choice("init", name, tuple(INITIALIZERS))


def draw(rng, W, b, activation, init):
    """Fill ``W`` and ``b`` with draws uniform in ``[-bound, bound]``, the scikit-learn way (biases
    too): float64 draws, ``W``'s then ``b``'s, rounded to the arrays' dtype as they are written
    (each a pass over the layer: beside a busy Python thread, every NumPy pass over a large array
    may cost a wait for the GIL).

    Parameters
    ----------
    rng : numpy.random.Generator
    W : ndarray, shape (n_in, n_out)
        Written: a model's view of the layer's weights.
    b : ndarray, shape (n_out,)
        Written: its biases.
    activation, init : str
        The layer's activation and initialiser (:data:`INITIALIZERS`).

    Examples
    --------
    >>> import numpy as np
    >>> W, b = np.empty((2, 3), np.float32), np.empty(3, np.float32)
    >>> draw(np.random.default_rng(0), W, b, "relu", "glorot_uniform")
    >>> bool(np.all(np.abs(W) <= glorot_uniform_bound(2, 3, "relu")))
    True
    """
    n_in, n_out = W.shape
    bound = INITIALIZERS[init](n_in, n_out, activation)
    # one call draws what two, W's then b's, would
    values = rng.uniform(-bound, bound, size=n_in * n_out + n_out)
    np.copyto(W, values[:n_in * n_out].reshape(n_in, n_out))
    np.copyto(b, values[n_in * n_out:])
