"""Trainer overhead: QuantumTrainer and Lightning against a hand-written loop, side by side.

Both runners train the same small ``QuantumClassifier`` on the same loader, with
the same loss (``QuantumLoss``), optimizer (AdamW), clipping (global norm 1.0) and
``linear`` superposition schedule. QuantumTrainer runs as a user would run it:
progress bar on, TensorBoard logging on, ``log_every_n_steps=50``. The hand-written
loop does the minimum: set the collapse probability, forward, loss, backward, clip,
step. Lightning (when installed: ``pip install 'qembed[lightning]'``) runs the same
model, loss, optimizer, schedule and clipping in a ``LightningModule`` with its
progress bar and TensorBoard logger on and ``log_every_n_steps=50``. Repetitions
rotate which runner goes first; the figure is the median of the per-repetition
ratios of steps per second.

    python benchmarks/overhead.py --repeats 7 --steps 150
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import statistics
import tempfile
import time

import torch

from qembed import plugins
from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from qembed.nn import set_collapse_probability
from qembed.training import QuantumTrainer
from qembed.training.losses import QuantumLoss


def build(corpus: PolysemyCorpus) -> tuple[torch.nn.Module, torch.optim.Optimizer, torch.nn.Module]:
    torch.manual_seed(0)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=32, num_heads=2, num_layers=1,
                              max_length=64)
    return model, torch.optim.AdamW(model.parameters(), lr=1e-3), QuantumLoss(uncertainty_weight=0.1)


def hand_written(corpus: PolysemyCorpus, loader) -> float:
    model, optimizer, loss_fn = build(corpus)
    schedule = plugins.create("schedules", "linear")
    total = len(loader)
    model.train()
    start = time.perf_counter()
    for step, batch in enumerate(loader):
        set_collapse_probability(model, schedule(step, total))
        outputs = model(batch["input_ids"], batch["attention_mask"])
        loss = loss_fn(outputs, batch["labels"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return total / (time.perf_counter() - start)


def quantum_trainer(corpus: PolysemyCorpus, loader) -> float:
    model, optimizer, loss_fn = build(corpus)
    config = {"superposition_schedule": "linear", "quantum_gradient_clipping": True, "max_quantum_grad_norm": 1.0,
              "log_every_n_steps": 50}
    with tempfile.TemporaryDirectory() as log_dir:
        trainer = QuantumTrainer(model, optimizer, loss_fn, config, log_dir=log_dir, progress_bar=True)
        start = time.perf_counter()
        trainer.train(loader, num_epochs=1)
        elapsed = time.perf_counter() - start
    return len(loader) / elapsed


def lightning_trainer(corpus: PolysemyCorpus, loader) -> float:
    import lightning
    from lightning.pytorch.loggers import TensorBoardLogger

    model, optimizer, loss_fn = build(corpus)
    schedule = plugins.create("schedules", "linear")
    total = len(loader)

    class Module(lightning.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def on_train_batch_start(self, batch, batch_idx) -> None:
            set_collapse_probability(self.model, schedule(self.global_step, total))

        def training_step(self, batch, batch_idx):
            loss = loss_fn(self.model(batch["input_ids"], batch["attention_mask"]), batch["labels"])
            self.log("loss", loss)
            return loss

        def configure_optimizers(self):
            return optimizer

    with tempfile.TemporaryDirectory() as log_dir:
        trainer = lightning.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=TensorBoardLogger(log_dir),
                                    log_every_n_steps=50, gradient_clip_val=1.0, enable_checkpointing=False,
                                    enable_model_summary=False, enable_progress_bar=True)
        start = time.perf_counter()
        trainer.fit(Module(), loader)
        elapsed = time.perf_counter() - start
    return total / elapsed


RUNNERS = {"hand-written loop": hand_written, "QuantumTrainer": quantum_trainer}
if importlib.util.find_spec("lightning") is not None:
    RUNNERS["Lightning"] = lightning_trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=150, help="optimizer steps per run (batches of 32)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.getLogger("lightning").setLevel(logging.ERROR)  # keep the figures readable
    corpus = PolysemyCorpus(seed=0, num_train=32 * args.steps, num_val=1, num_test=1)
    loader, _, _ = corpus.loaders(batch_size=32)
    for runner in RUNNERS.values():  # warm up: first-call costs, the TensorBoard import
        runner(corpus, loader)
    rates: dict[str, list[float]] = {name: [] for name in RUNNERS}
    names = list(RUNNERS)
    for repeat in range(args.repeats):
        order = names[repeat % len(names):] + names[:repeat % len(names)]
        for name in order:
            rates[name].append(RUNNERS[name](corpus, loader))
    baseline = rates["hand-written loop"]
    print(f"{args.steps} steps x {args.repeats} repetitions, {args.threads} threads, torch {torch.__version__}")
    for name, values in rates.items():
        ratios = [value / base for value, base in zip(values, baseline)]
        print(f"{name:>20}: {statistics.median(values):7.1f} steps/s, "
              f"ratio to hand-written {statistics.median(ratios):.3f} (median of per-repetition ratios)")


if __name__ == "__main__":
    main()
