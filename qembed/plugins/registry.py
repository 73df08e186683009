"""The plugin registry: loads plugins, records what each registered, and builds
components by name.

Entry points of the ``qembed`` group are loaded lazily, on the first lookup, never
at ``import qembed``. Each plugin's registration hooks are called once, when it is
loaded, so a broken plugin is found and reported at that moment and its names are
absent everywhere; plugins that work are unaffected.
"""

from __future__ import annotations

import inspect
import re
import reprlib
import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import pluggy

from qembed.plugins import hookspecs, switches
from qembed.plugins.contracts import missing_members
from qembed.plugins.errors import (
    ComponentOptionError,
    PluginComponentError,
    PluginConflictError,
    PluginError,
    PluginHookError,
    PluginLoadError,
    PluginWarning,
    UnknownComponentError,
    did_you_mean,
)
from qembed.plugins.kinds import KIND_CONTRACTS, KIND_NOUNS, KINDS, registration_hook
from qembed.plugins.markers import ENTRY_POINT_GROUP, PROJECT_NAME
from qembed.plugins.records import PluginFailure, PluginSource, Registration

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
#: kinds whose names may also be a class name, as torch spells its LR schedulers (StepLR)
_CLASS_NAMED_KINDS = ("lr_schedulers",)
_CLASS_NAME_PATTERN = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_HOOK_PREFIX = "qembed_"
_KNOWN_HOOKS = sorted(n for n in vars(hookspecs) if n.startswith(_HOOK_PREFIX))

#: The registry whose :meth:`PluginRegistry.create` is calling a factory now (see :func:`building_registry`).
_BUILDING: ContextVar[PluginRegistry | None] = ContextVar("qembed_building_registry", default=None)


def building_registry() -> PluginRegistry | None:
    """The registry building a component in this thread or task now, ``None`` outside
    :meth:`PluginRegistry.create`: a factory that builds another component by name looks
    it up there, so a trainer's own plugins serve nested names as they serve top-level ones."""
    return _BUILDING.get()


@contextmanager
def _building(registry: PluginRegistry) -> Iterator[None]:
    token = _BUILDING.set(registry)
    try:
        yield
    finally:
        _BUILDING.reset(token)


class _PluginManager(pluggy.PluginManager):
    """A pluggy manager that, like pytest's, also takes undecorated ``qembed_*``
    functions as hook implementations, so a misspelled one is reported rather
    than silently ignored."""

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith(_HOOK_PREFIX):
            if inspect.isroutine(getattr(plugin, name, None)):
                return {}
        return opts


