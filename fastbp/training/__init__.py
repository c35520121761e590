"""Training: optimizers, learning-rate schedules, early stopping, the fit loop and its history."""
