"""The TensorBoard logger: a first-party plugin on the trainer's lifecycle hooks.

This module, qembed's ``tensorboard`` entry point, gives every trainer built with a
``log_dir`` its own :class:`TensorBoardLogger` (``qembed_trainer_plugins``), registered
in that trainer's registry alone, as pytest registers its stateful plugins: the logger
holds that trainer's writer and no state is shared between trainers. Tags:

- ``train/<metric>`` every ``log_every_n_steps`` optimizer steps (loss, quantum_loss,
  uncertainty, sense_entropy, entanglement_strength, superposition_coherence, collapse_probability,
  lr, grad_norm...), at the global step;
- ``val/<metric>`` after every validation, at the global step;
- ``epoch/<metric>`` once per epoch, at the epoch number, with histograms
  ``epoch/sense_probabilities`` and ``epoch/pair_entanglement`` of the epoch's last
  training batch;
- hparams: the resolved config with the final metrics, in the same run.

The writer is flushed at every epoch end and closed when training ends. TensorBoard
itself is imported only when a trainer with a ``log_dir`` starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qembed import hookimpl
from qembed.training.batches import field


class TensorBoardLogger:
    """Writes one trainer's metrics to TensorBoard event files in its ``log_dir``; the
    main process only. ``writer`` is the open ``SummaryWriter`` while a run trains."""

    def __init__(self) -> None:
        self.writer: Any | None = None

    @hookimpl
    def qembed_on_train_start(self, trainer: Any) -> None:
        if trainer.log_dir is None or not trainer.is_main_process or self.writer is not None:
            return
        from torch.utils.tensorboard import SummaryWriter

        # a resumed run continues at global_step + 1: drop the points a crashed run wrote past its checkpoint
        purge_step = trainer.global_step + 1 if trainer.global_step else None
        self.writer = SummaryWriter(str(trainer.log_dir), purge_step=purge_step)

    @hookimpl
    def qembed_on_log(self, trainer: Any, step: int, metrics: Mapping[str, float]) -> None:
        if self.writer is not None:
            for name, value in metrics.items():
                self.writer.add_scalar(f"train/{name}", value, step)

    @hookimpl
    def qembed_on_validation_end(self, trainer: Any, epoch: int, metrics: Mapping[str, float]) -> None:
        if self.writer is not None:
            for name, value in metrics.items():
                self.writer.add_scalar(f"val/{name}", value, trainer.global_step)

    @hookimpl
    def qembed_on_epoch_end(self, trainer: Any, epoch: int, metrics: Mapping[str, float]) -> None:
        writer = self.writer
        if writer is None:
            return
        for name, value in metrics.items():
            if name != "epoch":
                writer.add_scalar(f"epoch/{name}", value, epoch)
        outputs = trainer.last_outputs
        probabilities = field(outputs, "sense_probabilities")
        if probabilities is not None:
            writer.add_histogram("epoch/sense_probabilities", probabilities.detach().float().flatten(), epoch)
        pairs, mask = field(outputs, "pair_entanglement"), field(outputs, "pair_mask")
        if pairs is not None and mask is not None and bool(mask.any()):
            writer.add_histogram("epoch/pair_entanglement", pairs.detach().float()[mask], epoch)
        writer.flush()

    @hookimpl
    def qembed_on_train_end(self, trainer: Any, history: Mapping[str, list]) -> None:
        writer, self.writer = self.writer, None
        if writer is None:
            return
        from torch.utils.tensorboard.summary import hparams

        config = {k: v if isinstance(v, (bool, int, float, str)) else str(v)
                  for k, v in trainer.config.to_dict().items()}
        final = {f"hparams/{k}": v[-1] for k, v in history.items()
                 if k != "epoch" and v and isinstance(v[-1], (int, float))}
        for summary in hparams(config, final):
            writer.file_writer.add_summary(summary)
        for name, value in final.items():
            writer.add_scalar(name, value, trainer.epoch)
        writer.close()


@hookimpl
def qembed_trainer_plugins(trainer: Any) -> list[TensorBoardLogger]:
    return [TensorBoardLogger()] if trainer.log_dir is not None else []