class PluginRegistry:
    """Plugins and the components they registered, by kind and name.

    ``qembed.plugins`` holds one for the process; tests and tools may make their
    own. Lookups (:meth:`available`, :meth:`create`, ...) load entry points first.
    """

    def __init__(self) -> None:
        self._manager = _PluginManager(PROJECT_NAME)
        self._manager.add_hookspecs(hookspecs)
        self._sources: dict[str, PluginSource] = {}
        self._contributions: dict[str, dict[str, dict[str, Callable[..., Any]]]] = {}
        self._failures: list[PluginFailure] = []
        self._tables: dict[str, dict[str, list[Registration]]] = {}
        self._entry_points_loaded = False
        #: what :meth:`create` built, and from which registration (shared with scoped copies)
        self._built: weakref.WeakKeyDictionary[Any, Registration] = weakref.WeakKeyDictionary()

    # --- public API -------------------------------------------------------------

    @property
    def hook(self) -> Any:
        """pluggy's hook relay, for calling lifecycle hooks on every plugin."""
        self.load_entry_points()
        return self._manager.hook

    def available(self, kind: str) -> dict[str, Registration]:
        """Every component of ``kind``, by name (sorted), with its supplier.

        Raises :class:`PluginConflictError` when two plugins claim one name.
        """
        table = self._table(kind)
        conflicts = {name: regs for name, regs in table.items() if len(regs) > 1}
        if conflicts:
            raise PluginConflictError(_conflict_message(kind, conflicts))
        return {name: regs[0] for name, regs in sorted(table.items())}

    def registrations(self, kind: str) -> list[Registration]:
        """Every registration of ``kind``, conflicting ones included (for listings)."""
        return [reg for _, regs in sorted(self._table(kind).items()) for reg in regs]

    def failures(self) -> list[PluginFailure]:
        """Plugins that failed to load, in the order they were found."""
        self.load_entry_points()
        return list(self._failures)

    def create(self, kind: str, spec: Any, /, *args: Any, **options: Any) -> Any:
        """Build a component of ``kind`` from ``spec``.

        ``spec`` is a registered name, a ``{"name": ..., **options}`` mapping, or an
        object already built (returned as is). Positional ``args`` go first to the
        factory (an optimizer's parameters); ``options`` are its keyword arguments.
        """
        noun = _noun(kind)
        if isinstance(spec, str):
            name = spec
        elif isinstance(spec, Mapping):
            name, options = _split_spec(noun, spec, options)
        else:
            if options:
                raise ComponentOptionError(
                    f"options {sorted(options)} were given for a {noun} that is already "
                    f"built ({type(spec).__name__}); pass a name or a spec mapping instead"
                )
            return spec
        registration = self.lookup(kind, name)
        _check_options(noun, registration, args, options)
        supplier = "" if registration.distribution == switches.BUILTIN_DISTRIBUTION else f" ({registration.origin()})"
        try:
            with _building(self):
                component = registration.factory(*args, **options)
        except (TypeError, ValueError) as err:
            raise ComponentOptionError(
                f"invalid options for {noun} {name!r}{supplier}{_unnamed_options(err, options)}: {err}") from err
        except PluginError:
            raise
        except Exception as err:
            if not supplier and options:  # a built-in given options it cannot use (torch's Adam indexes betas=[])
                raise ComponentOptionError(f"invalid options for {noun} {name!r}{_unnamed_options(err, options)}: "
                                           f"{type(err).__name__}: {err}") from err
            if not supplier:
                raise
            raise PluginComponentError(
                f"building {noun} {name!r}{supplier} raised {type(err).__name__}: {err}") from err
        _check_contract(kind, noun, name, supplier, component)
        try:
            self._built[component] = registration
        except TypeError:  # not hashable or not weakly referable: it cannot be recognised later
            pass
        return component

    def registration_of(self, kind: str, spec: Any) -> Registration | None:
        """The registration a name or spec mapping builds from, or that built the object
        ``spec`` (``None`` for an object this registry did not build)."""
        if isinstance(spec, Mapping):
            spec = spec.get("name")
        if isinstance(spec, str):
            return self.lookup(kind, spec)
        try:
            return self._built.get(spec)
        except TypeError:
            return None

    def lookup(self, kind: str, name: str) -> Registration:
        """The registration of ``name``; an unknown name lists what is available."""
        table = self.available(kind)
        if not isinstance(name, str) or name not in table:
            raise UnknownComponentError(kind, str(name), table, _noun(kind))
        return table[name]

    def register(self, plugin: Any, name: str | None = None) -> str:
        """Register a plugin object (a module, class or instance) from code.

        Its registration hooks are checked at once: a misspelled hook, a bad name
        or a name another plugin already has raises here and nothing is kept.
        Returns the plugin's name (for :meth:`unregister`).
        """
        self.load_entry_points()
        plugin_name = name or _default_plugin_name(plugin)
        source = PluginSource(plugin_name=plugin_name)
        self._add(plugin, source)
        for kind in KINDS:
            clashes = {
                n: regs
                for n, regs in self._table(kind).items()
                if len(regs) > 1 and any(r.source == source for r in regs)
            }
            if clashes:
                self.unregister(plugin)
                raise PluginConflictError(_conflict_message(kind, clashes))
        return plugin_name

    def unregister(self, plugin: Any) -> None:
        """Remove a plugin (the object, or the name :meth:`register` returned)."""
        plugin_name = plugin if isinstance(plugin, str) else self._manager.get_name(plugin)
        if plugin_name is None or not self._manager.has_plugin(plugin_name):
            raise PluginLoadError(f"{plugin!r} is not a registered plugin")
        self._manager.unregister(name=plugin_name)
        self._sources.pop(plugin_name, None)
        self._contributions.pop(plugin_name, None)
        self._tables.clear()

    def with_plugins(self, plugins: Any) -> PluginRegistry:
        """A new registry holding this one's plugins plus ``plugins`` (e.g. one
        trainer's own); this registry is left unchanged. Each extra plugin is
        checked as :meth:`register` checks it."""
        self.load_entry_points()
        scoped = PluginRegistry()
        scoped._entry_points_loaded = True
        scoped._built = self._built
        for plugin_name, source in self._sources.items():
            scoped._manager.register(self._manager.get_plugin(plugin_name), name=plugin_name)
            scoped._sources[plugin_name] = source
            scoped._contributions[plugin_name] = self._contributions[plugin_name]
        scoped._failures = list(self._failures)
        for plugin in plugins:
            scoped.register(plugin)
        return scoped

    def for_trainer(self, trainer: Any, plugins: Sequence[Any] = ()) -> PluginRegistry:
        """The registry ``trainer`` uses: this one's plugins, the trainer's own ``plugins``
        and the objects the ``qembed_trainer_plugins`` hook returns for it (stateful
        plugins, such as a logger holding a file, that must see this trainer alone). This
        registry itself when there are none, so a plain trainer costs nothing."""
        scoped = self.with_plugins(plugins) if plugins else self
        own: list[Any] = []
        for impl in reversed(scoped.hook.qembed_trainer_plugins.get_hookimpls()):  # pluggy's order
            where = f"qembed_trainer_plugins of {scoped.describe(impl.plugin_name)}"
            try:
                returned = impl.function(**{name: trainer for name in impl.argnames})
            except PluginError:
                raise
            except Exception as err:
                raise PluginHookError(f"{where} raised {type(err).__name__}: {err}") from err
            if not isinstance(returned, (list, tuple)):
                raise PluginHookError(f"{where} returned a {type(returned).__name__}; it must return a list or "
                                      "tuple of plugin objects (empty for none)")
            own.extend(returned)
        return scoped.with_plugins(own) if own else scoped

    def describe(self, plugin_name: str) -> str:
        """Where the plugin registered as ``plugin_name`` comes from, for error messages."""
        source = self._sources.get(plugin_name)
        return source.describe() if source is not None else f"plugin {plugin_name!r}"

    def sources(self) -> list[PluginSource]:
        """Every loaded plugin, in load order."""
        self.load_entry_points()
        return list(self._sources.values())

    def load_entry_points(self) -> None:
        """Load every plugin of the ``qembed`` entry-point group (once)."""
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        import importlib.metadata  # here, not at module level: `import qembed` stays light

        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            source = _entry_point_source(entry_point)
            if source.distribution and not switches.should_load(source.distribution):
                continue
            try:
                plugin = entry_point.load()
                if self._manager.is_registered(plugin):  # same distribution found twice
                    continue
                self._add(plugin, source)
            except Exception as err:  # a broken third-party plugin must not break qembed
                self._report_failure(source, err)
        self._report_conflicts()

    # --- internals ------------------------------------------------------------------

    def _add(self, plugin: Any, source: PluginSource) -> None:
        """Register ``plugin`` and collect its registrations, or raise and keep nothing."""
        if self._manager.has_plugin(source.plugin_name):
            raise PluginLoadError(f"a plugin named {source.plugin_name!r} is already registered")
        self._manager.register(plugin, name=source.plugin_name)
        try:
            _check_hook_names(self._manager, plugin, source)
            contributions = {kind: self._call_registration_hook(plugin, kind, source) for kind in KINDS}
        except BaseException:
            self._manager.unregister(plugin)
            raise
        self._sources[source.plugin_name] = source
        self._contributions[source.plugin_name] = contributions
        self._tables.clear()

    def _call_registration_hook(
        self, plugin: Any, kind: str, source: PluginSource
    ) -> dict[str, Callable[..., Any]]:
        caller = getattr(self._manager.hook, registration_hook(kind))
        registered: dict[str, Callable[..., Any]] = {}
        for impl in caller.get_hookimpls():
            if impl.plugin is plugin:
                result = impl.function()
                registered.update(_validate_registrations(kind, result, source))
        return registered

    def _table(self, kind: str) -> dict[str, list[Registration]]:
        if kind not in KINDS:
            raise UnknownComponentError("kinds", str(kind), KINDS, "plugin kind")
        self.load_entry_points()
        if kind not in self._tables:
            table: dict[str, list[Registration]] = {}
            for plugin_name, contributions in self._contributions.items():
                source = self._sources[plugin_name]
                for name, factory in contributions[kind].items():
                    claims = table.setdefault(name, [])
                    if not any(claim.factory is factory for claim in claims):
                        claims.append(Registration(kind, name, factory, source))
            self._tables[kind] = table
        return self._tables[kind]

    def _report_failure(self, source: PluginSource, err: BaseException) -> None:
        failure = PluginFailure(source, f"{type(err).__name__}: {err}")
        message = f"qembed plugin {failure.describe()}; its components are unavailable"
        if switches.strict():
            raise PluginLoadError(message) from err
        warnings.warn(message, PluginWarning, stacklevel=4)
        self._failures.append(failure)

    def _report_conflicts(self) -> None:
        for kind in KINDS:
            conflicts = {n: regs for n, regs in self._table(kind).items() if len(regs) > 1}
            if not conflicts:
                continue
            message = _conflict_message(kind, conflicts)
            if switches.strict():
                raise PluginConflictError(message)
            warnings.warn(message, PluginWarning, stacklevel=4)


