"""Learning-rate schedules for :meth:`fastbp.Sequential.fit` (re-exported from fastbp.training)."""

from .training.schedules import (  # noqa: F401
    Constant,
    CosineAnnealing,
    InvScaling,
    LinearWarmup,
    ReduceLROnPlateau,
    Schedule,
    StepDecay,
)
