"""Quantum-aware training: :class:`QuantumTrainer` and its configuration.

The built-in losses and optimizers are importable as the seed shows, from
``qembed.training.losses`` and ``qembed.training.optimizers`` (they live in
``qembed_plugins`` and are registered by name like any plugin's).
"""

from qembed.training.config import ConfigError, QuantumTrainingConfig
from qembed.training.errors import TrainingDivergedError
from qembed.training.history import History
from qembed.training.interruption import TrainingInterrupted
from qembed.training.loss_call import LossInputs, loss_inputs
from qembed.training.loss_terms import LossTerms
from qembed.training.trainer import QuantumTrainer

__all__ = ["ConfigError", "History", "LossInputs", "LossTerms", "QuantumTrainer", "QuantumTrainingConfig",
           "TrainingDivergedError", "TrainingInterrupted", "loss_inputs"]
