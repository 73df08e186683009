"""Built-in losses: ``quantum``, ``uncertainty``, ``entanglement`` and ``cross_entropy``.

Each quantum loss is an ``nn.Module`` called as ``loss(outputs, labels)`` with the
model output (a ``QuantumOutput``, a mapping, or any object with ``logits``). It
returns ``task + quantum``: the base (task) loss on the logits flattened to
``[N, C]`` / ``[N]``, plus a weighted sum of quantum terms, each in [0, 1].
``loss_terms`` reports the parts as :class:`~qembed.training.loss_terms.LossTerms`.
A term whose output field is missing (``None``) is dropped. Everything is
computed in float32, so bf16/fp16 autocast cannot turn small probabilities into
NaN. The terms are defined in ``docs/training/losses.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from qembed import hookimpl, plugins
from qembed.arguments import check_int, check_number, check_probability, quoted
from qembed.nn.entanglement import pair_summary
from qembed.nn.measures import masked_mean, predictive_entropy
from qembed.plugins.errors import did_you_mean
from qembed.training.batches import field
from qembed.training.loss_terms import LossTerms

IGNORE_INDEX = -100  # label of a position that no loss term sees
UNCERTAINTY_TYPES = ("entropy", "variance", "mutual_information")
ENTANGLEMENT_TYPES = ("bell_state", "product", "target")

#: ``None`` (cross-entropy), a loss module or callable, or a registered name / spec.
BaseLossSpec = Callable[[Tensor, Tensor], Tensor] | str | Mapping[str, Any] | None


# --- option checks ---------------------------------------------------------------


def _weight(name: str, value: float) -> float:
    return float(check_number(name, value, minimum=0, finite=True))


def _choice(name: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        accepted = ", ".join(repr(c) for c in choices)
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        raise ValueError(f"{name} must be one of {accepted}, got {value!r}{hint}")
    return value


def _target(value: float | None) -> float:
    try:
        return check_probability("target", value, open_low=False, open_high=False)
    except TypeError:
        raise TypeError(
            f"entanglement_type='target' needs target, a number in [0, 1], got {quoted(value)}") from None


def _base_loss(spec: BaseLossSpec) -> Callable[[Tensor, Tensor], Tensor]:
    """``None`` -> cross-entropy ignoring -100; a name or spec -> the registered loss."""
    if spec is None:
        return nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX)
    if isinstance(spec, (str, Mapping)):
        try:
            spec = plugins.current_registry().create("losses", spec)
        except plugins.PluginError as err:
            raise ValueError(f"base_loss: {err}") from err
    if not callable(spec):
        raise TypeError(
            "base_loss must be None, a loss module, a registered loss name or a "
            f"{{'name': ..., **options}} spec, got {spec!r}"
        )
    return spec


# --- reading the model output ----------------------------------------------------


def _flat_logits_and_labels(outputs: Any, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Float32 logits ``[N, C]`` and labels ``[N]`` (class- or token-level)."""
    logits = field(outputs, "logits")
    if logits is None:
        raise ValueError(f"the model output has no logits: {type(outputs).__name__}")
    if labels.shape != logits.shape[:-1]:
        raise ValueError(
            f"labels of shape {tuple(labels.shape)} do not match logits of shape "
            f"{tuple(logits.shape)}: expected {tuple(logits.shape[:-1])}"
        )
    return logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1)


class _EntanglementValues(NamedTuple):
    """Entanglement values, flattened, and how many pairs each stands for: ``weights``
    is the real-pair mask (``None``: every value counts once) or, for the per-token
    summary of a memory-efficient layer, each token's number of partners, with
    ``squares`` the mean square over those pairs (``None``: the values stand for one
    pair each)."""

    values: Tensor
    weights: Tensor | None
    squares: Tensor | None = None

    def mean(self) -> Tensor:
        """The mean over pairs: exactly dense mode's for a memory-efficient summary."""
        return _weighted_mean(self.values, self.weights)

    def mean_squared_distance(self, target: float) -> Tensor:
        """The mean over pairs of ``(E - target)^2``."""
        if self.squares is None:
            return _weighted_mean((self.values - target).square(), self.weights)
        per_token = (self.squares - 2.0 * target * self.values + target * target).clamp_min(0.0)
        return _weighted_mean(per_token, self.weights)


def _weighted_mean(values: Tensor, weights: Tensor | None) -> Tensor:
    """``masked_mean`` for a mask; for counts, the count-weighted mean (0 with none)."""
    if weights is None or weights.dtype == torch.bool:
        return masked_mean(values, weights)
    weights = weights.float()
    total = torch.where(weights > 0, values * weights, torch.zeros_like(values)).sum()
    return total / weights.sum().clamp_min(1)


