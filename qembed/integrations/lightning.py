"""PyTorch Lightning: :class:`QuantumLightningModule` trains a qembed model with
Lightning's own loop (``pip install "qembed[lightning]"``).

Lightning keeps what it owns: devices, precision, gradient accumulation, distribution,
the optimizer step, logging and checkpoints. An inner :class:`QuantumTrainer`, built for
the device Lightning trains on, does the quantum part of each step exactly as in
``QuantumTrainer.train``: the schedule's collapse probability, the forward with replayed
examples mixed in, the loss with its quantum terms, the clipping strategy and the
measures, which reach Lightning's loggers through ``self.log``.
"""

from __future__ import annotations

import lightning.pytorch as pl

from qembed.integrations.lightning_steps import LIGHTNING_EQUIVALENTS, QuantumLightningSteps

__all__ = ["LIGHTNING_EQUIVALENTS", "QuantumLightningModule"]


class QuantumLightningModule(QuantumLightningSteps, pl.LightningModule):
    __doc__ = QuantumLightningSteps.__doc__
