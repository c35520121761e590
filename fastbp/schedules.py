"""Learning-rate schedules for :meth:`fastbp.Sequential.fit` (re-exported from fastbp.training)."""

from .training.schedules import (
    Constant,
    CosineAnnealing,
    InvScaling,
    LinearWarmup,
    ReduceLROnPlateau,
    Schedule,
    StepDecay,
)

__all__ = ["Constant", "CosineAnnealing", "InvScaling", "LinearWarmup", "ReduceLROnPlateau",
           "Schedule", "StepDecay"]
