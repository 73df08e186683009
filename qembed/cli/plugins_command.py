"""``qembed plugins``: every component of every kind, where it came from, and the
plugins that failed to load; ``qembed plugins check NAME`` runs the contract checks."""

from __future__ import annotations

import argparse
import json
import warnings
from typing import Any

from qembed.cli import plugin_check
from qembed.cli.argument_types import positive_int
from qembed.plugins import KINDS, PluginRegistry, PluginWarning, default_registry

CHECK_EXAMPLES = """  qembed plugins check linear                  one component (every kind that has the name)
  qembed plugins check my-plugin               every component of an installed distribution
  qembed plugins check schedules               every component of one entry point (here qembed's schedules)
  qembed plugins check my-plugin --max-examples 20   a quicker, shallower check
"""
EPILOG = f"""examples:
  qembed plugins
  qembed plugins --json | python -m json.tool
  QEMBED_DISABLE_PLUGIN_AUTOLOAD=1 qembed plugins   built-ins only
{CHECK_EXAMPLES}
A broken third-party plugin is listed under "failed plugins"; the listing still
exits 0 so that it is always available.
"""
CHECK_EPILOG = f"""examples:
{CHECK_EXAMPLES}
NAME is a distribution, an entry point's or plugin's name, or a component name. Each
component is built with its default options and checked with the qembed.testing
contract of its kind (check_schedule, check_loss, check_optimizer, check_clipping,
check_replay, check_collapse). Exit code 0 when every check passes, 1 when one
fails or the plugin did not load, 2 for an unknown NAME. Needs Hypothesis:
pip install 'qembed[testing]'.
"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "plugins",
        help="list schedules, losses, optimizers, ... and the plugins that supplied them",
        description="List every registered component by kind, with the distribution and "
        "version that supplied it, and the plugins that failed to load.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(run=run)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")  # none: the listing
    check = actions.add_parser(
        "check",
        help="run the qembed.testing contract checks on one plugin's components and report",
        description="Run the qembed.testing contract checks on the components of one plugin, "
        "or on every component of one name, and report each as PASS or FAIL.",
        epilog=CHECK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("name", metavar="NAME", help="a distribution, an entry point's or plugin's name, or a component name")
    check.add_argument("--max-examples", type=positive_int, metavar="N",
                       help="generated examples per check (default: each check's own, 50 to 200)")
    check.set_defaults(run=run_check)


def collect(registry: PluginRegistry) -> dict[str, Any]:
    """Everything the listing shows, as plain data."""
    with warnings.catch_warnings():  # failures are part of the listing itself
        warnings.simplefilter("ignore", PluginWarning)
        registry.load_entry_points()
    kinds: dict[str, list[dict[str, Any]]] = {}
    for kind in KINDS:
        registrations = registry.registrations(kind)
        names = [reg.name for reg in registrations]
        kinds[kind] = [
            {
                "name": reg.name,
                "distribution": reg.distribution,
                "version": reg.version,
                "plugin": reg.source.plugin_name,
                "summary": reg.summary,
                "conflict": names.count(reg.name) > 1,
            }
            for reg in registrations
        ]
    failures = [
        {
            "distribution": failure.source.distribution,
            "version": failure.source.version,
            "entry_point": failure.source.entry_point,
            "error": failure.error,
        }
        for failure in registry.failures()
    ]
    return {"kinds": kinds, "failures": failures}


def render(listing: dict[str, Any]) -> str:
    """The listing :func:`collect` gives, as the text table ``qembed plugins`` prints."""
    lines: list[str] = []
    for kind, entries in listing["kinds"].items():
        lines.append(f"{kind} ({len(entries)})")
        if not entries:
            lines.append(f"  no {kind} registered")
        width = max((len(e["name"]) for e in entries), default=0)
        for entry in entries:
            supplier = (
                f"{entry['distribution']} {entry['version']}"
                if entry["distribution"]
                else "registered in code"
            )
            flag = "  [CONFLICT: name claimed twice]" if entry["conflict"] else ""
            lines.append(f"  {entry['name']:<{width}}  {supplier:<20}  {entry['summary']}{flag}".rstrip())
    if listing["failures"]:
        lines.append(f"failed plugins ({len(listing['failures'])})")
        for failure in listing["failures"]:
            lines.append(
                f"  {failure['distribution']} {failure['version']} "
                f"({failure['entry_point']}): {failure['error']}"
            )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    listing = collect(default_registry())
    print(json.dumps(listing, indent=2) if args.json else render(listing))
    return 0


def run_check(args: argparse.Namespace) -> int:
    return plugin_check.run_check(args, default_registry())
