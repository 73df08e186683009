"""From a loader's batch to the model's arguments, and from the model's return
value to an output with ``logits``.

Batches are dicts (``input_ids``, ``attention_mask``, ``labels``, ...) or
``(inputs, labels)`` pairs. Dict keys that the model's ``forward`` does not take
(``sense_ids`` for scoring, say) are left out, as the Hugging Face Trainer does;
``labels`` go to the loss, not to the model.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import torch
from torch import Tensor, nn

from qembed.nn.output import QuantumOutput

ENTANGLEMENT_FIELDS = ("entanglement", "pair_entanglement", "pair_mask")


class BadBatchError(ValueError):
    """A batch the trainer cannot use, with what it holds named."""


def original_module(model: nn.Module) -> nn.Module:
    """The module a ``torch.compile`` wrapper compiles (``model`` itself when it is none)."""
    inner = getattr(model, "_orig_mod", None)
    return inner if isinstance(model, torch._dynamo.eval_frame.OptimizedModule) and isinstance(inner, nn.Module) \
        else model


class ModelCall:
    """Calls a model with the parts of a batch its ``forward`` accepts. ``labels_required``:
    a dict batch without ``labels`` raises (training, evaluation), or gives ``None`` labels
    (prediction)."""

    def __init__(self, model: nn.Module, *, pass_labels: bool, labels_required: bool = True) -> None:
        # a torch.compile wrapper's forward takes (*args, **kwargs): read the module it compiles
        parameters = inspect.signature(original_module(model).forward).parameters
        self.accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        self.accepted = frozenset(parameters)
        self.pass_labels = pass_labels and ("labels" in self.accepted or self.accepts_any)
        self.labels_required = labels_required

    def split(self, batch: Any) -> tuple[tuple[Any, ...], dict[str, Any], Any]:
        """``(args, kwargs, labels)`` for one batch."""
        if isinstance(batch, Mapping):
            if "labels" not in batch and self.labels_required:
                raise BadBatchError(
                    f"a training batch needs 'labels'; this one has keys {sorted(map(str, batch))}"
                )
            kwargs = {
                key: value for key, value in batch.items()
                if key != "labels" and (self.accepts_any or key in self.accepted)
            }
            if self.pass_labels:
                kwargs["labels"] = batch["labels"]
            return (), kwargs, batch.get("labels")
        if isinstance(batch, (tuple, list)) and len(batch) == 2:
            inputs, labels = batch
            if isinstance(inputs, Mapping):
                return (), dict(inputs), labels
            return (inputs,), {}, labels
        raise BadBatchError(
            "a batch must be a dict with 'labels' or an (inputs, labels) pair, "
            f"got {type(batch).__name__}"
        )


def as_output(raw: Any) -> Any:
    """The model's return value as an object with ``logits`` (and whatever else it has)."""
    if isinstance(raw, Tensor):
        return QuantumOutput(logits=raw)
    if isinstance(raw, Mapping) and not hasattr(raw, "logits"):
        if "logits" not in raw:
            raise BadBatchError(f"the model's output has no 'logits'; it has keys {sorted(map(str, raw))}")
        return SimpleNamespace(**raw)
    if getattr(raw, "logits", None) is None:
        raise BadBatchError(
            f"the model's output ({type(raw).__name__}) has no 'logits'; return a qembed.nn.QuantumOutput, "
            "a dict or an object with a 'logits' field"
        )
    return raw


def field(outputs: Any, name: str) -> Tensor | None:
    """A field of a model output, ``None`` when absent: an attribute, or a mapping's key;
    a bare tensor is the logits. The one reader of outputs for the trainer and the losses."""
    if isinstance(outputs, Tensor):
        return outputs if name == "logits" else None
    if isinstance(outputs, Mapping):
        return outputs.get(name)
    return getattr(outputs, name, None)


def replace_fields(outputs: Any, **changes: Any) -> Any:
    """A copy of the output with some fields changed; the model's object is left as is
    (a dataclass such as ``QuantumOutput`` that has every changed field is copied with
    ``dataclasses.replace``; any other output, a Transformers output that gained keys from a
    hook included, becomes a namespace of its public attributes)."""
    if dataclasses.is_dataclass(outputs) and not isinstance(outputs, type) and set(changes) <= {f.name for f in dataclasses.fields(outputs)}:
        return dataclasses.replace(outputs, **changes)
    fields = {k: getattr(outputs, k) for k in dir(outputs) if not k.startswith("_")}
    return SimpleNamespace(**{**fields, **changes})


def without_entanglement(outputs: Any) -> Any:
    """The same output with its entanglement fields removed, so losses drop their
    entanglement terms (``entanglement_training=False``); an output without them is
    returned as it is."""
    if all(field(outputs, name) is None for name in ENTANGLEMENT_FIELDS):
        return outputs
    return replace_fields(outputs, **{name: None for name in ENTANGLEMENT_FIELDS})


def first_examples(outputs: Any, count: int, total: int) -> Any:
    """The output restricted to its first ``count`` examples: every tensor field whose
    leading dimension is ``total`` is sliced (for a batch that was repeated)."""
    names = ([f.name for f in dataclasses.fields(outputs)] if dataclasses.is_dataclass(outputs)
             else [k for k in dir(outputs) if not k.startswith("_")])
    changes = {}
    for name in names:
        value = getattr(outputs, name)
        if isinstance(value, Tensor) and value.dim() and value.shape[0] == total:
            changes[name] = value[:count]
    return replace_fields(outputs, **changes)


def with_sample_logits(outputs: Any, samples: Tensor) -> Any:
    """The output with ``sample_logits`` ``[S, ...]`` attached."""
    return replace_fields(outputs, sample_logits=samples)


def token_count(labels: Tensor, logits: Tensor) -> Tensor | int:
    """How many targets a mean-reduced loss averages over: the batch size, or the
    non-ignored (``!= -100``) tokens of token-level labels (a tensor: no sync)."""
    if labels.dim() >= 2 and logits.dim() == labels.dim() + 1:
        return (labels != -100).sum()
    return labels.shape[0]


def flatten_token_level(logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """``[B, T, C]`` logits with ``[B, T]`` labels become ``[B*T, C]`` and ``[B*T]``."""
    if labels.dim() >= 2 and logits.dim() == labels.dim() + 1:
        return logits.flatten(0, -2), labels.flatten()
    return logits, labels