#: Kinds whose built components the registry checks against their protocol. Not
#: optimizers: the trainer requires a ``torch.optim.Optimizer``, a stricter check.
CHECKED_ON_BUILD = ("schedules", "losses", "clipping", "replay", "collapse")


def _check_contract(kind: str, noun: str, name: str, supplier: str, component: Any) -> None:
    """Refuse a component lacking a member of its kind's protocol (qembed.plugins.contracts)."""
    if kind not in CHECKED_ON_BUILD:
        return
    protocol = KIND_CONTRACTS[kind]
    missing = missing_members(component, protocol)
    if missing:
        raise PluginComponentError(
            f"{noun} {name!r}{supplier} built a {type(component).__name__}, which lacks "
            f"{', '.join(missing)} (the contract qembed.plugins.contracts.{protocol.__name__})")


def _unnamed_options(err: BaseException, options: Mapping[str, Any]) -> str:
    """`` (given: lr=0.1, betas=[])`` when ``err`` names none of the options (torch's
    ``'<=' not supported between ...``), so the message says what was given; else ''."""
    if not options or any(key in str(err) for key in options):
        return ""
    return " (given: " + ", ".join(f"{key}={reprlib.repr(value)}" for key, value in options.items()) + ")"


def _noun(kind: str) -> str:
    if kind not in KIND_NOUNS:
        raise UnknownComponentError("kinds", str(kind), KINDS, "plugin kind")
    return KIND_NOUNS[kind]


