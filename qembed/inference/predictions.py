"""``predict_batches``: what a model predicts for each example of some batches, with the
padding removed, on the CPU (the one place a prediction's tensors leave the device)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import attrs
import torch
from torch import Tensor, nn

from qembed.nn.measures import masked_mean, predictive_entropy, sense_entropy
from qembed.training.batches import BadBatchError, ModelCall, as_output, field
from qembed.training.devices import to_device


@attrs.frozen
class Predictions:
    """Per example, unpadded (``T_i`` its real tokens), CPU tensors:

    - ``input_ids``: ``[T_i]`` each;
    - ``probabilities``: ``[N, C]`` for a sequence classifier, or ``[T_i, C]`` each for
      token-level logits (a masked LM);
    - ``uncertainty``: ``[N]``, the model's predictive uncertainty (normalised entropy, in [0, 1]);
    - ``sense_probabilities``: ``[T_i, K]`` each, every token's sense distribution in
      context, and ``sense_entropy``: ``[T_i]`` each, its ``H(p) / log K`` in [0, 1]
      (both ``None`` for a model without senses);
    - ``labels``: the batches' labels (``[N]``, or ``[T_i]`` each for token-level labels),
      ``None`` when the batches had none.
    """

    input_ids: list[Tensor]
    probabilities: Tensor | list[Tensor]
    uncertainty: Tensor
    sense_probabilities: list[Tensor] | None
    sense_entropy: list[Tensor] | None
    labels: Tensor | list[Tensor] | None

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def token_level(self) -> bool:
        """Whether the model predicts per token (``probabilities`` is a list)."""
        return isinstance(self.probabilities, list)

    @property
    def predicted(self) -> Tensor | list[Tensor]:
        """The most probable class: ``[N]``, or ``[T_i]`` each for token-level predictions."""
        if isinstance(self.probabilities, list):
            return [probabilities.argmax(-1) for probabilities in self.probabilities]
        return self.probabilities.argmax(-1)


def predict_batches(
    model: nn.Module,
    batches: Iterable[Any],
    *,
    device: torch.device | str,
    autocast: Callable[[], AbstractContextManager[Any]] = nullcontext,
) -> Predictions:
    """Run ``model`` in eval mode without gradients on every batch (moved to ``device``,
    the forward under ``autocast()``) and gather its predictions per example.

    A batch is a dict with ``input_ids`` ``[B, T]`` (and ``attention_mask`` when padded;
    ``labels`` optional and kept; other keys reach ``forward`` when it takes them) or an
    ``(inputs, labels)`` pair. Padding is removed with the attention mask (the batch's,
    else the one the model returns, else none). The model's training mode is restored.
    """
    call = ModelCall(model, pass_labels=False, labels_required=False)
    device = torch.device(device)
    parts: list[Predictions] = []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for batch in batches:
                parts.append(_predict_batch(model, call, to_device(batch, device), autocast))
    finally:
        model.train(was_training)
    if not parts:
        raise ValueError("the batches are empty: there is nothing to predict")
    return _joined(parts)


def _predict_batch(model: nn.Module, call: ModelCall, batch: Any,
                   autocast: Callable[[], AbstractContextManager[Any]]) -> Predictions:
    args, kwargs, labels = call.split(batch)
    named: Mapping[str, Any] = batch if isinstance(batch, Mapping) else kwargs
    input_ids = named.get("input_ids", args[0] if args else None)
    if not isinstance(input_ids, Tensor) or input_ids.dim() != 2:
        raise BadBatchError(f"prediction needs each batch's input_ids as a [B, T] tensor, got {_described(input_ids)}")
    with autocast():
        outputs = as_output(model(*args, **kwargs))
    mask = named.get("attention_mask")
    if mask is None:
        mask = field(outputs, "attention_mask")
    mask = torch.ones_like(input_ids, dtype=torch.bool) if mask is None else mask.bool()
    logits = outputs.logits.float()
    token_level = logits.dim() == 3
    _check_shape("logits", logits, input_ids.shape if token_level else input_ids.shape[:1])
    uncertainty = field(outputs, "uncertainty")
    if uncertainty is None:
        entropy = predictive_entropy(logits)
        uncertainty = masked_mean(entropy, mask) if token_level else entropy
    senses = field(outputs, "sense_probabilities")
    if senses is not None:
        _check_shape("sense_probabilities", senses, input_ids.shape)
        senses = senses.float()
    # to the CPU, then unpadded there: one transfer per tensor
    rows = mask.cpu().unbind(0)

    def unpadded(values: Tensor) -> list[Tensor]:
        return [row_values[row] for row_values, row in zip(values.cpu().unbind(0), rows, strict=True)]

    probabilities = logits.softmax(-1)
    return Predictions(
        input_ids=unpadded(input_ids),
        probabilities=unpadded(probabilities) if token_level else probabilities.cpu(),
        uncertainty=uncertainty.detach().float().cpu(),
        sense_probabilities=unpadded(senses) if senses is not None else None,
        sense_entropy=unpadded(sense_entropy(senses)) if senses is not None else None,
        labels=None if labels is None else unpadded(labels) if labels.dim() == 2 else labels.cpu(),
    )


def _check_shape(name: str, values: Tensor, leading: torch.Size) -> None:
    if values.shape[: len(leading)] != leading:
        raise BadBatchError(f"the model's {name} have shape {tuple(values.shape)}, which does not start with "
                            f"{tuple(leading)} as the batch's input_ids {'[B, T]' if len(leading) == 2 else '[B]'} "
                            "need")


def _described(value: Any) -> str:
    return f"a tensor of shape {tuple(value.shape)}" if isinstance(value, Tensor) else repr(type(value).__name__)


def _joined(parts: list[Predictions]) -> Predictions:
    """One :class:`Predictions` of every batch's, in order."""

    def each(name: str) -> list[Any]:
        return [getattr(part, name) for part in parts]

    def joined(name: str) -> Any:
        values = each(name)
        if all(value is None for value in values):
            return None
        if any(value is None for value in values):
            raise BadBatchError(f"some batches gave {name} and some did not; give every batch the same keys")
        if all(isinstance(value, list) for value in values):
            return [item for value in values for item in value]
        if all(isinstance(value, Tensor) for value in values):
            return torch.cat(values)
        raise BadBatchError(f"some batches gave per-token {name} and some per-example ones")

    return Predictions(**{attribute.name: joined(attribute.name) for attribute in attrs.fields(Predictions)})
