"""``qembed plugins check NAME``: run the ``qembed.testing`` contract checks on the
components of one plugin, or on every component of one name, and report each."""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from qembed.cli.extras import import_extra
from qembed.plugins import KINDS, PluginError, PluginFailure, PluginRegistry, PluginSource, PluginWarning, Registration
from qembed.plugins.errors import did_you_mean
from qembed.plugins.switches import canonical_distribution_name


@dataclass(frozen=True)
class CheckTargets:
    """What NAME picks: the plugins it names, the components to check (theirs, and
    any component called NAME) and the named plugins that failed to load."""

    plugins: list[PluginSource]
    components: list[Registration]
    failures: list[PluginFailure]


def plugin_names(source: PluginSource) -> set[str]:
    """The names that pick a plugin: its distribution, its entry point's name
    (``schedules`` in ``schedules = qembed_plugins.schedules``) and its plugin name."""
    names = {source.plugin_name}
    if source.distribution:
        names.add(source.distribution)
    if source.entry_point:
        names.add(source.entry_point.partition("=")[0].strip())
    return names


def _names_plugin(name: str, source: PluginSource) -> bool:
    return canonical_distribution_name(name) in {canonical_distribution_name(n) for n in plugin_names(source)}


def find_targets(registry: PluginRegistry, name: str) -> CheckTargets:
    """The plugins and components ``name`` picks; raises ``PluginError`` naming close
    matches when it picks nothing."""
    with warnings.catch_warnings():  # a plugin that failed to load is part of the report
        warnings.simplefilter("ignore", PluginWarning)
        registry.load_entry_points()
    plugins = [source for source in registry.sources() if _names_plugin(name, source)]
    failures = [failure for failure in registry.failures() if _names_plugin(name, failure.source)]
    components = [reg for kind in KINDS for reg in registry.registrations(kind)
                  if reg.name == name or reg.source in plugins]
    if not (plugins or components or failures):
        known = {reg.name for kind in KINDS for reg in registry.registrations(kind)}
        for source in [*registry.sources(), *(failure.source for failure in registry.failures())]:
            known |= plugin_names(source)
        raise PluginError(f"no plugin or component named {name!r}{did_you_mean(name, known)}; "
                          "`qembed plugins` lists them")
    return CheckTargets(plugins, components, failures)


def run_check(args: argparse.Namespace, registry: PluginRegistry) -> int:
    """Check what ``args.name`` picks, printing a line per component; exit code 1 if any fails."""
    contracts = import_extra("qembed.testing.contracts")
    targets = find_targets(registry, args.name)
    if not targets.components and not targets.failures:
        names = ", ".join(source.describe() for source in targets.plugins)
        print(f"nothing to check: {names} registers no components (only lifecycle hooks, if any)")
        return 0
    width = max((len(reg.name) for reg in targets.components), default=0)
    failed = len(targets.failures)
    for failure in targets.failures:
        print(f"FAIL  {failure.source.describe()} did not load: {failure.error}")
    for reg in targets.components:
        problem = _problem(contracts.check_component, reg, args.max_examples)
        failed += problem is not None
        print(f"{'FAIL' if problem else 'PASS'}  {reg.kind:<10}  {reg.name:<{width}}  {reg.source.describe()}",
              flush=True)
        if problem:
            print("\n".join(f"      {line}" for line in problem.splitlines()))
    passed = len(targets.components) + len(targets.failures) - failed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def _problem(check_component: Callable[..., None], reg: Registration, max_examples: int | None) -> str | None:
    """Why ``reg`` fails its kind's contract check, or ``None`` when it passes. A factory
    whose options have no defaults declares ``example_options`` to be built with."""
    try:
        check_component(reg.kind, reg.factory, max_examples=max_examples, **getattr(reg.factory, "example_options", {}))
    except AssertionError as err:
        return str(err) or "AssertionError"
    except Exception as err:  # a component that cannot even be built or called fails the check
        return f"{type(err).__name__}: {err}"
    return None
