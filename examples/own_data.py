"""Your own data, end to end: a CSV file to a trained, saved, reloaded and explained model.

Writes a CSV of labelled texts (the embedded polysemy corpus's sentences as plain text, the
topic of each sentence's ambiguous word as its label), reads it with ``TextCorpus`` (a BPE
tokenizer trained on it), trains a ``QuantumClassifier``, tests it, saves it with its
tokenizer and labels, reloads it with ``qembed.load`` and labels two "bank" sentences, then
draws each token's senses in them (docs/your_own_data.md).

    python examples/own_data.py                  # 2000 texts, 10 epochs, about 30 s on 2 CPU cores
    python examples/own_data.py --smoke          # 300 texts, 2 epochs, a few seconds
    python examples/own_data.py --out runs/own   # where the files go (default runs/own_data)

Writes ``<out>/reviews.csv``, ``<out>/model/`` (config.json, model.safetensors, tokenizer/,
labels.json) and ``<out>/senses.png``; prints the test metrics and each sentence's label,
uncertainty and the senses of "bank".
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import torch

import qembed
from qembed.data import PolysemyCorpus, TextCorpus
from qembed.models import QuantumClassifier
from qembed.training import QuantumTrainer

SENTENCES = ["we saw the teller at the bank with cash", "the river bank was mud and grass after the rain"]


def write_csv(path: Path, rows: int, seed: int) -> None:
    """``rows`` labelled texts with a real signal: the cue words around the ambiguous word."""
    corpus = PolysemyCorpus(seed=seed, num_train=rows, num_val=0, num_test=0)
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["text", "label"])
        for item in corpus.train:
            writer.writerow([corpus.decode(item["input_ids"]), corpus.label_names[item["labels"]]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs") / "own_data", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="300 texts, a smaller model, 2 epochs")
    args = parser.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "reviews.csv", 300 if args.smoke else 2000, args.seed)

    data = TextCorpus(args.out / "reviews.csv", max_length=64, seed=args.seed)  # 80/10/10 splits
    train, val, test = data.loaders(batch_size=32, seed=args.seed)
    torch.manual_seed(args.seed)
    model = QuantumClassifier(data.vocab_size, data.num_labels, embedding_dim=16 if args.smoke else 32, num_heads=2,
                              num_layers=1, max_length=data.max_sequence_length)
    trainer = QuantumTrainer(model, {"name": "quantum", "lr": 3e-3, "quantum_learning_rate": 1e-2},
                             {"name": "quantum", "uncertainty_weight": 0.05}, {"log_every_n_steps": 10},
                             progress_bar=False,
                             epoch_table=True, seed=args.seed)
    trainer.train(train, val, num_epochs=2 if args.smoke else args.epochs)
    metrics = trainer.test(test)
    print(f"test accuracy {metrics['accuracy']:.3f} (chance {1 / data.num_labels:.3f}), "
          f"loss {metrics['loss']:.4f}, calibration error {metrics['ece']:.3f}")

    model.save_pretrained(args.out / "model", tokenizer=data.tokenizer, labels=data.labels,
                          data_options=data.options)
    predictor = qembed.load(args.out / "model")
    for prediction in predictor.predict(SENTENCES):
        bank = next(token for token in prediction.tokens if token.token == "bank")
        senses = " ".join(f"{p:.2f}" for p in bank.senses)
        print(f"{prediction.text!r}: {prediction.label} (p {prediction.probabilities[prediction.label]:.2f}, "
              f"uncertainty {prediction.uncertainty:.2f}); bank's senses {senses}")
    predictor.explain(SENTENCES, path=args.out / "senses.png")
    print(f"wrote {args.out / 'senses.png'}")


if __name__ == "__main__":
    main()
