"""``QuantumTrainingConfig``: every ``quantum_training_config`` key, typed and validated.

A dict given to the trainer is checked here before anything is built: an unknown
key is named with close matches, a value of the wrong type or range is named with
what was expected.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from qembed.arguments import check_bool, check_int, check_number, quoted
from qembed.plugins.contracts import ReplayStrategy, members, missing_members
from qembed.plugins.errors import did_you_mean

if TYPE_CHECKING:
    from qembed.plugins.registry import PluginRegistry


class ConfigError(ValueError):
    """A ``quantum_training_config`` key or value that cannot be used."""


#: An attrs validator: ``check(instance, attribute, value)`` raises :class:`ConfigError`.
Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def create_component(registry: PluginRegistry, key: str, kind: str, spec: Any, /, *args: Any) -> Any:
    """``registry.create(kind, spec, *args)``; an unknown name or bad option becomes a
    :class:`ConfigError` that names the setting it came from (``key``)."""
    try:
        return registry.create(kind, spec, *args)
    except (KeyError, ValueError, TypeError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        raise ConfigError(f"{key}: {message}") from err


def _checked(check: Callable[..., Any], **options: Any) -> Validator:
    """An attrs validator running a :mod:`qembed.arguments` check on the key; its error
    becomes a :class:`ConfigError` (a ``ValueError``, whatever was wrong)."""

    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        try:
            check(f"quantum_training_config[{attribute.name!r}]", value, **options)
        except (TypeError, ValueError) as err:
            raise ConfigError(str(err)) from None

    return validate


_boolean = _checked(check_bool)


def _one_of(*choices: Any) -> Validator:
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not any(value is choice or (type(value) is type(choice) and value == choice) for choice in choices):
            listing = ", ".join(repr(c) for c in choices)
            hint = did_you_mean(value, [c for c in choices if isinstance(c, str)]) if isinstance(value, str) else ""
            raise ConfigError(
                f"quantum_training_config[{attribute.name!r}] must be one of {listing}, got {quoted(value)}{hint}"
            )

    return check


def _is_replay_strategy(value: Any) -> bool:
    return not missing_members(value, ReplayStrategy)


def _is_collapse_strategy(value: Any) -> bool:
    from qembed.nn.collapse import CollapseStrategy  # qembed.nn imports the plugin system, as this module does

    return isinstance(value, CollapseStrategy)


def _component(what: str, is_built: Callable[[Any], bool], *, allow: tuple[Any, ...] = ()) -> Validator:
    """A registered name, a ``{"name": ...}`` spec, an object already built that ``is_built``
    accepts (the kind's contract: ``what``), or one of ``allow`` (``None``, booleans)."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if any(value is allowed for allowed in allow) or isinstance(value, str):
            return
        if isinstance(value, Mapping):
            if "name" not in value:
                raise ConfigError(f"quantum_training_config[{attribute.name!r}] as a mapping needs a 'name' key, "
                                  f"got {quoted(dict(value))}")
            return
        if isinstance(value, bool) or not is_built(value):
            others = "".join(f", {allowed!r}" for allowed in allow)
            raise ConfigError(f"quantum_training_config[{attribute.name!r}] must be a registered name, a "
                              f"{{'name': ..., **options}} spec{others} or {what}, got {quoted(value)}")

    check.selects_component = True  # type: ignore[attr-defined]  # a key that picks a plugin component (docs tests list them)
    return check


def replay_spec_of(value: Any) -> Any:
    """The replay strategy spec a ``quantum_memory_replay`` value means: ``True`` is reservoir
    sampling, ``False`` none, anything else itself."""
    if value is True:
        return "reservoir"
    if value is False:
        return "none"
    return value


@attrs.define(kw_only=True)
class QuantumTrainingConfig:
    """The trainer's configuration; see ``docs/configuration.md`` for every key."""

    # the seed's keys
    superposition_schedule: Any = attrs.field(
        default="linear", validator=_component("a schedule (a callable: step, total_steps -> probability)", callable))
    entanglement_training: bool = attrs.field(default=True, validator=_boolean)
    uncertainty_regularization: float = attrs.field(default=0.0, validator=_checked(check_number, minimum=0.0))
    collapse_strategy: Any = attrs.field(
        default=None, validator=_component("a qembed.nn.CollapseStrategy", _is_collapse_strategy, allow=(None,)))
    quantum_gradient_clipping: bool = attrs.field(default=False, validator=_boolean)
    # None: not set (1.0 where it applies); set without the key that uses it, an error
    max_quantum_grad_norm: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(_checked(check_number, minimum=0.0, exclusive=True)))
    separate_clipping: bool = attrs.field(default=False, validator=_boolean)
    quantum_memory_replay: Any = attrs.field(
        default=False, validator=_component(f"a replay strategy ({', '.join(members(ReplayStrategy))})",
                                            _is_replay_strategy, allow=(True, False)))
    gradient_checkpointing: bool = attrs.field(default=False, validator=_boolean)
    mixed_precision: bool | str = attrs.field(default=False, validator=_one_of(False, True, "bf16", "fp16"))
    quantum_memory_efficient: bool = attrs.field(default=False, validator=_boolean)
    quantum_parallel: bool = attrs.field(default=False, validator=_boolean)
    entanglement_optimization: str | None = attrs.field(default=None,
                                                        validator=_one_of(None, "auto", "dense", "sparse"))
    collapse_optimization: str = attrs.field(default="batched", validator=_one_of("batched", "sequential"))
    distributed_training: bool = attrs.field(default=False, validator=_boolean)
    quantum_sync: bool = attrs.field(default=False, validator=_boolean)
    entanglement_sync: bool = attrs.field(default=False, validator=_boolean)
    # qembed's own keys
    max_grad_norm: float | None = attrs.field(  # None: not set (1.0 where it applies), as max_quantum_grad_norm
        default=None, validator=attrs.validators.optional(_checked(check_number, minimum=0.0, exclusive=True)))
    clipping: Any = attrs.field(
        default=None, validator=_component("a clipping strategy (a callable taking the parameter groups)", callable,
                                           allow=(None,)))
    log_every_n_steps: int = attrs.field(default=50, validator=_checked(check_int, minimum=1))
    gradient_accumulation_steps: int = attrs.field(default=1, validator=_checked(check_int, minimum=1))
    early_stopping_min_delta: float = attrs.field(default=0.0, validator=_checked(check_number, minimum=0.0))
    max_nonfinite_steps: int | None = attrs.field(  # attrs' mypy plugin types the field int, from its default
        default=10, validator=attrs.validators.optional(_checked(check_int, minimum=1)))  # type: ignore[arg-type]
    uncertainty_samples: int = attrs.field(default=8, validator=_checked(check_int, minimum=0))

    def __attrs_post_init__(self) -> None:
        if self.separate_clipping and not self.quantum_gradient_clipping:
            raise ConfigError(
                "quantum_training_config['separate_clipping'] needs 'quantum_gradient_clipping': True"
            )
        if self.clipping is not None and self.quantum_gradient_clipping:
            raise ConfigError(
                "quantum_training_config: give either 'clipping' or 'quantum_gradient_clipping', not both"
            )
        if self.max_quantum_grad_norm is not None and not self.quantum_gradient_clipping:
            raise ConfigError(
                "quantum_training_config['max_quantum_grad_norm'] (the quantum gradients' maximum norm) needs "
                "'quantum_gradient_clipping': True" + self._own_options_hint()
            )
        if self.max_grad_norm is not None and not self.separate_clipping:
            needs = "" if self.quantum_gradient_clipping else "'quantum_gradient_clipping': True and "
            raise ConfigError(
                "quantum_training_config['max_grad_norm'] (the classical gradients' maximum norm under separate "
                f"clipping) needs {needs}'separate_clipping': True" + self._own_options_hint()
            )
        if self.uncertainty_samples == 1:
            raise ConfigError(
                "quantum_training_config['uncertainty_samples'] must be 0 (no collapse samples) or >= 2 (one "
                "sample has no disagreement to measure), got 1"
            )
        for key in ("quantum_sync", "entanglement_sync"):
            if getattr(self, key) and not self.distributed_training:
                raise ConfigError(f"quantum_training_config[{key!r}] needs 'distributed_training': True")

    def _own_options_hint(self) -> str:
        if self.clipping is not None:
            return "; with 'clipping', give the norm in that spec's own options"
        return "; or clip every gradient to one norm with 'clipping': {'name': 'global_norm', 'max_norm': ...}"

    @classmethod
    def from_value(cls, value: QuantumTrainingConfig | Mapping[str, Any] | None) -> QuantumTrainingConfig:
        """Build from a dict (unknown keys are named with close matches), or pass through."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"quantum_training_config must be a dict or a QuantumTrainingConfig, got {type(value).__name__}"
            )
        known = [field.name for field in attrs.fields(cls)]
        for key in value:
            if key not in known:
                raise ConfigError(
                    f"quantum_training_config has unknown key {key!r}{did_you_mean(str(key), known)}; "
                    f"known keys: {', '.join(known)}"
                )
        return cls(**value)

    def clipping_spec(self) -> Any:
        """The clipping strategy spec: ``clipping`` itself, or what the seed's
        ``quantum_gradient_clipping`` / ``max_quantum_grad_norm`` / ``separate_clipping`` /
        ``max_grad_norm`` keys mean: the quantum gradients (parameters with a role)
        clipped to ``max_quantum_grad_norm`` and, with ``separate_clipping``, the
        classical ones to ``max_grad_norm`` (each 1.0 when not set)."""
        if self.clipping is not None:
            return self.clipping
        if not self.quantum_gradient_clipping:
            return "none"
        quantum_max_norm = 1.0 if self.max_quantum_grad_norm is None else self.max_quantum_grad_norm
        if self.separate_clipping:
            return {"name": "separate", "quantum_max_norm": quantum_max_norm,
                    "classical_max_norm": 1.0 if self.max_grad_norm is None else self.max_grad_norm}
        return {"name": "global_norm", "max_norm": quantum_max_norm, "parameters": "quantum"}

    def replay_spec(self) -> Any:
        """The replay strategy spec: ``True`` means reservoir sampling, ``False`` none."""
        return replay_spec_of(self.quantum_memory_replay)

    def to_dict(self) -> dict[str, Any]:
        """The resolved configuration as plain data (objects shown by their repr)."""
        def plain(value: Any) -> Any:
            if value is None or isinstance(value, (bool, int, float, str)):
                return value
            if isinstance(value, Mapping):
                return {str(k): plain(v) for k, v in value.items()}
            return repr(value)

        return {field.name: plain(getattr(self, field.name)) for field in attrs.fields(type(self))}
