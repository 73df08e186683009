"""Pre-training: a ``QuantumMaskedLM`` learns the polysemy corpus by masked-language modelling.

The specification's pre-training workflow on qembed's own model and data: BERT-style
masking (``corpus.mlm_loaders``), a cross-entropy loss over the masked tokens, the
``linear`` superposition schedule with entanglement training, and the best weights saved
for fine-tuning (``examples/finetune.py`` loads their encoder).

    python examples/pretrain_mlm.py                # 12 epochs on 4000 sentences, about a minute on 2 CPU cores
    python examples/pretrain_mlm.py --smoke        # tiny corpus and model, 2 epochs, a few seconds
    python examples/pretrain_mlm.py --out runs/mlm # where the files go (default runs/pretrain_mlm)

Writes ``<out>/pretrained_quantum_model.pth``, ``<out>/history.json`` and TensorBoard logs;
prints the masked-token accuracy and perplexity on the validation split.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
from torch.nn import CrossEntropyLoss

from qembed.data import PolysemyCorpus
from qembed.models import QuantumMaskedLM
from qembed.training import QuantumTrainer
from qembed.training.optimizers import QuantumOptimizer

#: The encoder's shape; a classifier takes the pre-trained encoder only if it is built alike.
ENCODER = {"embedding_dim": 64, "num_states": 4, "num_layers": 2, "num_heads": 4, "max_length": 64}
SMOKE_ENCODER = {"embedding_dim": 16, "num_states": 4, "num_layers": 1, "num_heads": 2, "max_length": 32}
EPOCHS = 12


def encoder_shape(smoke: bool) -> dict[str, int]:
    return SMOKE_ENCODER if smoke else ENCODER


def pretrain(corpus: PolysemyCorpus, out: Path, *, epochs: int, smoke: bool, seed: int) -> dict[str, float]:
    """Pre-train on ``corpus``'s training sentences (their labels unused); returns the
    validation metrics of the last epoch's weights (``accuracy``: masked tokens predicted)."""
    torch.manual_seed(seed)
    # sentences are short (8-24 words): masking 30% rather than BERT's 15% gives more targets per epoch
    pretrain_loader, mlm_val_loader = corpus.mlm_loaders(batch_size=32, mask_probability=0.3, seed=seed)
    quantum_model = QuantumMaskedLM(corpus.vocab_size, **encoder_shape(smoke))
    pretrain_optimizer = QuantumOptimizer(quantum_model.parameters(), lr=2e-3)
    mlm_loss = CrossEntropyLoss()  # gets the [B*T, V] logits; unmasked positions (-100) are ignored

    # Pre-train quantum model
    pretrain_config = {
        'superposition_schedule': 'linear',
        'entanglement_training': True,
        'uncertainty_regularization': 0.05
    }

    pretrainer = QuantumTrainer(
        model=quantum_model,
        optimizer=pretrain_optimizer,
        loss_fn=mlm_loss,
        quantum_training_config=pretrain_config,
        log_dir=out,  # TensorBoard logs and history.json
    )

    # Pre-train
    pretrainer.train(
        train_dataloader=pretrain_loader,
        num_epochs=epochs,
        save_best_model=True,
        model_save_path=out / "pretrained_quantum_model.pth"
    )
    return pretrainer.validate(mlm_val_loader)


def unigram_perplexity(corpus: PolysemyCorpus) -> float:
    """Perplexity on the validation tokens of guessing by the training tokens' frequencies
    (add-one smoothed): a model below it has learnt something from the context."""
    counts = torch.bincount(torch.cat([item["input_ids"] for item in corpus.train]), minlength=corpus.vocab_size)
    log_frequency = ((counts + 1) / (counts + 1).sum()).log()
    return math.exp(-log_frequency[torch.cat([item["input_ids"] for item in corpus.val])].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs") / "pretrain_mlm", help="output folder")
    parser.add_argument("--smoke", action="store_true", help="tiny corpus and model, 2 epochs")
    args = parser.parse_args()

    sizes = {"num_train": 128, "num_val": 64, "num_test": 1} if args.smoke else {}
    corpus = PolysemyCorpus(seed=args.seed, **sizes)
    metrics = pretrain(corpus, args.out, epochs=2 if args.smoke else args.epochs, smoke=args.smoke, seed=args.seed)
    print(f"masked-token accuracy {metrics['accuracy']:.3f} on the validation split, perplexity "
          f"{math.exp(metrics['nll']):.1f} (guessing by token frequency: {unigram_perplexity(corpus):.1f})")
    print(f"pre-trained model: {args.out / 'pretrained_quantum_model.pth'}")


if __name__ == "__main__":
    main()
