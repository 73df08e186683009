"""``qembed explain RUN_DIR TEXT ...``: a picture of each token's senses in context."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from qembed.cli.extras import import_extra
from qembed.cli.predict_command import add_model_arguments

SENSES_FILE = "senses.png"
EPILOG = f"""examples:
  qembed explain runs/polysemy-20261206-101500 "the bank raised the loan rate" "the fish swam past the river bank"
  qembed explain runs/reviews-20261206-101500 "a long dull film" -o film.svg

One heatmap per text: a row per token, a column per sense (its probability in this
context), each token's sense uncertainty beside it, and the text's predicted label and
uncertainty above. Writes {SENSES_FILE} unless -o names another file (.png or .svg).
Needs matplotlib: pip install 'qembed[plot]'.
"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "explain",
        help="draw each token's sense probabilities in context as a heatmap",
        description="Draw, for each text, which sense the model saved in RUN_DIR gives each token and how\n"
        "sure it is.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_arguments(parser)
    parser.add_argument("texts", nargs="+", metavar="TEXT", help="one or more texts")
    parser.add_argument("-o", "--output", type=Path, default=Path(SENSES_FILE),
                        help=f"image to write (default {SENSES_FILE}; .png or .svg)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import_extra("qembed.plotting")
    from qembed.inference import load

    if args.output.suffix.lower() not in (".png", ".svg"):
        raise ValueError(f"-o {args.output}: write a .png or .svg file")
    load(args.run_dir, device=args.device).explain(args.texts, path=args.output)
    print(f"wrote {args.output}")
    return 0
