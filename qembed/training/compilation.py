"""``torch.compile`` in the trainer: the ``compile=`` option, checked, and compiling with it.

The trainer compiles the model's forward (``torch.compile`` of the module; the model
itself is left as it is) and keeps the plain module for everything else, so its
``state_dict`` keys, checkpoints and saved models are those of an uncompiled model. A
model the user compiled (an ``OptimizedModule``) is unwrapped the same way
(:func:`qembed.training.batches.original_module`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from qembed.arguments import quoted
from qembed.plugins.errors import did_you_mean
from qembed.training.config import ConfigError

#: The options ``compile={...}`` takes: those of ``torch.compile``.
COMPILE_OPTIONS = ("mode", "dynamic", "fullgraph", "backend")
#: ``torch.compile`` modes.
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def compile_options(value: Any, where: str = "compile") -> dict[str, Any] | None:
    """``value`` (``False``, ``True`` or a mapping of :data:`COMPILE_OPTIONS`) as the
    keyword arguments of ``torch.compile``, ``None`` for no compiling; ``where`` names it
    in errors."""
    if value is False or value is None:
        return None
    if value is True:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be true, false or a mapping of {', '.join(COMPILE_OPTIONS)}, "
                          f"got {quoted(value)}")
    options = dict(value)
    for key in options:
        if key not in COMPILE_OPTIONS:
            raise ConfigError(f"{where} has no option {key!r}{did_you_mean(str(key), COMPILE_OPTIONS)}; "
                              f"options: {', '.join(COMPILE_OPTIONS)}")
    mode = options.get("mode")
    if mode is not None and mode not in COMPILE_MODES:
        raise ConfigError(f"{where}['mode'] must be one of {', '.join(COMPILE_MODES)}, got {quoted(mode)}"
                          f"{did_you_mean(str(mode), COMPILE_MODES)}")
    if options.get("dynamic") not in (None, True, False):
        raise ConfigError(f"{where}['dynamic'] must be true, false or none (automatic), "
                          f"got {quoted(options['dynamic'])}")
    if not isinstance(options.get("fullgraph", False), bool):
        raise ConfigError(f"{where}['fullgraph'] must be true or false, got {quoted(options['fullgraph'])}")
    backend = options.get("backend", "inductor")
    if isinstance(backend, str):
        backends = torch._dynamo.list_backends(exclude_tags=())
        if backend not in backends:
            raise ConfigError(f"{where}['backend'] {backend!r} is not a torch.compile backend"
                              f"{did_you_mean(backend, backends)}; backends: {', '.join(backends)}")
    elif not callable(backend):
        raise ConfigError(f"{where}['backend'] must be a backend name or a callable, got {quoted(backend)}")
    return options


def compile_module(module: Any, options: Mapping[str, Any]) -> Any:
    """``torch.compile(module, **options)``; under inductor its random numbers (dropout's
    masks, collapse samples) are drawn as eager draws them (``fallback_random``): compiled
    training then draws what eager training draws, and on the 2-core CPU of
    ``benchmarks/README.md`` (QuantumClassifier, T = 128, dropout 0.1) a step took 201 ms
    against 301 ms with inductor's own random numbers and 238 ms eager. A ``mode`` is passed
    as the inductor options it stands for, since ``torch.compile`` takes a mode or options."""
    arguments = dict(options)
    if arguments.get("backend", "inductor") == "inductor":
        mode = arguments.pop("mode", None)
        chosen = torch._inductor.list_mode_options(mode, arguments.get("dynamic")) if mode else {}
        arguments["options"] = {**chosen, "fallback_random": True}
    return torch.compile(module, **arguments)


def is_compiled(model: nn.Module) -> bool:
    """Whether calling ``model`` runs compiled: a ``torch.compile`` wrapper, or a module
    compiled in place with ``model.compile()``."""
    return isinstance(model, torch._dynamo.eval_frame.OptimizedModule) or \
        getattr(model, "_compiled_call_impl", None) is not None


def mark_dynamic(values: Iterable[Any]) -> None:
    """Let the batch and sequence dimensions of the batch's tensors vary without a
    recompile (dim 0, and dim 1 of tensors with 2 or more dims): the last smaller batch
    and a new padded length reuse the graph. A dimension of size 1 stays specialised."""
    for value in values:
        if isinstance(value, Tensor) and value.dim() >= 1:
            torch._dynamo.maybe_mark_dynamic(value, 0)
            if value.dim() >= 2:
                torch._dynamo.maybe_mark_dynamic(value, 1)