def _entry_point_source(entry_point: EntryPoint) -> PluginSource:
    dist = entry_point.dist
    distribution = dist.metadata["Name"] if dist is not None else None
    version = dist.version if dist is not None else None
    return PluginSource(
        plugin_name=f"{distribution or '?'}:{entry_point.name}",
        distribution=distribution or "<unknown distribution>",
        version=version,
        entry_point=f"{entry_point.name} = {entry_point.value}",
    )


def _default_plugin_name(plugin: Any) -> str:
    name = getattr(plugin, "__name__", None) or type(plugin).__name__
    return f"{name}@{id(plugin):x}"


def _check_hook_names(manager: pluggy.PluginManager, plugin: Any, source: PluginSource) -> None:
    """A ``qembed_*`` hook that qembed does not define is a typo, not an extension."""
    for caller in manager.get_hookcallers(plugin) or []:
        if not caller.has_spec():
            raise PluginLoadError(
                f"{source.describe()} implements unknown hook {caller.name!r}"
                f"{did_you_mean(caller.name, _KNOWN_HOOKS)}"
            )


def _validate_registrations(kind: str, result: Any, source: PluginSource) -> dict[str, Any]:
    hook = registration_hook(kind)
    if result is None:
        return {}
    if not isinstance(result, Mapping):
        raise PluginLoadError(
            f"{source.describe()}: {hook}() must return a mapping name -> factory, "
            f"got {type(result).__name__}"
        )
    for name, factory in result.items():
        if not isinstance(name, str) or not (_NAME_PATTERN.match(name) or (
                kind in _CLASS_NAMED_KINDS and _CLASS_NAME_PATTERN.match(name))):
            also = " or a class name such as StepLR" if kind in _CLASS_NAMED_KINDS else ""
            raise PluginLoadError(
                f"{source.describe()}: {hook}() registered {name!r}; names must be "
                f"lowercase snake_case (letters, digits, underscores, starting with a letter){also}"
            )
        if not callable(factory):
            raise PluginLoadError(
                f"{source.describe()}: {hook}() registered {name!r} as "
                f"{type(factory).__name__}, which is not callable"
            )
    return dict(result)


