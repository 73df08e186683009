"""The ``qembed`` command line.

Every command has ``--help`` with examples. An error is one line on stderr, never a
traceback (``QEMBED_TRACEBACK=1`` shows one for an unexpected error). Exit codes: 0 done,
1 an unexpected error, 2 a usage, config, data or file error, 3 training diverged, 130 / 143
interrupted (Ctrl-C / SIGTERM), 141 stdout closed by its reader (``qembed plugins | head``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from qembed import __version__
from qembed.cli import (demo_command, evaluate_command, explain_command, plot_command, plugins_command,
                        predict_command, schedule_command, train_command)
from qembed.cli.messages import one_line
from qembed.plugins import PluginComponentError, PluginError, PluginHookError

EPILOG = """examples:
  qembed train examples/configs/polysemy.toml      train from a TOML or YAML config
  qembed train examples/configs/polysemy.toml --resume runs/polysemy-20261125-101500
  qembed plot runs/polysemy-20261125-101500        loss, uncertainty, collapse curves as PNG
  qembed evaluate runs/polysemy-20261125-101500    test metrics of the trained model
  qembed predict runs/polysemy-20261125-101500 "the bank raised the loan rate"
  qembed explain runs/polysemy-20261125-101500 "the bank raised the loan rate" -o senses.png
  qembed plugins                       list every component and where it comes from
  qembed plugins --json                the same, for machines
  qembed plugins check qembed-cosine-schedule      run the qembed.testing contracts on a plugin
  qembed schedule table linear cyclic:cycle_steps=4 --steps 8
  qembed schedule plot linear cyclic constant --steps 100
  qembed demo                          the main job
"""


EXIT_FAILURE, EXIT_USAGE, EXIT_DIVERGED, EXIT_BROKEN_PIPE = 1, 2, 3, 141


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
    for module in (train_command, evaluate_command, predict_command, explain_command, plot_command, plugins_command,
                   schedule_command, demo_command):
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except BrokenPipeError:  # `qembed plugins | head`: the reader left; stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return EXIT_BROKEN_PIPE
    except (PluginHookError, PluginComponentError) as err:  # the message names the plugin that failed
        if os.environ.get("QEMBED_TRACEBACK"):
            raise
        print(f"qembed: error: {one_line(err)}", file=sys.stderr)
        return EXIT_FAILURE
    except (PluginError, ValueError, OSError) as err:  # a file that cannot be read or written is OSError
        print(f"qembed: error: {one_line(err)}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as err:  # a bug or a data module's failure: still one line, the traceback on request
        if _diverged(err):
            print(f"qembed: error: {one_line(err)}", file=sys.stderr)
            return EXIT_DIVERGED
        if os.environ.get("QEMBED_TRACEBACK"):
            raise
        print(f"qembed: error: {type(err).__name__}: {one_line(err)} (set QEMBED_TRACEBACK=1 to see where)",
              file=sys.stderr)
        return EXIT_FAILURE


def _diverged(err: Exception) -> bool:
    """Whether ``err`` is a ``TrainingDivergedError`` (looked up, not imported: importing the
    trainer would make every command load torch)."""
    errors = sys.modules.get("qembed.training.errors")
    return errors is not None and isinstance(err, errors.TrainingDivergedError)
