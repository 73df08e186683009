"""``QuantumLightningModule`` for ``pytorch_lightning.Trainer`` (``import pytorch_lightning
as pl``, as the specification writes it): the same module as
:mod:`qembed.integrations.lightning`'s, over ``pytorch_lightning.LightningModule``, since
each Lightning package's ``Trainer`` accepts only its own modules
(``pip install "qembed[lightning]"`` installs both packages).
"""

from __future__ import annotations

import pytorch_lightning as pl

from qembed.integrations.lightning_steps import LIGHTNING_EQUIVALENTS, QuantumLightningSteps

__all__ = ["LIGHTNING_EQUIVALENTS", "QuantumLightningModule"]


class QuantumLightningModule(QuantumLightningSteps, pl.LightningModule):
    __doc__ = QuantumLightningSteps.__doc__
