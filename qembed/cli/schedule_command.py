"""``qembed schedule table`` and ``qembed schedule plot``: the values schedules give
over a run, as a table or a figure."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path
from typing import Any

from qembed import plugins
from qembed.cli.argument_types import positive_int
from qembed.cli.extras import import_extra

SPEC_HELP = """A schedule is NAME or NAME:option=value,option=value; values are Python
literals (numbers, True/False, quoted strings) or bare words. Any registered
schedule works, third-party ones included (see `qembed plugins`).
"""
TABLE_EXAMPLES = """  qembed schedule table linear cyclic constant --steps 10
  qembed schedule table cyclic:cycle_steps=4 constant:value=0.25 --steps 8
"""
PLOT_EXAMPLES = """  qembed schedule plot linear cyclic constant --steps 1000
  qembed schedule plot cyclic:num_cycles=2 constant:value=0.25 --steps 50 -o my_schedules.svg
"""
EPILOG = f"examples:\n{TABLE_EXAMPLES}{PLOT_EXAMPLES}\n{SPEC_HELP}"


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "schedule",
        help="inspect superposition schedules",
        description="Inspect superposition schedules, third-party ones included.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    table = actions.add_parser(
        "table",
        help="print the collapse probability of each schedule at every step",
        description="Print the collapse probability each schedule gives at every step of a run.",
        epilog=f"examples:\n{TABLE_EXAMPLES}\n{SPEC_HELP}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    table.add_argument("schedules", nargs="+", metavar="SCHEDULE", help="NAME or NAME:key=value,...")
    table.add_argument("--steps", type=positive_int, default=10, help="total optimizer steps (default 10)")
    table.set_defaults(run=run_table)
    plot = actions.add_parser(
        "plot",
        help="draw the collapse probability of each schedule over a run into an image",
        description="Draw the collapse probability each schedule gives over a run, one panel per "
        "schedule, into an image (needs matplotlib: pip install 'qembed[plot]').",
        epilog=f"examples:\n{PLOT_EXAMPLES}\n{SPEC_HELP}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    plot.add_argument("schedules", nargs="+", metavar="SCHEDULE", help="NAME or NAME:key=value,...")
    plot.add_argument("--steps", type=positive_int, default=100, help="total optimizer steps (default 100)")
    plot.add_argument("-o", "--output", type=Path, default=Path("schedules.png"),
                      help="image to write (default schedules.png; .png, .svg, .pdf, ...)")
    plot.set_defaults(run=run_plot)


def parse_spec(text: str) -> dict[str, Any]:
    """``'cyclic:cycle_steps=4'`` -> ``{'name': 'cyclic', 'cycle_steps': 4}``."""
    name, _, rest = text.partition(":")
    spec: dict[str, Any] = {"name": name}
    for item in filter(None, rest.split(",")):
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"schedule option {item!r} in {text!r} must look like key=value")
        try:
            spec[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            spec[key] = raw
    return spec


def build_schedules(specs: list[str]) -> list[tuple[str, Any]]:
    """``(spec, schedule)`` for each ``NAME:key=value,...`` spec, built by the registry."""
    return [(spec, plugins.create("schedules", parse_spec(spec))) for spec in specs]


def schedule_table(specs: list[str], steps: int) -> str:
    """A table of each schedule's value at every step of a ``steps``-step run."""
    schedules = build_schedules(specs)
    widths = [max(8, len(spec)) for spec, _ in schedules]
    header = "step  " + "  ".join(f"{spec:>{w}}" for (spec, _), w in zip(schedules, widths))
    rows = [header]
    for step in range(steps):
        values = "  ".join(f"{schedule(step, steps):>{w}.4f}" for (_, schedule), w in zip(schedules, widths))
        rows.append(f"{step:>4}  {values}")
    return "\n".join(rows)


def run_table(args: argparse.Namespace) -> int:
    print(schedule_table(args.schedules, args.steps))
    return 0


def run_plot(args: argparse.Namespace) -> int:
    plotting = import_extra("qembed.plotting")
    schedules = build_schedules(args.schedules)
    path = plotting.save_figure(plotting.plot_schedules(schedules, args.steps), args.output)
    print(f"wrote {path}")
    return 0
