"""Built-in replay strategies: ``none``, ``reservoir``, ``class_balanced`` and ``uncertainty``.

A replay strategy is a buffer of examples from earlier tasks that the trainer mixes
into later batches so that the model does not forget them. Its interface:

- ``add(batch, outputs=None)``: offer every example of a CPU batch (stored one by one,
  cloned, on the CPU); ``outputs`` is the model output for that batch.
- ``sample(n)``: a collated batch of ``min(n, len(buffer))`` stored examples drawn
  uniformly without replacement, or ``None`` when the buffer is empty or ``n == 0``.
- ``replay_size(batch_size)``: how many stored examples to mix into ``batch_size``
  fresh ones so that they make up ``replay_ratio`` of the mixed batch.
- ``len(buffer)``, ``capacity``, ``replay_ratio``; ``state_dict()`` (tensors and plain
  types only, loadable with ``torch.load(weights_only=True)``) and
  ``load_state_dict(state)``, after which ``add`` and ``sample`` behave exactly as
  they would have.

All randomness comes from the buffer's own ``torch.Generator`` (option ``seed``).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Mapping
from numbers import Real
from typing import Any

import torch
from torch import Tensor

from qembed import hookimpl
from qembed.arguments import check_int
from qembed.training.examples import collate_examples, split_examples

Example = dict[str, Tensor]


class NoReplay:
    """Replay nothing: the buffer stays empty (``quantum_memory_replay: False``)."""

    name = "none"
    capacity = 0
    replay_ratio = 0.0

    def __len__(self) -> int:
        return 0

    def add(self, batch: Mapping[str, Tensor], outputs: Any = None) -> None:
        """Keep nothing."""

    def sample(self, n: int) -> dict[str, Tensor] | None:
        """Always ``None``: there is nothing to replay."""
        check_int("n", n, minimum=0)
        return None

    def replay_size(self, batch_size: int) -> int:
        """Always 0."""
        check_int("batch_size", batch_size, minimum=0)
        return 0

    def state_dict(self) -> dict[str, Any]:
        return {"strategy": self.name}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        _check_strategy(self.name, state)


class ReplayBuffer:
    """Shared part of the built-in buffers: options, sampling and checkpointing.

    Subclasses keep their examples in ``self._stored()`` order (a list; its order is
    part of the state) and put their own counters in ``_extra_state`` /
    ``_load_extra_state``.
    """

    name = ""

    def __init__(self, capacity: int = 1000, replay_ratio: float = 0.25, seed: int = 0) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int):
            raise TypeError(f"capacity must be an integer >= 1, got {capacity!r}")
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if isinstance(replay_ratio, bool) or not isinstance(replay_ratio, Real):
            raise TypeError(f"replay_ratio must be a number in [0, 1), got {replay_ratio!r}")
        if not 0.0 <= float(replay_ratio) < 1.0:
            raise ValueError(f"replay_ratio must be in [0, 1), got {replay_ratio!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an integer, got {seed!r}")
        self.capacity = capacity
        self.replay_ratio = float(replay_ratio)
        self.generator = torch.Generator().manual_seed(seed)
        self.seen = 0  # examples offered so far

    def __len__(self) -> int:
        return len(self._stored())

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(capacity={self.capacity}, replay_ratio={self.replay_ratio}, "
                f"stored={len(self)}, seen={self.seen})")

    def _stored(self) -> list[Example]:
        raise NotImplementedError

    def sample(self, n: int) -> dict[str, Tensor] | None:
        """``min(n, len(self))`` stored examples drawn uniformly without replacement, collated."""
        check_int("n", n, minimum=0)
        stored = self._stored()
        if n == 0 or not stored:
            return None
        chosen = torch.randperm(len(stored), generator=self.generator)[:n].tolist()
        return collate_examples([stored[index] for index in chosen])

    def replay_size(self, batch_size: int) -> int:
        """Stored examples to mix into ``batch_size`` fresh ones, capped by ``len(self)``."""
        check_int("batch_size", batch_size, minimum=0)
        wanted = round(self.replay_ratio * batch_size / (1.0 - self.replay_ratio))
        return min(wanted, len(self))

    def state_dict(self) -> dict[str, Any]:
        """Stored examples, counters and generator state, as tensors and plain types."""
        return {
            "strategy": self.name,
            "capacity": self.capacity,
            "seen": self.seen,
            "generator": self.generator.get_state(),
            "examples": [dict(example) for example in self._stored()],
            **self._extra_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a ``state_dict()`` of a buffer of the same strategy and capacity."""
        _check_strategy(self.name, state)
        if state["capacity"] != self.capacity:
            raise ValueError(
                f"replay state has capacity {state['capacity']} but this {self.name!r} buffer has "
                f"capacity {self.capacity}; build it with the same capacity"
            )
        self.seen = int(state["seen"])
        self.generator.set_state(state["generator"])
        self._load_extra_state(state, [dict(example) for example in state["examples"]])

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: Mapping[str, Any], examples: list[Example]) -> None:
        raise NotImplementedError


