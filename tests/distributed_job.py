"""A small job for the torchrun tests.

    torchrun --nproc_per_node 2 tests/distributed_job.py OUT distributed [LOSS]   # 2 ranks, 8 examples each
    python tests/distributed_job.py OUT single [LOSS]                           # 1 process, 16 per step
    torchrun --nproc_per_node 2 tests/distributed_job.py OUT replay-full        # 3 epochs with replay
    torchrun --nproc_per_node 2 tests/distributed_job.py OUT replay-stopped     # stops after epoch 2
    torchrun --nproc_per_node 2 tests/distributed_job.py OUT replay-resumed     # resumes it to epoch 3
    torchrun --nproc_per_node 2 tests/distributed_job.py OUT replay-sigterm     # rank 1 alone gets SIGTERM at step 6
    torchrun --nproc_per_node 2 tests/distributed_job.py OUT replay-continued   # resumes its interrupted.pth

LOSS is a registered loss name (default cross_entropy); with "entanglement" the
distributed run sets entanglement_sync, so its loss pools pairs over both ranks.
Without replay there is no randomness (no dropout, no collapse), so the distributed
and single runs must end with the same weights.
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
from qembed.training.interruption import TrainingInterrupted


class StopAfterEpochTwo:
    @hookimpl
    def qembed_on_epoch_end(self, trainer, epoch, metrics):
        if epoch == 1:
            trainer.request_stop()


class SigtermOnRankOne:
    @hookimpl
    def qembed_on_log(self, trainer, step, metrics):
        if step == 6 and trainer.distributed.rank == 1:
            os.kill(os.getpid(), signal.SIGTERM)


def main(out: Path, mode: str, loss: str) -> None:
    distributed = mode != "single"
    replay = mode.startswith("replay")
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    corpus = PolysemyCorpus(seed=0, num_train=64, num_val=20, num_test=4)
    train, val, _ = corpus.loaders(batch_size=8 if distributed else 16, shuffle=replay)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_heads=2, num_layers=1,
                              max_length=32, dropout=0.1 if replay else 0.0, collapse_strategy="argmax")
    config = {"superposition_schedule": {"name": "constant", "value": 0.0}, "distributed_training": distributed,
              "entanglement_sync": distributed and loss == "entanglement", "log_every_n_steps": 2,
              "quantum_memory_replay": {"name": "reservoir", "capacity": 16} if replay else False,
              "quantum_sync": replay}
    spec = {"name": loss, "entanglement_weight": 1.0} if loss == "entanglement" else {"name": loss}
    plugins = {"replay-stopped": [StopAfterEpochTwo()], "replay-sigterm": [SigtermOnRankOne()]}.get(mode, [])
    trainer = QuantumTrainer(model, {"name": "sgd", "lr": 0.1}, spec, config, log_dir=out / "logs",
                             plugins=plugins, progress_bar=False)
    (out / f"seed_{mode}_rank{trainer.distributed.rank if distributed else 0}.txt").write_text(
        str(torch.initial_seed()))  # quantum_sync seeds each rank's collapses with seed + rank
    resume = {"replay-resumed": "last.pth", "replay-continued": "interrupted.pth"}.get(mode)
    name = f"rank{trainer.distributed.rank}" if distributed else "single"
    try:
        history = trainer.train(train, val, num_epochs=3 if replay else 2, checkpoint_dir=out / "checkpoints",
                                resume_from=out / "checkpoints" / resume if resume else None)
    except TrainingInterrupted as stopped:  # every rank stops at the same step
        (out / f"stopped_{name}.txt").write_text(f"{stopped.signum} {trainer.global_step}")
        return
    torch.save(model.state_dict(), out / f"weights_{mode}_{name}.pth")
    (out / f"history_{mode}_{name}.json").write_text(json.dumps(history))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "cross_entropy")