def _entanglement_values(outputs: Any) -> _EntanglementValues | None:
    """Per-pair entanglement and its real-pair mask, flattened (a memory-efficient
    layer's per-token summary, weighted by each token's number of partners); else the
    per-example ``entanglement`` (no mask); ``None`` when the output has neither."""
    pairs = field(outputs, "pair_entanglement")
    if pairs is not None:
        mask = field(outputs, "pair_mask")
        attention = field(outputs, "attention_mask")
        summary = None if mask is None or attention is None else pair_summary(pairs, mask, attention.shape[-1])
        if summary is not None:
            means, squares, counts = summary
            return _EntanglementValues(means.float().reshape(-1), counts.reshape(-1), squares.float().reshape(-1))
        return _EntanglementValues(pairs.float().reshape(-1), None if mask is None else mask.reshape(-1))
    per_example = field(outputs, "entanglement")
    if per_example is not None:
        return _EntanglementValues(per_example.float().reshape(-1), None)
    return None


def _field_mean(outputs: Any, name: str) -> Tensor | None:
    value = field(outputs, name)
    return None if value is None else value.float().mean()


# --- predictive uncertainty --------------------------------------------------------


def _entropy_of_log_probabilities(log_p: Tensor) -> Tensor:
    """``-sum p log p`` from ``log p`` (finite value and gradient where ``p`` is 0)."""
    return -(log_p.exp() * log_p).sum(-1)


def _gini_uncertainty(logits: Tensor) -> Tensor:
    """``(1 - sum_c p_c^2) / (1 - 1/C)`` of ``softmax(logits)``, in [0, 1]."""
    num_classes = logits.shape[-1]
    if num_classes < 2:
        return logits.new_zeros(logits.shape[:-1])
    p = logits.softmax(-1)
    return ((1.0 - p.square().sum(-1)) / (1.0 - 1.0 / num_classes)).clamp(0.0, 1.0)


def _mutual_information(sample_logits: Tensor) -> Tensor:
    """BALD over S samples ``[S, N, C]``: ``(H(mean_s p_s) - mean_s H(p_s)) / log C``."""
    num_samples, num_classes = sample_logits.shape[0], sample_logits.shape[-1]
    if num_classes < 2:
        return sample_logits.new_zeros(sample_logits.shape[1:-1])
    log_p = sample_logits.log_softmax(-1)
    log_mean_p = torch.logsumexp(log_p, dim=0) - math.log(num_samples)
    disagreement = _entropy_of_log_probabilities(log_mean_p) - _entropy_of_log_probabilities(log_p).mean(0)
    return (disagreement / math.log(num_classes)).clamp(0.0, 1.0)


# --- the losses --------------------------------------------------------------------


class _RegularizedLoss(nn.Module):
    """Task loss plus weighted quantum terms; subclasses define the terms.

    ``mc_samples`` is how many collapse samples the loss needs in
    ``outputs.sample_logits`` (0: none).
    """

    mc_samples: int = 0

    def __init__(self, base_loss: BaseLossSpec) -> None:
        super().__init__()
        self.base_loss = _base_loss(base_loss)

    def term_weights(self) -> dict[str, float]:
        """Weight of each quantum term, by term name."""
        raise NotImplementedError

    def _term(self, name: str, outputs: Any, logits: Tensor, labels: Tensor) -> Tensor | None:
        """Unweighted term ``name`` in [0, 1], or ``None`` when its field is missing."""
        raise NotImplementedError

    def quantum_terms(self, outputs: Any, labels: Tensor) -> dict[str, Tensor]:
        """The unweighted quantum terms (scalars in [0, 1]) whose fields are present."""
        logits, labels = _flat_logits_and_labels(outputs, labels)
        terms = {name: self._term(name, outputs, logits, labels) for name in self.term_weights()}
        return {name: term for name, term in terms.items() if term is not None}

    def loss_terms(self, outputs: Any, labels: Tensor) -> LossTerms:
        """``LossTerms(total=task + quantum, task, quantum)``; terms of weight 0 are skipped."""
        logits, flat_labels = _flat_logits_and_labels(outputs, labels)
        task = self.base_loss(logits, flat_labels)
        if task.dim() != 0:
            raise ValueError(f"base_loss must return a scalar, got shape {tuple(task.shape)}")
        quantum = logits.new_zeros(())
        for name, weight in self.term_weights().items():
            term = self._term(name, outputs, logits, flat_labels) if weight > 0 else None
            if term is not None:
                quantum = quantum + weight * term
        return LossTerms(task + quantum, task, quantum)

    def forward(self, outputs: Any, labels: Tensor) -> Tensor:
        return self.loss_terms(outputs, labels).total

    def extra_repr(self) -> str:
        return ", ".join(f"{name}_weight={weight}" for name, weight in self.term_weights().items())