class ReservoirReplay(ReplayBuffer):
    """Uniform reservoir sampling (Vitter's Algorithm R) over every example ever offered.

    After ``N`` offers each of them is in the buffer with probability ``capacity / N``.
    """

    name = "reservoir"

    def __init__(self, capacity: int = 1000, replay_ratio: float = 0.25, seed: int = 0) -> None:
        super().__init__(capacity, replay_ratio, seed)
        self._examples: list[Example] = []

    def _stored(self) -> list[Example]:
        return self._examples

    def add(self, batch: Mapping[str, Tensor], outputs: Any = None) -> None:
        """Offer every example of ``batch``; ``outputs`` is not used."""
        examples = _split_cpu(batch)
        free = min(self.capacity - len(self._examples), len(examples))
        self._examples.extend(_keep(example) for example in examples[:free])
        rest = examples[free:]
        if rest:
            # the k-th offer replaces a uniform slot j in [0, k) when j < capacity
            offers = torch.arange(self.seen + free + 1, self.seen + len(examples) + 1, dtype=torch.float64)
            draws = torch.rand(len(rest), generator=self.generator, dtype=torch.float64)
            slots = (draws * offers).long().tolist()
            for slot, example in zip(slots, rest):
                if slot < self.capacity:
                    self._examples[slot] = _keep(example)
        self.seen += len(examples)

    def _load_extra_state(self, state: Mapping[str, Any], examples: list[Example]) -> None:
        self._examples = examples


class ClassBalancedReplay(ReplayBuffer):
    """An equal share of the buffer per label, first in first out within a label.

    Examples are keyed by their scalar ``labels`` entry (token-level labels are not
    supported). When the buffer is full, a new example evicts the oldest example of the
    largest class (its own class when that is among the largest; otherwise, among
    equally large classes, the one holding the oldest example). So a class holds fewer
    than another's count minus one only when it has offered fewer examples.
    """

    name = "class_balanced"

    def __init__(self, capacity: int = 1000, replay_ratio: float = 0.25, seed: int = 0) -> None:
        super().__init__(capacity, replay_ratio, seed)
        self._classes: dict[int, deque[tuple[int, Example]]] = {}  # label -> (arrival, example), oldest first
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def _stored(self) -> list[Example]:
        return [example for label in sorted(self._classes) for _, example in self._classes[label]]

    def class_counts(self) -> dict[int, int]:
        """Stored examples per label."""
        return {label: len(queue) for label, queue in sorted(self._classes.items())}

    def add(self, batch: Mapping[str, Tensor], outputs: Any = None) -> None:
        """Offer every example of ``batch`` under its ``labels`` entry; ``outputs`` is not used."""
        examples = _split_cpu(batch)
        labels = batch.get("labels")
        if labels is None:
            raise ValueError(
                f"class_balanced replay needs a 'labels' entry in the batch, got keys {sorted(batch)}"
            )
        if labels.dtype.is_floating_point or labels.dtype.is_complex:
            raise ValueError(f"class_balanced replay needs integer class labels, got dtype {labels.dtype}")
        if labels.dim() != 1:
            raise ValueError(
                f"class_balanced replay needs one label per example (labels of shape [B]), got shape "
                f"{tuple(labels.shape)}; token-level labels are not supported: "
                "use 'reservoir' or 'uncertainty'"
            )
        for label, example in zip(labels.tolist(), examples):
            self._insert(int(label), _keep(example))

    def _insert(self, label: int, example: Example) -> None:
        queue = self._classes.setdefault(label, deque())
        if self._size == self.capacity:
            largest = max(len(other) for other in self._classes.values())
            victim = label if len(queue) == largest else min(
                (key for key, other in self._classes.items() if len(other) == largest),
                key=lambda key: self._classes[key][0][0],
            )
            self._classes[victim].popleft()
            if not self._classes[victim] and victim != label:
                del self._classes[victim]
            self._size -= 1
        self._size += 1
        queue.append((self.seen, example))
        self.seen += 1

    def _extra_state(self) -> dict[str, Any]:
        ordered = [(label, arrival) for label in sorted(self._classes) for arrival, _ in self._classes[label]]
        return {"labels": [label for label, _ in ordered], "arrivals": [arrival for _, arrival in ordered]}

    def _load_extra_state(self, state: Mapping[str, Any], examples: list[Example]) -> None:
        self._classes = {}
        for label, arrival, example in zip(state["labels"], state["arrivals"], examples, strict=True):
            self._classes.setdefault(int(label), deque()).append((int(arrival), example))
        self._size = len(examples)


