"""Contract check for replay strategies."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import Tensor

from qembed.nn import QuantumOutput
from qembed.plugins.contracts import ReplayStrategy
from qembed.testing.members import assert_members
from qembed.training.examples import batch_size, split_examples

NUM_LABELS = 4
VOCAB_SIZE = 50
PLAIN_TYPES = (bool, int, float, str, type(None))


@st.composite
def replay_batches(draw: st.DrawFn) -> tuple[dict[str, Tensor], QuantumOutput]:
    """A padded CPU batch of sentence-labelled examples and a model output with a random ``uncertainty``."""
    lengths = draw(st.lists(st.integers(1, 6), min_size=1, max_size=6), label="lengths")
    size, length = len(lengths), max(lengths)
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**32 - 1), label="token_seed"))
    mask = (torch.arange(length) < torch.tensor(lengths).unsqueeze(1)).long()
    input_ids = torch.randint(1, VOCAB_SIZE, (size, length), generator=generator) * mask
    sense_ids = torch.where(mask.bool(), torch.randint(0, 3, (size, length), generator=generator), -100)
    labels = draw(st.lists(st.integers(0, NUM_LABELS - 1), min_size=size, max_size=size), label="labels")
    scores = draw(st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0]) | st.floats(0.0, 1.0),
                           min_size=size, max_size=size), label="uncertainty")
    batch = {"input_ids": input_ids, "attention_mask": mask, "labels": torch.tensor(labels),
             "sense_ids": sense_ids}
    outputs = QuantumOutput(logits=torch.zeros(size, NUM_LABELS), uncertainty=torch.tensor(scores))
    return batch, outputs


def example_key(example: Mapping[str, Tensor]) -> tuple:
    """A hashable identity of one (trimmed) example: its keys, dtypes, shapes and values."""
    return tuple(sorted((key, str(value.dtype), tuple(value.shape), tuple(value.flatten().tolist()))
                        for key, value in example.items()))


def check_replay(factory: Callable[..., Any], /, *, max_examples: int = 50, **options: Any) -> None:
    """Check that ``factory(**options)`` builds a replay strategy honouring the contract
    (:class:`qembed.plugins.contracts.ReplayStrategy`).

    Over generated sequences of padded batches (random sizes, lengths and labels, each
    offered with a model output carrying a random per-example ``uncertainty``): ``len``
    never exceeds ``capacity``; ``replay_size(b)`` is in ``[0, len]``; ``sample(n)``
    returns ``None`` exactly when ``n == 0`` or the buffer is empty and otherwise
    ``min(n, len)`` examples with the batch's keys, each equal to an example that was
    added (padding aside); ``state_dict()`` holds only tensors and plain Python types
    and survives ``torch.save`` + ``torch.load(weights_only=True)``; a strategy
    restored from it samples and adds exactly as the original does. Raises
    ``AssertionError`` with the failing input.
    """
    label = f"{getattr(factory, '__name__', factory)!s}(**{options!r})"
    assert_members(factory(**options), ReplayStrategy, label)

    @settings(max_examples=max_examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(batches=st.lists(replay_batches(), min_size=2, max_size=8), data=st.data())
    def holds_the_contract(batches: list[tuple[dict[str, Tensor], QuantumOutput]], data: st.DataObject) -> None:
        buffer = factory(**options)
        capacity = buffer.capacity
        added: set[tuple] = set()
        *history, (last_batch, last_outputs) = batches
        for step, (batch, outputs) in enumerate(history):
            buffer.add(batch, outputs)
            added.update(example_key(example) for example in split_examples(batch))
            where = f"{label} after {step + 1} batches"
            assert len(buffer) <= capacity, f"{where} holds {len(buffer)} examples, over capacity={capacity}"
            fresh = batch_size(batch)
            assert 0 <= buffer.replay_size(fresh) <= len(buffer), (
                f"{where}: replay_size({fresh}) = {buffer.replay_size(fresh)} is outside [0, len={len(buffer)}]"
            )
            n = data.draw(st.integers(0, capacity + 2), label=f"n after batch {step + 1}")
            check_sample(buffer.sample(n), n, len(buffer), batch.keys(), added, f"{where}, sample({n})")

        state = buffer.state_dict()
        check_plain(state, f"{label}.state_dict()")
        saved = io.BytesIO()
        torch.save(state, saved)
        saved.seek(0)
        twin = factory(**options)
        twin.load_state_dict(torch.load(saved, weights_only=True))
        assert len(twin) == len(buffer), f"{label}: restored buffer holds {len(twin)}, not {len(buffer)}"
        n = data.draw(st.integers(1, capacity + 2), label="n after restoring")
        same_batch(buffer.sample(n), twin.sample(n), f"{label}: sample({n}) right after restoring the state")
        buffer.add(last_batch, last_outputs)
        twin.add(last_batch, last_outputs)
        assert len(twin) == len(buffer), f"{label}: after one more add the restored buffer holds {len(twin)}"
        same_batch(buffer.sample(n), twin.sample(n), f"{label}: sample({n}) after restoring and adding a batch")

    holds_the_contract()


def check_sample(sample: Any, n: int, stored: int, keys: Any, added: set[tuple], where: str) -> None:
    """Assert that ``sample`` is what ``sample(n)`` of a buffer holding ``stored`` examples may return."""
    if n == 0 or stored == 0:
        assert sample is None, f"{where} with {stored} stored returned {type(sample).__name__}, not None"
        return
    assert isinstance(sample, Mapping), f"{where} returned {type(sample).__name__}, not a batch dict"
    assert set(sample) == set(keys), f"{where} returned keys {sorted(sample)}, not {sorted(keys)}"
    size = batch_size(sample)
    assert size == min(n, stored), f"{where} returned {size} examples, not min(n, len) = {min(n, stored)}"
    for example in split_examples(sample):
        assert example_key(example) in added, f"{where} returned an example that was never added: {example}"


def check_plain(value: Any, where: str) -> None:
    """Assert that ``value`` is built only of tensors, plain Python types, lists, tuples and dicts."""
    if isinstance(value, Tensor) or isinstance(value, PLAIN_TYPES):
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            check_plain(item, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, PLAIN_TYPES), f"{where} has a key of type {type(key).__name__}"
            check_plain(item, f"{where}[{key!r}]")
        return
    raise AssertionError(f"{where} is a {type(value).__name__}, not a tensor or plain Python type")


def same_batch(first: Mapping[str, Tensor] | None, second: Mapping[str, Tensor] | None, where: str) -> None:
    """Assert that two samples are identical (both ``None``, or equal keys, dtypes and values)."""
    if first is None or second is None:
        assert first is None and second is None, f"{where}: one sample is None and the other is not"
        return
    assert set(first) == set(second), f"{where}: keys differ, {sorted(first)} vs {sorted(second)}"
    for key in first:
        assert first[key].dtype == second[key].dtype and torch.equal(first[key], second[key]), (
            f"{where}: {key!r} differs:\n{first[key]}\nvs\n{second[key]}"
        )
