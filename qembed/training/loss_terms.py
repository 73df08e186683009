"""How a loss reports its parts, so that ``quantum_loss`` can be logged.

A loss module may define ``loss_terms(outputs, labels) -> LossTerms``; its
``forward`` then returns ``loss_terms(...).total``. A loss that needs several
collapse samples per batch (e.g. mutual-information uncertainty) sets the
attribute ``mc_samples`` to how many; the trainer then fills
``outputs.sample_logits`` (``[S, *logits.shape]``) before calling it.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor


class LossTerms(NamedTuple):
    total: Tensor  # what backward sees: task + quantum
    task: Tensor  # the base task loss
    quantum: Tensor  # the weighted sum of the quantum terms (0 when there are none)
