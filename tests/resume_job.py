"""A small training job run in subprocesses by the checkpoint tests.

    python tests/resume_job.py full OUT            # 4 epochs, uninterrupted
    python tests/resume_job.py killed OUT          # SIGKILLs itself once epoch 2's last.pth is written
    python tests/resume_job.py resume OUT          # resumes OUT/checkpoints/last.pth, num_epochs=4
    python tests/resume_job.py best-forever OUT    # saves the best model and last.pth every epoch, forever
    python tests/resume_job.py SIGINT@3 OUT        # sends itself SIGINT (or SIGTERM) at optimizer step 3
    python tests/resume_job.py resume=FILE OUT     # resumes OUT/checkpoints/FILE (best: the kept best), num_epochs=4
    python tests/resume_job.py cli SIGTERM@3 ARGS  # `qembed ARGS`, signalling itself at optimizer step 3

Shuffling, dropout, collapse sampling, a cyclic schedule and reservoir replay are on,
so an inexact resume would show.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import torch

from qembed import hookimpl
from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from qembed.training import QuantumTrainer


class KillAfterEpochTwo:
    @hookimpl
    def qembed_on_checkpoint(self, trainer, path):
        if path.endswith("last.pth") and trainer.epoch == 2:
            os.kill(os.getpid(), signal.SIGKILL)


class SignalAtStep:
    """Sends this process ``signum`` once, when optimizer step ``step`` is logged."""

    def __init__(self, spec: str) -> None:
        name, _, step = spec.partition("@")
        self.signum, self.step = signal.Signals[name], int(step)

    @hookimpl
    def qembed_on_log(self, trainer, step, metrics):
        if step == self.step:
            os.kill(os.getpid(), self.signum)


def main(mode: str, out: Path) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    corpus = PolysemyCorpus(seed=0, num_train=96, num_val=32, num_test=4)
    train, val, _ = corpus.loaders(batch_size=16, seed=0)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_heads=2, num_layers=1,
                              max_length=32, dropout=0.1, collapse_strategy="sample")
    config = {"superposition_schedule": {"name": "cyclic", "cycle_steps": 4}, "log_every_n_steps": 2,
              "quantum_memory_replay": {"name": "reservoir", "capacity": 32, "replay_ratio": 0.25}}
    plugins = [KillAfterEpochTwo()] if mode == "killed" else [SignalAtStep(mode)] if "@" in mode else []
    trainer = QuantumTrainer(model, {"name": "adamw", "lr": 3e-3}, "quantum", config, log_dir=out / "logs",
                             plugins=plugins, progress_bar=False)
    checkpoints = out / "checkpoints"
    if mode == "best-forever":
        trainer.train(train, num_epochs=10_000, save_best_model=True, model_save_path=out / "best_model.pth",
                      checkpoint_dir=checkpoints)
        return
    name = "last.pth" if mode == "resume" else mode.partition("=")[2]
    best = next(checkpoints.glob("epoch=*"), None)  # the kept top-1 checkpoint (epoch=E-step=S-val_loss=V.pth)
    resume = (best if name == "best" else checkpoints / name) if "resume" in mode else None
    history = trainer.train(train, val, num_epochs=4, checkpoint_dir=checkpoints, resume_from=resume)
    torch.save(model.state_dict(), out / "final_weights.pth")
    (out / "final_history.json").write_text(json.dumps(history))


def cli(spec: str, argv: list[str]) -> int:
    from qembed.cli import main as qembed
    from qembed.plugins import register

    register(SignalAtStep(spec), "signal-at-step")
    return qembed(argv)


if __name__ == "__main__":
    if sys.argv[1] == "cli":
        sys.exit(cli(sys.argv[2], sys.argv[3:]))
    main(sys.argv[1], Path(sys.argv[2]))
