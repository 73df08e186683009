"""``MLMCollator``: padding plus BERT-style masking for masked-language-model pre-training."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch.utils.data import get_worker_info

from qembed.arguments import check_int, check_probability
from qembed.data._checks import derive_seed
from qembed.data.collate import pad_collate
from qembed.data.generate import IGNORE_INDEX

#: Of the selected tokens: this share becomes ``[MASK]``, the next share a random token, the rest stays.
MASK_TOKEN_SHARE = 0.8
RANDOM_TOKEN_SHARE = 0.1


class MLMCollator:
    """Pad a list of dataset items and mask it by the BERT rule.

    Each real (non-pad), non-special token is *selected* independently with probability
    ``mask_probability``. A selected token becomes ``mask_id`` with probability 0.8, a
    token id drawn uniformly from the non-special ids with probability 0.1, and stays
    unchanged with probability 0.1. The batch's ``labels`` is ``Long[B, T]``: the original
    id at selected positions, -100 everywhere else (pads included); ``input_ids``,
    ``attention_mask`` and ``sense_ids`` are as in :func:`~qembed.data.pad_collate`.

    All randomness comes from ``generator`` (a CPU ``torch.Generator``; ``None`` means a
    fresh one seeded with 0), so equal seeds give equal masks. Inside a ``DataLoader``
    worker the generator is re-seeded once, from its initial seed and the worker's seed
    (which the loader derives from its own generator per epoch and worker), so workers
    and epochs do not repeat each other's masks.
    """

    def __init__(
        self,
        vocab_size: int,
        mask_id: int,
        special_ids: Iterable[int],
        mask_probability: float = 0.15,
        generator: torch.Generator | None = None,
        *,
        pad_id: int = 0,
    ) -> None:
        self.vocab_size = check_int("vocab_size", vocab_size, minimum=1)
        self.mask_id = check_int("mask_id", mask_id, minimum=0, maximum=vocab_size - 1)
        self.pad_id = check_int("pad_id", pad_id, minimum=0, maximum=vocab_size - 1)
        self.special_ids = frozenset(
            check_int("special_ids", int(i), 0, vocab_size - 1) for i in special_ids
        )
        self.mask_probability = check_probability(
            "mask_probability", mask_probability, open_low=True, open_high=True
        )
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {generator!r}")
        if generator is not None and generator.device.type != "cpu":
            raise ValueError(f"generator must be a CPU torch.Generator, got one on {generator.device}")
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self._is_special = torch.zeros(vocab_size, dtype=torch.bool)
        self._is_special[sorted(self.special_ids | {self.mask_id, self.pad_id})] = True
        self._replacements = (~self._is_special).nonzero().flatten()
        if len(self._replacements) == 0:
            raise ValueError(
                f"special_ids must leave at least one id in [0, {vocab_size - 1}] as a normal token"
            )
        self._worker_id: int | None = None

    def __call__(self, examples: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        """Pad ``examples`` and mask the batch; see the class docstring for the keys."""
        batch = pad_collate(examples, pad_id=self.pad_id)
        batch["input_ids"], batch["labels"] = self.mask_tokens(batch["input_ids"], batch["attention_mask"])
        return batch

    def mask_tokens(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask an already padded ``Long[B, T]`` batch; return ``(masked input_ids, labels)``.

        Without ``attention_mask`` every non-special position counts as real. The tensors
        may live on any device; the random draws are made on the CPU generator.
        """
        if input_ids.numel() and (int(input_ids.min()) < 0 or int(input_ids.max()) >= self.vocab_size):
            raise ValueError(
                f"input_ids must be in [0, {self.vocab_size - 1}] (vocab_size={self.vocab_size})"
            )
        self._reseed_in_worker()
        device = input_ids.device
        maskable = ~self._is_special.to(device)[input_ids]
        if attention_mask is not None:
            maskable &= attention_mask.bool()
        # draws come from the CPU generator whatever the device, so a seed means the same masks
        shape, generator = input_ids.shape, self.generator
        selected = (torch.rand(shape, generator=generator).to(device) < self.mask_probability) & maskable
        action = torch.rand(shape, generator=generator).to(device)
        replacement = torch.randint(len(self._replacements), shape, generator=generator)
        random_ids = self._replacements[replacement].to(device)
        to_mask = selected & (action < MASK_TOKEN_SHARE)
        to_random = selected & ~to_mask & (action < MASK_TOKEN_SHARE + RANDOM_TOKEN_SHARE)
        masked = torch.where(to_mask, torch.full_like(input_ids, self.mask_id), input_ids)
        masked = torch.where(to_random, random_ids, masked)
        labels = torch.where(selected, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
        return masked, labels

    def _reseed_in_worker(self) -> None:
        info = get_worker_info()
        if info is not None and self._worker_id != info.id:
            self._worker_id = info.id
            # info.seed is the DataLoader's per-epoch base seed plus the worker id.
            seed = derive_seed(self.generator.initial_seed(), f"mlm-worker-{info.seed}")
            self.generator.manual_seed(seed)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(vocab_size={self.vocab_size}, mask_id={self.mask_id}, "
            f"special_ids={sorted(self.special_ids)}, mask_probability={self.mask_probability})"
        )
