"""Train ``QuantumClassifier`` on the embedded polysemy corpus with a plain PyTorch
loop, then score how well context-aware collapse picks each ambiguous word's
ground-truth sense.

    python examples/handwritten_loop.py            # 12 epochs, about a minute on 2 CPU cores
    python examples/handwritten_loop.py --smoke    # a few seconds

The collapse probability rises linearly from 0 to 1 over training (the ``linear``
schedule), set on the model with ``qembed.nn.set_collapse_probability``.
"""

from __future__ import annotations

import argparse

import torch

from qembed import plugins
from qembed.data import PolysemyCorpus
from qembed.metrics import collect_sense_choices, sense_accuracy
from qembed.models import QuantumClassifier
from qembed.nn import set_collapse_probability


@torch.no_grad()
def accuracy(model: torch.nn.Module, loader) -> float:
    model.eval()
    correct = total = 0
    for batch in loader:
        logits = model(batch["input_ids"], batch["attention_mask"]).logits
        correct += int((logits.argmax(-1) == batch["labels"]).sum())
        total += len(batch["labels"])
    model.train()
    return correct / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--collapse", default="context_aware", help="collapse strategy name")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="tiny corpus and one epoch")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    sizes = dict(num_train=256, num_val=128, num_test=128) if args.smoke else {}
    epochs = 1 if args.smoke else args.epochs
    corpus = PolysemyCorpus(seed=args.seed, **sizes)
    train, val, test = corpus.loaders(batch_size=32, seed=args.seed)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, max_length=64, collapse_strategy=args.collapse)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    schedule = plugins.create("schedules", "linear")

    total_steps, step = epochs * len(train), 0
    for epoch in range(epochs):
        for batch in train:
            set_collapse_probability(model, schedule(step, total_steps))
            loss = model(batch["input_ids"], batch["attention_mask"], labels=batch["labels"]).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            step += 1
        print(f"epoch {epoch + 1}/{epochs}: val accuracy {accuracy(model, val):.3f}")

    senses = sense_accuracy(collect_sense_choices(model, val), collect_sense_choices(model, test))
    print(f"test accuracy {accuracy(model, test):.3f} (chance {1 / corpus.num_labels:.3f})")
    print(f"sense accuracy of {args.collapse} collapse {senses.accuracy:.3f} on {senses.count} ambiguous tokens "
          f"(most-frequent-sense baseline {senses.baseline:.3f}: what a collapse that ignores context scores)")


if __name__ == "__main__":
    main()