class QuantumLoss(_RegularizedLoss):
    """Task loss regularised by the model's own quantum measures.

    ``uncertainty_weight * mean(uncertainty)`` sharpens predictions (the model's
    predictive uncertainty);
    ``entanglement_weight * E`` (mean entanglement over real pairs) keeps coupling
    sparse; ``superposition_weight * mean(superposition)`` penalises coherence.
    """

    def __init__(
        self,
        base_loss: BaseLossSpec = None,
        uncertainty_weight: float = 0.1,
        entanglement_weight: float = 0.05,
        superposition_weight: float = 0.0,
    ) -> None:
        super().__init__(base_loss)
        self.uncertainty_weight = _weight("uncertainty_weight", uncertainty_weight)
        self.entanglement_weight = _weight("entanglement_weight", entanglement_weight)
        self.superposition_weight = _weight("superposition_weight", superposition_weight)

    def term_weights(self) -> dict[str, float]:
        return {
            "uncertainty": self.uncertainty_weight,
            "entanglement": self.entanglement_weight,
            "superposition": self.superposition_weight,
        }

    def _term(self, name: str, outputs: Any, logits: Tensor, labels: Tensor) -> Tensor | None:
        if name == "entanglement":
            values = _entanglement_values(outputs)
            return None if values is None else values.mean()
        return _field_mean(outputs, name)


class UncertaintyLoss(_RegularizedLoss):
    """Task loss plus the predictive uncertainty of the model's softmax.

    ``uncertainty_type``: ``"entropy"`` (normalised entropy), ``"variance"``
    (normalised Gini impurity) or ``"mutual_information"`` (disagreement between
    ``mc_samples`` collapse samples (default 4), read from ``outputs.sample_logits``). Positions
    labelled -100 are ignored.
    """

    def __init__(
        self,
        base_loss: BaseLossSpec = None,
        uncertainty_weight: float = 0.1,
        uncertainty_type: str = "entropy",
        mc_samples: int | None = None,
    ) -> None:
        super().__init__(base_loss)
        self.uncertainty_weight = _weight("uncertainty_weight", uncertainty_weight)
        self.uncertainty_type = _choice("uncertainty_type", uncertainty_type, UNCERTAINTY_TYPES)
        if uncertainty_type != "mutual_information" and mc_samples is not None:
            raise ValueError(
                f"mc_samples applies only to uncertainty_type='mutual_information', not {uncertainty_type!r}"
            )
        self.mc_samples = check_int("mc_samples", 4 if mc_samples is None else mc_samples, minimum=2) if (
            uncertainty_type == "mutual_information") else 0

    def term_weights(self) -> dict[str, float]:
        return {"uncertainty": self.uncertainty_weight}

    def _term(self, name: str, outputs: Any, logits: Tensor, labels: Tensor) -> Tensor | None:
        real = labels != IGNORE_INDEX
        if self.uncertainty_type == "entropy":
            return masked_mean(predictive_entropy(logits), real)
        if self.uncertainty_type == "variance":
            return masked_mean(_gini_uncertainty(logits), real)
        samples = field(outputs, "sample_logits")
        if samples is None:
            return None
        logits_shape = field(outputs, "logits").shape
        if samples.shape[1:] != logits_shape:
            raise ValueError(
                f"sample_logits must have shape [S, {', '.join(map(str, logits_shape))}], "
                f"got {list(samples.shape)}"
            )
        samples = samples.float().reshape(samples.shape[0], *logits.shape)
        return masked_mean(_mutual_information(samples), real)

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, uncertainty_type={self.uncertainty_type!r}, "
                f"mc_samples={self.mc_samples}")


class EntanglementLoss(_RegularizedLoss):
    """Task loss plus a pull on the entanglement of every real token pair.

    ``entanglement_type``: ``"bell_state"`` (towards maximal entanglement, term
    ``mean(1 - E)``), ``"product"`` (towards product states, ``mean(E)``) or
    ``"target"`` (towards ``target``, ``mean((E - target)^2)``).
    """

    def __init__(
        self,
        base_loss: BaseLossSpec = None,
        entanglement_weight: float = 0.1,
        entanglement_type: str = "bell_state",
        target: float | None = None,
    ) -> None:
        super().__init__(base_loss)
        self.entanglement_weight = _weight("entanglement_weight", entanglement_weight)
        self.entanglement_type = _choice("entanglement_type", entanglement_type, ENTANGLEMENT_TYPES)
        if entanglement_type != "target" and target is not None:
            raise ValueError(
                f"target is only used with entanglement_type='target', got "
                f"entanglement_type={entanglement_type!r} and target={target!r}"
            )
        self.target = _target(target) if entanglement_type == "target" else None

    def term_weights(self) -> dict[str, float]:
        return {"entanglement": self.entanglement_weight}

    def _term(self, name: str, outputs: Any, logits: Tensor, labels: Tensor) -> Tensor | None:
        values = _entanglement_values(outputs)
        if values is None:
            return None
        if self.entanglement_type == "bell_state":
            return _weighted_mean(1.0 - values.values, values.weights)
        if self.entanglement_type == "product":
            return values.mean()
        return values.mean_squared_distance(self.target)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, entanglement_type={self.entanglement_type!r}, target={self.target}"


@hookimpl
def qembed_register_losses() -> dict[str, Callable[..., nn.Module]]:
    return {
        "cross_entropy": torch.nn.CrossEntropyLoss,
        "quantum": QuantumLoss,
        "uncertainty": UncertaintyLoss,
        "entanglement": EntanglementLoss,
    }
