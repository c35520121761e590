"""Weight initialisers: Glorot/Xavier uniform and He uniform, drawn from a NumPy Generator."""

import math

from .names import choice

#: Activations whose default initialiser is He (the ReLU family); the rest default to Glorot.
HE_ACTIVATIONS = frozenset({"relu", "leaky_relu", "elu", "gelu"})


def glorot_uniform_bound(n_in, n_out, activation):
    """Glorot/Xavier bound ``sqrt(6 / (fan_in + fan_out))``, times ``sqrt(2)`` for sigmoid.

    The plain bound is scikit-learn's for every activation but ``logistic``; for that one
    scikit-learn uses ``sqrt(2 / (fan_in + fan_out))`` instead, while fastbp widens the bound by
    ``sqrt(2)`` as its design specifies. fastbp's estimators draw scikit-learn's own initial weights.
    """
    bound = math.sqrt(6.0 / (n_in + n_out))
    return bound * math.sqrt(2.0) if activation == "sigmoid" else bound


def he_uniform_bound(n_in, n_out, activation):
    """He uniform bound ``sqrt(6 / fan_in)``."""
    return math.sqrt(6.0 / n_in)


INITIALIZERS = {"glorot_uniform": glorot_uniform_bound, "he_uniform": he_uniform_bound}


def default_initializer(activation):
    """The initialiser chosen for ``activation`` when the user names none."""
    return "he_uniform" if activation in HE_ACTIVATIONS else "glorot_uniform"


def initializer_name(name):
    """Validated initialiser name."""
    return choice("init", name, tuple(INITIALIZERS))


def draw(rng, n_in, n_out, activation, init, dtype):
    """Draw ``(W, b)`` uniformly in ``[-bound, bound]``, the scikit-learn way (biases too).

    Returns
    -------
    W : ndarray, shape (n_in, n_out)
    b : ndarray, shape (n_out,)
    """
    bound = INITIALIZERS[init](n_in, n_out, activation)
    W = rng.uniform(-bound, bound, size=(n_in, n_out)).astype(dtype)
    b = rng.uniform(-bound, bound, size=n_out).astype(dtype)
    return W, b
