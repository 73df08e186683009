"""``qembed predict RUN_DIR TEXT ...``: each text's label, probabilities and uncertainty,
and each token's sense distribution, as JSON Lines."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EPILOG = """examples:
  qembed predict runs/reviews-20261206-101500 "the bank raised its rates"
  qembed predict runs/reviews-20261206-101500 --input new_reviews.csv --output predictions.jsonl

One JSON object per text and line: {"text", "label", "probabilities": {label: p},
"uncertainty", "tokens": [{"token", "senses": [p per sense], "uncertainty"}]}.
--input reads a .txt file (one text per line) or a .jsonl / .csv / .tsv file or saved
datasets folder (the text field the model was trained with). RUN_DIR is a run folder of
qembed train or a folder written by model.save_pretrained.
"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "predict",
        help="label texts with a trained model: probabilities, uncertainty and each token's senses",
        description="Predict each text's label with the model saved in RUN_DIR (its tokenizer and labels\n"
        "included) and print one JSON object per text.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_arguments(parser)
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="texts to label")
    parser.add_argument("--input", type=Path, metavar="FILE", help="read the texts from this file")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE", help="write JSON Lines here (default: stdout)")
    parser.add_argument("--batch-size", type=int, default=32, metavar="N", help="texts per forward pass (default 32)")
    parser.set_defaults(run=run)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """``RUN_DIR`` and ``--device``, as every command that loads a saved model takes them."""
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="a run folder of qembed train, or a folder model.save_pretrained wrote")
    parser.add_argument("--device", metavar="DEVICE", help="cpu, cuda, cuda:1, mps (default: cuda when available)")


def run(args: argparse.Namespace) -> int:
    from qembed.inference import load

    texts = list(args.texts)
    if args.input is not None and texts:
        raise ValueError("give the texts either as arguments or with --input FILE, not both")
    if args.input is None and not texts:
        raise ValueError("give at least one TEXT, or --input FILE")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be an integer >= 1, got {args.batch_size}")
    predictor = load(args.run_dir, device=args.device)
    if args.input is not None:
        texts = read_texts(args.input, predictor.data_options.get("text_field", "text"))
    if args.output is not None:  # found unwritable before the model runs
        args.output.parent.mkdir(parents=True, exist_ok=True)
    output = args.output.open("w", encoding="utf-8") if args.output is not None else sys.stdout
    try:
        predictions = predictor.predict(texts, batch_size=args.batch_size)
        for prediction in predictions:
            output.write(json.dumps(prediction.to_dict(), ensure_ascii=False) + "\n")
    finally:
        if args.output is not None:
            output.close()
    if args.output is not None:
        print(f"wrote {len(predictions)} predictions to {args.output}")
    return 0


def read_texts(path: Path, text_field: str) -> list[str]:
    """The texts of a ``.txt`` file (one per line) or of a records file's ``text_field``."""
    from qembed.data.text_files import SUFFIXES, TEXT_FIELD, read_records

    field = TEXT_FIELD if SUFFIXES.get(path.suffix.lower()) == "text" else text_field
    tables = read_records(path, fields=[field], name=str(path))
    if None not in tables:
        raise ValueError(f"--input {path} has the splits {', '.join(map(repr, tables))}: give one table")
    texts = [row[field] for row in tables[None].rows]
    for index, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{tables[None].location(index)}: {field!r} is not a text ({text!r})")
    return texts
