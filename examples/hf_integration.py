"""Hugging Face integration: a tiny BERT whose word embeddings are QuantumEmbeddings,
trained twice on qembed's polysemy corpus:

1. by ``QuantumTrainer.from_training_arguments`` from the seed's ``TrainingArguments``;
2. by HF's own ``Trainer`` (``QuantumHFTrainer``: a qembed loss and the superposition
   schedule as a callback, with the quantum metrics in HF's logs).

    python examples/hf_integration.py            # a few minutes on a laptop CPU
    python examples/hf_integration.py --smoke    # seconds: tiny data, the same code path

Needs ``pip install "qembed[hf]"``. TensorBoard: ``tensorboard --logdir OUTPUT_DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from transformers import BertConfig, BertForSequenceClassification, TrainingArguments

from qembed.data import PolysemyCorpus, pad_collate
from qembed.integrations.hf import QuantumHFTrainer, with_quantum_embeddings
from qembed.training import QuantumTrainer


def quantum_bert(corpus: PolysemyCorpus, hidden_size: int) -> BertForSequenceClassification:
    """A randomly initialised BERT (no download) with QuantumEmbeddings as its word embeddings."""
    config = BertConfig(vocab_size=corpus.vocab_size, hidden_size=hidden_size, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=2 * hidden_size, max_position_embeddings=64,
                        num_labels=corpus.num_labels, pad_token_id=corpus.pad_id)
    return with_quantum_embeddings(BertForSequenceClassification(config), num_states=4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny data and model: checks the code path quickly")
    parser.add_argument("--output-dir", default="runs/hf_integration", help="checkpoints and TensorBoard logs")
    options = parser.parse_args()
    out = Path(options.output_dir)
    size = {"num_train": 64, "num_val": 32, "num_test": 4} if options.smoke else {}
    corpus = PolysemyCorpus(seed=0, **size)
    hidden = 32 if options.smoke else 64

    # 1. QuantumTrainer from the seed's TrainingArguments (plus a usable learning rate)
    torch.manual_seed(0)
    training_args = TrainingArguments(
        output_dir=str(out / "quantum-bert-finetuned"),
        num_train_epochs=1 if options.smoke else 3,
        per_device_train_batch_size=8,
        per_device_eval_batch_size=8,
        warmup_steps=4 if options.smoke else 100,
        weight_decay=0.01,
        learning_rate=3e-3,
        logging_dir=str(out / "logs"),
    )
    trainer = QuantumTrainer.from_training_arguments(
        training_args, quantum_bert(corpus, hidden), loss_fn="quantum",
        quantum_training_config={"superposition_schedule": "linear", "uncertainty_regularization": 0.05},
        train_dataset=corpus.train, eval_dataset=corpus.val, data_collator=pad_collate,
    )
    history = trainer.train()
    print(f"QuantumTrainer: val_accuracy {history['val_accuracy'][-1]:.3f}, "
          f"collapse probability {history['collapse_probability'][-1]:.2f}, "
          f"checkpoints in {training_args.output_dir}")

    # 2. HF's own Trainer with a qembed loss and the superposition schedule
    torch.manual_seed(0)
    hf_args = TrainingArguments(
        output_dir=str(out / "hf-trainer"), num_train_epochs=1 if options.smoke else 3,
        per_device_train_batch_size=8, learning_rate=3e-3, logging_steps=4, eval_strategy="epoch",
        save_strategy="no", report_to=["tensorboard"], logging_dir=str(out / "hf-logs"), disable_tqdm=True,
    )
    hf_trainer = QuantumHFTrainer(
        model=quantum_bert(corpus, hidden), args=hf_args, train_dataset=corpus.train, eval_dataset=corpus.val,
        data_collator=pad_collate, quantum_loss={"name": "quantum", "uncertainty_weight": 0.1},
        schedule={"name": "cyclic", "num_cycles": 1},
    )
    hf_trainer.train()
    last = [row for row in hf_trainer.state.log_history if "loss" in row][-1]
    print(f"HF Trainer: loss {last['loss']:.3f}, collapse probability {last['collapse_probability']:.2f}, "
          f"uncertainty {last['uncertainty']:.3f}, eval_loss {hf_trainer.evaluate()['eval_loss']:.3f}")


if __name__ == "__main__":
    main()
