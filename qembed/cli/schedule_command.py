"""``qembed schedule table``: the values schedules give over a run."""

from __future__ import annotations

import argparse
import ast
from typing import Any

from qembed import plugins

EPILOG = """examples:
  qembed schedule table linear cyclic constant --steps 10
  qembed schedule table cyclic:cycle_steps=4 constant:value=0.25 --steps 8

A schedule is NAME or NAME:option=value,option=value; values are Python
literals (numbers, True/False, quoted strings) or bare words.
"""


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
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    table.add_argument("schedules", nargs="+", metavar="SCHEDULE", help="NAME or NAME:key=value,...")
    table.add_argument("--steps", type=_positive_int, default=10, help="total optimizer steps (default 10)")
    table.set_defaults(run=run_table)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


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


def schedule_table(specs: list[str], steps: int) -> str:
    """A table of each schedule's value at every step of a ``steps``-step run."""
    schedules = [(spec, plugins.create("schedules", parse_spec(spec))) for spec in specs]
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
