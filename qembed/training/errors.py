"""Errors the training loop raises while training."""


class TrainingDivergedError(RuntimeError):
    """Too many optimizer steps in a row had a non-finite loss or gradient."""