class UncertaintyReplay(ReplayBuffer):
    """Keep the ``capacity`` examples with the highest model uncertainty seen so far.

    The model's least sure examples ("quantum memory"); of equally uncertain ones the
    newer is kept. ``add`` needs the model output for the batch and reads its per-example
    ``uncertainty`` (``[B]``), copying it to the CPU: the one built-in strategy that
    reads a device value (one sync per ``add``).
    """

    name = "uncertainty"

    def __init__(self, capacity: int = 1000, replay_ratio: float = 0.25, seed: int = 0) -> None:
        super().__init__(capacity, replay_ratio, seed)
        self._heap: list[tuple[float, int, Example]] = []  # min-heap of (uncertainty, arrival, example)

    def __len__(self) -> int:
        return len(self._heap)

    def _stored(self) -> list[Example]:
        return [example for _, _, example in self._heap]

    def add(self, batch: Mapping[str, Tensor], outputs: Any = None) -> None:
        """Offer every example of ``batch``, ranked by ``outputs.uncertainty``."""
        examples = _split_cpu(batch)
        if isinstance(outputs, Mapping):
            uncertainty = outputs.get("uncertainty")
        else:
            uncertainty = getattr(outputs, "uncertainty", None)
        if not isinstance(uncertainty, Tensor):
            raise ValueError(
                "uncertainty replay needs the model output with a per-example 'uncertainty' tensor: call "
                f"add(batch, outputs) with outputs.uncertainty of shape [{len(examples)}], got "
                f"{type(outputs).__name__} without one"
            )
        scores = uncertainty.detach().float().cpu()
        if scores.shape != (len(examples),):
            raise ValueError(
                f"outputs.uncertainty must have shape [{len(examples)}] (one value per example), "
                f"got {tuple(scores.shape)}"
            )
        if not bool(torch.isfinite(scores).all()):
            raise ValueError(f"outputs.uncertainty must be finite, got {scores.tolist()}")
        for score, example in zip(scores.tolist(), examples):
            arrival, self.seen = self.seen, self.seen + 1
            if len(self._heap) < self.capacity:
                heapq.heappush(self._heap, (score, arrival, _keep(example)))
            elif (score, arrival) > self._heap[0][:2]:  # a later arrival wins a tie
                heapq.heapreplace(self._heap, (score, arrival, _keep(example)))

    def _extra_state(self) -> dict[str, Any]:
        return {"uncertainties": [score for score, _, _ in self._heap],
                "arrivals": [arrival for _, arrival, _ in self._heap]}

    def _load_extra_state(self, state: Mapping[str, Any], examples: list[Example]) -> None:
        self._heap = [(float(score), int(arrival), example) for score, arrival, example
                      in zip(state["uncertainties"], state["arrivals"], examples, strict=True)]


def _split_cpu(batch: Mapping[str, Tensor]) -> list[Example]:
    for key, value in batch.items():
        if isinstance(value, Tensor) and value.device.type != "cpu":
            raise ValueError(
                f"replay buffers take CPU batches, but batch[{key!r}] is on {value.device}; "
                "offer the batch as the loader gave it"
            )
    return split_examples(batch)


def _keep(example: Example) -> Example:
    """A copy owning its memory, so the buffer never keeps a whole batch alive."""
    return {key: value.clone() for key, value in example.items()}


def _check_strategy(name: str, state: Mapping[str, Any]) -> None:
    if state.get("strategy") != name:
        raise ValueError(f"replay state is for strategy {state.get('strategy')!r}, not {name!r}")


@hookimpl
def qembed_register_replay() -> dict[str, Callable[..., object]]:
    return {
        "none": NoReplay,
        "reservoir": ReservoirReplay,
        "class_balanced": ClassBalancedReplay,
        "uncertainty": UncertaintyReplay,
    }
