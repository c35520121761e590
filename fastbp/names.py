"""Name -> kernel-code tables for activations and losses, with errors that list the valid names."""

from .kernels import codes

#: scikit-learn's names accepted as aliases of fastbp's.
ACTIVATION_ALIASES = {"logistic": "sigmoid"}

ACTIVATION_NAMES = tuple(codes.ACTIVATION_CODES) + tuple(ACTIVATION_ALIASES)
LOSS_NAMES = tuple(codes.LOSS_CODES)


def _choice(kind, value, valid):
    if not isinstance(value, str):
        raise TypeError(f"{kind} must be a string, one of {list(valid)}; got {value!r}")
    if value not in valid:
        raise ValueError(f"unknown {kind} {value!r}; expected one of {list(valid)}")
    return value


def activation_name(name):
    """Canonical activation name for ``name`` (``'logistic'`` becomes ``'sigmoid'``)."""
    name = _choice("activation", name, ACTIVATION_NAMES)
    return ACTIVATION_ALIASES.get(name, name)


def loss_name(name):
    """Validated loss name."""
    return _choice("loss", name, LOSS_NAMES)


def choice(kind, value, valid):
    """Return ``value`` if it is one of the strings ``valid``, else raise naming them all."""
    return _choice(kind, value, valid)
