"""Fail-fast checks of model inputs, with messages that name the problem.

On the CPU the checks read values directly (free: there is no device to wait
for). On an accelerator, and inside ``torch.compile`` (where reading a value would
break the graph), the value checks are asynchronous device asserts, so the training
loop never waits for the device and a compiled model stays one graph.
"""

from __future__ import annotations

import torch
from torch import Tensor


def check_token_ids(input_ids: Tensor, vocab_size: int, name: str = "input_ids") -> None:
    """Token ids must be an integer tensor with every id in ``[0, vocab_size)``."""
    if not isinstance(input_ids, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of token ids, got {type(input_ids).__name__}")
    if input_ids.dtype.is_floating_point or input_ids.dtype.is_complex or input_ids.dtype == torch.bool:
        raise TypeError(
            f"{name} must hold integer token ids (torch.long), got dtype {input_ids.dtype}; "
            "did you pass embeddings or a float mask instead of ids?"
        )
    if input_ids.numel() == 0:
        return
    if input_ids.device.type != "cpu" or torch.compiler.is_compiling():
        inside = (input_ids >= 0).all() & (input_ids < vocab_size).all()
        torch._assert_async(inside, f"{name} holds a token id outside the vocabulary (vocab_size={vocab_size})")
        return
    outside = (input_ids < 0) | (input_ids >= vocab_size)
    if outside.any():
        bad = int(input_ids[outside][0])
        raise ValueError(f"{name} holds token id {bad}, outside the vocabulary (vocab_size={vocab_size})")


def check_attention_mask(attention_mask: Tensor | None, input_ids: Tensor) -> Tensor:
    """The mask as booleans (all true when ``None``), with the shape of the ids."""
    if attention_mask is None:
        return torch.ones(input_ids.shape, dtype=torch.bool, device=input_ids.device)
    if attention_mask.shape != input_ids.shape:
        raise ValueError(
            f"attention_mask has shape {tuple(attention_mask.shape)} but input_ids has shape "
            f"{tuple(input_ids.shape)}; they must match"
        )
    return attention_mask.bool()


def check_sequence_length(input_ids: Tensor, max_length: int) -> None:
    """Ids must be ``[batch, length]`` with ``length <= max_length``."""
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must be [batch, length], got shape {tuple(input_ids.shape)}")
    if input_ids.shape[1] > max_length:
        raise ValueError(
            f"sequence length {input_ids.shape[1]} exceeds the model's max_length={max_length}; "
            "truncate the inputs or build the model with a larger max_length"
        )
