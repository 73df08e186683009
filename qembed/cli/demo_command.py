"""``qembed demo``: the main job of ``make demo``.

Until the trainer lands it shows what a fresh install provides: every plugin
component, and the built-in schedules over a short run.
"""

from __future__ import annotations

import argparse
from typing import Any

from qembed.cli import plugins_command, schedule_command
from qembed.plugins import default_registry


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "demo",
        help="show the installed components and the built-in schedules",
        description="Show the installed plugin components and the collapse probability "
        "each registered schedule gives over a 12-step run.",
        epilog="example:\n  qembed demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    listing = plugins_command.collect(default_registry())
    print(plugins_command.render(listing))
    names = [entry["name"] for entry in listing["kinds"]["schedules"]]
    if names:
        print("\ncollapse probability per optimizer step (12-step run)")
        print(schedule_command.schedule_table(names, 12))
    return 0
