"""The body of ``QuantumLightningModule``, shared by the module for ``lightning`` and the
module for ``pytorch_lightning``.

Lightning ships the same ``LightningModule`` twice, as ``lightning.pytorch`` and as
``pytorch_lightning``, and each ``Trainer`` accepts only its own package's modules.
:class:`QuantumLightningSteps` holds every hook without importing either package;
``qembed.integrations.lightning`` and ``qembed.integrations.pytorch_lightning`` each put
it over their package's ``LightningModule``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim.lr_scheduler import LRScheduler

from qembed.training import ConfigError, QuantumTrainer, QuantumTrainingConfig
from qembed.training.step_metrics import step_metrics
from qembed.training.validation_metrics import ValidationTotals

#: ``quantum_training_config`` keys that only ``QuantumTrainer.train`` acts on, and what
#: does their job under Lightning. A value other than the key's default raises.
LIGHTNING_EQUIVALENTS: dict[str, str] = {
    "mixed_precision": "lightning.Trainer(precision='bf16-mixed'), or '16-mixed' for fp16",
    "gradient_accumulation_steps": "lightning.Trainer(accumulate_grad_batches=N)",
    "distributed_training": "lightning.Trainer(strategy='ddp', devices=N)",
    "quantum_sync": "lightning.seed_everything(seed); per-rank collapse seeding has no Lightning form",
    "entanglement_sync": "nothing: under Lightning each rank's loss sees its own pairs",
    "log_every_n_steps": "lightning.Trainer(log_every_n_steps=N)",
    "early_stopping_min_delta": "lightning.pytorch.callbacks.EarlyStopping(monitor='val_loss', min_delta=...)",
    "max_nonfinite_steps": "Lightning skips no non-finite step (but fp16's GradScaler); stop on one with "
                           "EarlyStopping(monitor='train_loss', check_finite=True)",
}

OptimizerSpec = torch.optim.Optimizer | str | Mapping[str, Any] | Callable[..., torch.optim.Optimizer]


class QuantumLightningSteps:
    """A ``LightningModule`` that trains ``model`` as :class:`QuantumTrainer` would (mixed
    over ``LightningModule``: see the modules named above).

    ``optimizer``: a ``torch.optim.Optimizer``, a registered name / ``{"name": ...,
    **options}`` spec, or a callable building one from ``model.parameters()``; ``None``
    for a module that only validates and tests (``fit`` raises).
    ``loss_fn``, ``quantum_training_config`` and ``lr_scheduler``: as for
    :class:`QuantumTrainer`; the scheduler steps after every optimizer step. Config keys
    that Lightning owns (:data:`LIGHTNING_EQUIVALENTS`) raise :class:`ConfigError` here;
    the clipping keys run their strategy in ``configure_gradient_clipping``. The
    optimizer and loss are built in ``setup``, for the device Lightning chose.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: OptimizerSpec | None,
        loss_fn: Any = None,
        quantum_training_config: QuantumTrainingConfig | Mapping[str, Any] | None = None,
        *,
        lr_scheduler: LRScheduler | Callable[[torch.optim.Optimizer], LRScheduler] | None = None,
    ) -> None:
        super().__init__()
        if isinstance(lr_scheduler, (str, Mapping)):  # a name needs the run's steps, which Lightning counts
            raise TypeError(f"lr_scheduler={lr_scheduler!r}: the Lightning adapter takes a built LRScheduler or a "
                            "callable building one from the optimizer; build a registered one in the callable with "
                            "qembed.plugins.create('lr_schedulers', spec, optimizer, total_steps=...)")
        if optimizer is None and lr_scheduler is not None:
            raise ConfigError("lr_scheduler schedules an optimizer, but optimizer is None (a module for validation "
                              "and test only); give an optimizer, or leave lr_scheduler out")
        self.config = QuantumTrainingConfig.from_value(quantum_training_config)
        _reject_lightning_owned(self.config)
        # Lightning logs it, keeps it in checkpoints and passes it back in load_from_checkpoint
        self.save_hyperparameters({"quantum_training_config": self.config.to_dict()})
        self.model = model
        self._optimizer_spec = optimizer
        self._loss_spec = loss_fn
        self._lr_scheduler_spec = lr_scheduler
        self._quantum_trainer: QuantumTrainer | None = None
        self._replay_state: dict[str, Any] | None = None  # from a checkpoint loaded before setup()
        self._total_steps = 0
        self._evaluation: ValidationTotals | None = None

    @property
    def quantum_trainer(self) -> QuantumTrainer:
        """The inner trainer (its ``config``, ``replay``, ``collapse_probability``,
        ``last_outputs``); built when a ``lightning.Trainer`` sets the module up."""
        if self._quantum_trainer is None:
            raise RuntimeError("the QuantumTrainer is built in setup(): call it after lightning.Trainer.fit, "
                               "validate or test has started")
        return self._quantum_trainer

    # --- set-up -----------------------------------------------------------------------

    def setup(self, stage: str) -> None:
        """Build the inner trainer once, on Lightning's device (its forward runs under Lightning's autocast)."""
        if stage == "fit" and self._optimizer_spec is None:
            raise ConfigError("no optimizer: this QuantumLightningModule was built with optimizer=None, for "
                              "lightning.Trainer.validate and test only; fit needs one")
        clips = self.config.clipping is not None or self.config.quantum_gradient_clipping
        if stage == "fit" and clips and self.trainer.gradient_clip_val is not None:
            raise ConfigError("quantum_training_config clipping ('quantum_gradient_clipping' or 'clipping') and "
                              "lightning.Trainer(gradient_clip_val=...) would both clip: keep one")
        if self._quantum_trainer is not None:
            return
        device = self.trainer.strategy.root_device
        optimizer = self._optimizer_spec
        if callable(optimizer):
            optimizer = optimizer(self.model.parameters())
        trainer = QuantumTrainer(self.model, optimizer, self._loss_spec, self.config, device=device,
                                 progress_bar=False, epoch_table=False, lr_scheduler=self._lr_scheduler_spec)
        self._quantum_trainer = trainer
        self._restore_replay()

    def configure_optimizers(self) -> Any:
        """The inner trainer's optimizer, and its LR scheduler (stepped every optimizer step)."""
        trainer = self.quantum_trainer
        optimizer = trainer.require_optimizer("lightning.Trainer.fit")
        if trainer.lr_scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": trainer.lr_scheduler, "interval": "step"}}

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """Leave the batch as the loader gave it: the inner trainer mixes replayed
        examples in on the CPU, then moves the batch to the device."""
        return batch

    # --- training ---------------------------------------------------------------------

    def on_train_start(self) -> None:
        """Fix the schedule's length: Lightning's count of this fit's optimizer steps."""
        total = self.trainer.estimated_stepping_batches
        if not math.isfinite(total) or total < 1:
            raise ValueError("the superposition schedule spans the run's optimizer steps: give "
                              "lightning.Trainer max_steps or max_epochs (and a sized train loader)")
        self._total_steps = int(total)

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        """Schedule at the global step, forward, loss; logs the quantum metrics."""
        trainer = self.quantum_trainer
        probability = trainer.apply_schedule(self.trainer.global_step, self._total_steps)
        outputs, _, terms = trainer.forward_step(batch)
        self.log_dict({("train_loss" if name == "loss" else name): value
                       for name, value in step_metrics(terms, outputs).items()})
        # a CPU tensor: Lightning would copy a float to the device (a sync), and the bar reads it every step
        self.log("collapse_probability", torch.tensor(probability), prog_bar=True)
        return terms.total

    def configure_gradient_clipping(self, optimizer: torch.optim.Optimizer, gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        """Lightning's ``gradient_clip_val``, or the config's clipping strategy (its
        pre-clip norms logged as ``grad_norm``, ``grad_norm/quantum``, ...)."""
        self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)
        self.log_dict(self.quantum_trainer.clipping(optimizer.param_groups))

    # --- evaluation ---------------------------------------------------------------------

    def on_validation_epoch_start(self) -> None:
        self._evaluation = ValidationTotals(self.device)
        self.quantum_trainer.begin_evaluation()

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        outputs, labels, terms = self.quantum_trainer.forward_step(batch, training=False)
        self._evaluation.add(outputs, labels, terms.total)

    def on_validation_epoch_end(self) -> None:
        """Logs ``val_loss``, ``val_accuracy``, ... as ``QuantumTrainer.validate`` computes them."""
        self._log_evaluation("val")

    on_test_epoch_start = on_validation_epoch_start
    test_step = validation_step

    def on_test_epoch_end(self) -> None:
        """Logs ``test_loss``, ``test_accuracy``, ..."""
        self._log_evaluation("test")

    def _log_evaluation(self, prefix: str) -> None:
        totals, reduce = self._evaluation, self.trainer.strategy.reduce
        totals.sums, totals.bins = reduce(totals.sums, reduce_op="sum"), reduce(totals.bins, reduce_op="sum")
        if self.trainer.world_size > 1:
            totals.detection = None  # the AUROCs need every rank's examples, as QuantumTrainer.validate
        self.log_dict({f"{prefix}_{name}": value for name, value in totals.result().items()})

    # --- checkpoints --------------------------------------------------------------------

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Adds the one thing Lightning does not save itself: the replay buffer."""
        checkpoint["qembed"] = {"replay_state": self.quantum_trainer.replay.state_dict()}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "qembed" not in checkpoint:
            raise ValueError("this checkpoint was not written by a QuantumLightningModule: it holds no 'qembed' "
                             "state (the replay buffer)")
        self._replay_state = checkpoint["qembed"]["replay_state"]
        self._restore_replay()

    def _restore_replay(self) -> None:
        if self._replay_state is not None and self._quantum_trainer is not None:
            self._quantum_trainer.replay.load_state_dict(self._replay_state)
            self._replay_state = None


def _reject_lightning_owned(config: QuantumTrainingConfig) -> None:
    defaults = QuantumTrainingConfig()
    owned = [key for key in LIGHTNING_EQUIVALENTS if getattr(config, key) != getattr(defaults, key)]
    if owned:
        uses = "; ".join(f"{key!r}: use {LIGHTNING_EQUIVALENTS[key]}" for key in owned)
        raise ConfigError(f"under Lightning, leave these quantum_training_config keys out, Lightning owns them: {uses}")
