"""The ``qembed`` command line.

Every command has ``--help`` with examples. An error is one line on stderr and
exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from qembed import __version__
from qembed.cli import demo_command, plugins_command, schedule_command
from qembed.plugins import PluginError

EPILOG = """examples:
  qembed plugins                       list every component and where it comes from
  qembed plugins --json                the same, for machines
  qembed schedule table linear cyclic:cycle_steps=4 --steps 8
  qembed demo                          the main job
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qembed",
        description="qembed: train quantum-inspired embedding models.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"qembed {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (plugins_command, schedule_command, demo_command):
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (PluginError, ValueError) as err:
        print(f"qembed: error: {err}", file=sys.stderr)
        return 2