def _conflict_message(kind: str, conflicts: Mapping[str, list[Registration]]) -> str:
    parts = []
    for name, regs in sorted(conflicts.items()):
        claimants = " and ".join(reg.source.describe() for reg in regs)
        parts.append(f"{_noun(kind)} {name!r} is registered by both {claimants}")
    third_party = sorted(
        {reg.distribution for regs in conflicts.values() for reg in regs if reg.distribution}
        - {switches.BUILTIN_DISTRIBUTION}
    )
    hint = "uninstall one of them"
    if third_party:
        hint += f", or skip one with QEMBED_DISABLE_PLUGINS={third_party[0]}"
    return "; ".join(parts) + f" ({hint})"


def _split_spec(noun: str, spec: Mapping[str, Any], options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if "name" not in spec:
        raise ComponentOptionError(
            f"a {noun} spec mapping needs a 'name' key; got keys {sorted(map(str, spec))}"
        )
    spec_options = {k: v for k, v in spec.items() if k != "name"}
    both = sorted(set(spec_options) & set(options))
    if both:
        raise ComponentOptionError(f"{noun} option(s) {both} given both in the spec and as arguments")
    return spec["name"], {**spec_options, **options}


def _check_options(noun: str, registration: Registration, args: tuple[Any, ...], options: dict[str, Any]) -> None:
    """Name the option a factory does not accept before calling it."""
    try:
        signature = inspect.signature(registration.factory)
    except (TypeError, ValueError):  # some builtins have no signature: let the call decide
        return
    try:
        signature.bind(*args, **options)
    except TypeError as err:
        params = signature.parameters.values()
        accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
        try:
            bound_positionally = set(signature.bind_partial(*args).arguments)
        except TypeError:
            bound_positionally = set()
        accepted = [
            p.name
            for p in params
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
            and p.name not in bound_positionally
        ]
        unknown = [] if accepts_any else [k for k in options if k not in accepted]
        label = f"{noun} {registration.name!r}"
        if unknown:
            first = unknown[0]
            listing = ", ".join(repr(a) for a in accepted) or "none"
            raise ComponentOptionError(
                f"{label} has no option {first!r}{did_you_mean(first, accepted)}; "
                f"its options are: {listing}"
            ) from None
        raise ComponentOptionError(f"invalid options for {label}: {err}") from None
