"""qembed inside Hugging Face's own ``Trainer``.

- :class:`QuantumCallback` applies a superposition schedule at every optimizer step
  and adds the quantum metrics to every training log (so TensorBoard, W&B, ... get them).
- :func:`quantum_compute_loss` turns a qembed loss into HF's ``compute_loss_func``.
- :class:`QuantumHFTrainer` is ``Trainer`` with both wired in.

HF calls callbacks in order and its reporting callbacks come first, so a callback
added with ``callbacks=[...]`` sees a log only after they have written it:
:meth:`QuantumCallback.add_to` (and :class:`QuantumHFTrainer`) put it first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from transformers import Trainer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from qembed.integrations.hf.embeddings import QUANTUM_OUTPUT_KEYS, QuantumInputEmbeddings
from qembed.nn.collapse import collapse_aware_modules
from qembed.plugins import default_registry
from qembed.training.batches import as_output, token_count
from qembed.training.config import ConfigError, create_component
from qembed.training.loss_call import LossCall, with_uncertainty_penalty

#: What the quantum metrics are called in HF's logs.
METRIC_NAMES = {"uncertainty": "uncertainty", "predictive_entropy": "predictive_entropy",
                "sense_entropy": "sense_entropy", "superposition": "superposition_coherence"}


class QuantumCallback(TrainerCallback):
    """Sets the collapse probability ``schedule(step, max_steps)`` on every
    collapse-aware module before each optimizer step, and adds ``collapse_probability``,
    ``uncertainty``, ``predictive_entropy``, ``sense_entropy`` and
    ``superposition_coherence`` (means over the training forwards
    since the last log, every micro-batch of a gradient-accumulation window included,
    read from :class:`QuantumInputEmbeddings`) to each training log.

    ``schedule``: a registered schedule name or ``{"name": ..., **options}`` spec, or a
    schedule object. The measures stay on the device between logs (one read per log).
    """

    def __init__(self, schedule: Any = "linear") -> None:
        self.schedule = create_component(default_registry(), "schedule", "schedules", schedule)
        self.collapse_probability = 0.0
        self._modules: list[nn.Module] = []
        self._layers: list[QuantumInputEmbeddings] = []
        self._sums: Tensor | None = None  # per measure, summed over the forwards since the last log
        self._forwards = 0

    def add_to(self, trainer: Trainer) -> QuantumCallback:
        """Register with ``trainer`` ahead of its reporting callbacks; returns self."""
        trainer.callback_handler.callbacks.insert(0, self)
        return self

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       model: nn.Module | None = None, **kwargs: Any) -> None:
        self._modules = collapse_aware_modules(model) if model is not None else []
        if not self._modules:
            name = type(model).__name__ if model is not None else "None"
            raise ValueError(f"QuantumCallback: {name} has no collapse-aware module (a QuantumEmbeddings layer); "
                             "give it one with qembed.integrations.hf.with_quantum_embeddings(model)")
        self._layers = [m for m in model.modules() if isinstance(m, QuantumInputEmbeddings)]
        self._sums, self._forwards = None, 0

    def on_step_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                      **kwargs: Any) -> None:
        probability = self.schedule(state.global_step, max(state.max_steps, 1))
        for module in self._modules:
            module.set_collapse_probability(probability)
        self.collapse_probability = probability

    def on_substep_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                       **kwargs: Any) -> None:
        """After a micro-batch that does not end its gradient-accumulation window."""
        self._add_measures()

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    **kwargs: Any) -> None:
        """After the micro-batch that ends the window (before HF logs or evaluates)."""
        self._add_measures()

    def _add_measures(self) -> None:
        """Add the last training forward's measures to the sums (on the device, no sync)."""
        measures = [layer.last_measures for layer in self._layers if layer.last_measures]
        if not measures:
            return
        if any(key not in m for m in measures for key in QUANTUM_OUTPUT_KEYS):
            return  # a forward whose output had no logits: nothing complete to add
        means = torch.stack([torch.stack([m[key].float().mean() for key in QUANTUM_OUTPUT_KEYS]) for m in measures])
        self._sums = means.mean(0) if self._sums is None else self._sums + means.mean(0)
        self._forwards += 1

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
               logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        if logs is None or "loss" not in logs:  # evaluation and end-of-training summaries
            return
        quantum = {"collapse_probability": float(self.collapse_probability)}
        if self._sums is not None:
            means = (self._sums / self._forwards).tolist()
            quantum.update({METRIC_NAMES[key]: value for key, value in zip(QUANTUM_OUTPUT_KEYS, means)})
            self._sums, self._forwards = None, 0
        logs.update(quantum)
        if state.log_history and state.log_history[-1].get("step") == state.global_step:
            state.log_history[-1].update(quantum)


