"""Hugging Face integration overhead: the same quantum BERT trained by a hand-written loop,
by HF's own ``Trainer`` with qembed's callback and loss (``QuantumHFTrainer``), and by
``QuantumTrainer.from_training_arguments``, side by side.

Every runner trains a tiny ``BertForSequenceClassification`` whose word embeddings are
``QuantumEmbeddings`` (``with_quantum_embeddings``) for one epoch of the polysemy corpus,
with ``QuantumLoss``, AdamW at lr 1e-3 with HF's linear LR schedule, global-norm clipping
at 1.0 and the ``linear`` superposition schedule. The two trainers log every 50 steps to
TensorBoard with their progress bars off; the hand-written loop does only the work.
Repetitions rotate which runner goes first; each figure is the median of the
per-repetition ratios of steps per second to the hand-written loop.

    python benchmarks/hf_overhead.py --repeats 7 --steps 150
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time

import torch
from transformers import BertConfig, BertForSequenceClassification, TrainingArguments, get_scheduler
from transformers.utils import logging as hf_logging

from qembed import plugins
from qembed.data import PolysemyCorpus, pad_collate
from qembed.integrations.hf import QuantumHFTrainer, with_quantum_embeddings
from qembed.nn import set_collapse_probability
from qembed.training import QuantumTrainer
from qembed.training.losses import QuantumLoss

BATCH = 32


def quantum_bert(corpus: PolysemyCorpus) -> BertForSequenceClassification:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=corpus.vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=64, num_labels=corpus.num_labels,
                        pad_token_id=corpus.pad_id)
    return with_quantum_embeddings(BertForSequenceClassification(config))


def arguments(folder: str, steps: int) -> TrainingArguments:
    return TrainingArguments(output_dir=folder, num_train_epochs=1, per_device_train_batch_size=BATCH,
                             learning_rate=1e-3, logging_steps=50, logging_dir=folder, report_to=["tensorboard"],
                             save_strategy="no", disable_tqdm=True, use_cpu=True, dataloader_pin_memory=False)


def hand_written(corpus: PolysemyCorpus, steps: int) -> float:
    model = quantum_bert(corpus)
    loss_fn = QuantumLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    scheduler = get_scheduler("linear", optimizer, num_warmup_steps=0, num_training_steps=steps)
    schedule = plugins.create("schedules", "linear")
    loader = torch.utils.data.DataLoader(corpus.train, batch_size=BATCH, shuffle=True, collate_fn=pad_collate)
    model.train()
    start = time.perf_counter()
    for step, batch in enumerate(loader):
        set_collapse_probability(model, schedule(step, steps))
        outputs = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        loss_fn(outputs, batch["labels"]).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    return steps / (time.perf_counter() - start)


def hf_trainer(corpus: PolysemyCorpus, steps: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        trainer = QuantumHFTrainer(model=quantum_bert(corpus), args=arguments(folder, steps),
                                   train_dataset=corpus.train, data_collator=pad_collate, quantum_loss="quantum")
        start = time.perf_counter()
        trainer.train()
        return steps / (time.perf_counter() - start)


def quantum_trainer(corpus: PolysemyCorpus, steps: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        trainer = QuantumTrainer.from_training_arguments(
            arguments(folder, steps), quantum_bert(corpus), "quantum", {"superposition_schedule": "linear"},
            train_dataset=corpus.train, data_collator=pad_collate, optimizer="adamw")
        start = time.perf_counter()
        trainer.train()
        return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=150, help="optimizer steps per run (one epoch)")
    parser.add_argument("--threads", type=int, default=2)
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    hf_logging.set_verbosity_error()
    logging.getLogger("qembed").setLevel(logging.ERROR)
    corpus = PolysemyCorpus(seed=0, num_train=options.steps * BATCH, num_val=0, num_test=0)
    runners = {"hand-written loop": hand_written, "HF Trainer + QuantumCallback": hf_trainer,
               "QuantumTrainer.from_training_arguments": quantum_trainer}
    rates: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    for repeat in range(options.repeats):
        order = names[repeat % len(names):] + names[:repeat % len(names)]
        for name in order:
            rates[name].append(runners[name](corpus, options.steps))
    base = rates["hand-written loop"]
    print(f"{options.steps} steps of {BATCH}, {options.repeats} repetitions, {options.threads} threads")
    for name, values in rates.items():
        ratio = statistics.median(v / b for v, b in zip(values, base))
        print(f"{name:40s} {statistics.median(values):7.1f} steps/s   x{ratio:.3f} of the hand-written loop")


if __name__ == "__main__":
    main()
