"""The ``qembed`` command line.

Every command has ``--help`` with examples. An error is one line on stderr and
exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from qembed import __version__
from qembed.cli import demo_command, plot_command, plugins_command, schedule_command, train_command
from qembed.cli.messages import one_line
from qembed.plugins import PluginError

EPILOG = """examples:
  qembed train examples/configs/polysemy.toml      train from a TOML or YAML config
  qembed train examples/configs/polysemy.toml --resume runs/polysemy-20261125-101500
  qembed plot runs/polysemy-20261125-101500        loss, uncertainty, collapse curves as PNG
  qembed plugins                       list every component and where it comes from
  qembed plugins --json                the same, for machines
  qembed plugins check qembed-cosine-schedule      run the qembed.testing contracts on a plugin
  qembed schedule table linear cyclic:cycle_steps=4 --steps 8
  qembed schedule plot linear cyclic constant --steps 100
  qembed demo                          the main job
"""


class OneLineErrors(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line (``qembed: error: ...``,
    naming the command) and exit code 2, like every other qembed error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(
        prog="qembed",
        description="qembed: train quantum-inspired embedding models.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"qembed {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (train_command, plot_command, plugins_command, schedule_command, demo_command):
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (PluginError, ValueError, OSError) as err:  # a file that cannot be read or written is OSError
        print(f"qembed: error: {one_line(err)}", file=sys.stderr)
        return 2