def quantum_compute_loss(loss_fn: Any = "quantum", uncertainty_regularization: float = 0.0
                         ) -> Callable[..., Tensor]:
    """A qembed loss (object, registered name or spec) as HF's ``compute_loss_func``:
    called with the model's output and the labels, it returns the total loss (task and
    quantum terms, plus ``uncertainty_regularization * mean(uncertainty)``).

    Given ``num_items_in_batch`` (the targets of the whole gradient-accumulation window,
    over every rank), it returns the batch's share, ``total * batch_targets /
    num_items_in_batch``, as HF's own losses do: HF then neither divides by
    ``gradient_accumulation_steps`` nor lets DDP's averaging shrink it, so the gradient
    is that of the window's mean loss."""
    loss = create_component(default_registry(), "loss_fn", "losses", loss_fn)
    if isinstance(uncertainty_regularization, bool) or not isinstance(uncertainty_regularization, (int, float)) \
            or uncertainty_regularization < 0:
        raise ConfigError(f"uncertainty_regularization must be a number >= 0, got {uncertainty_regularization!r}")
    call = LossCall(loss)
    if call.mc_samples > 1:
        raise ConfigError(f"loss_fn: {type(loss).__name__} draws {call.mc_samples} collapse samples per batch, "
                          "which HF's Trainer (one forward per step) cannot give; use QuantumTrainer")

    def compute_loss(outputs: Any, labels: Tensor, num_items_in_batch: Any = None) -> Tensor:
        outputs = as_output(outputs)
        if isinstance(loss, nn.Module):
            loss.to(outputs.logits.device)  # a no-op once there
        total = with_uncertainty_penalty(call(outputs, labels), outputs, uncertainty_regularization).total
        if num_items_in_batch is None:
            return total
        return total * token_count(labels, outputs.logits) / num_items_in_batch

    return compute_loss


class QuantumHFTrainer(Trainer):
    """HF ``Trainer`` with a qembed loss (``quantum_loss``: object, name or spec; HF's
    ``compute_loss_func`` when ``None``) and a :class:`QuantumCallback` for ``schedule``
    placed ahead of the reporting callbacks. Other arguments are ``Trainer``'s; with a
    ``quantum_loss``, ``TrainingArguments.label_smoothing_factor`` raises (HF skips its
    label smoother whenever a ``compute_loss_func`` is set)."""

    def __init__(self, *args: Any, quantum_loss: Any = "quantum", schedule: Any = "linear",
                 uncertainty_regularization: float = 0.0, **kwargs: Any) -> None:
        if quantum_loss is None and uncertainty_regularization:
            raise ValueError("uncertainty_regularization is applied by quantum_loss, which is None")
        if quantum_loss is not None:
            if kwargs.get("compute_loss_func") is not None:
                raise ValueError("give either quantum_loss or compute_loss_func, not both")
            training_args = kwargs.get("args", args[1] if len(args) > 1 else None)
            smoothing = getattr(training_args, "label_smoothing_factor", 0.0)
            if smoothing:
                raise ValueError(f"TrainingArguments.label_smoothing_factor={smoothing!r} is not applied to "
                                 "quantum_loss; smooth in the loss instead, e.g. {'name': 'quantum', "
                                 f"'base_loss': {{'name': 'cross_entropy', 'label_smoothing': {smoothing!r}}}}}")
            kwargs["compute_loss_func"] = quantum_compute_loss(quantum_loss, uncertainty_regularization)
        super().__init__(*args, **kwargs)
        self.quantum_callback = QuantumCallback(schedule).add_to(self)
