"""The TensorBoard logger plugin, read back from the event files it writes."""

from __future__ import annotations

import pytest
import torch

from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from qembed.training import QuantumTrainer

pytestmark = pytest.mark.slow


def test_event_files_hold_train_val_epoch_scalars_histograms_and_hparams_in_one_run(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    torch.manual_seed(0)
    corpus = PolysemyCorpus(seed=0, num_train=64, num_val=16, num_test=4)
    train, val, _ = corpus.loaders(batch_size=16)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=16, num_heads=2, num_layers=1,
                              max_length=32)
    config = {"superposition_schedule": "linear", "log_every_n_steps": 2, "quantum_gradient_clipping": True}
    trainer = QuantumTrainer(model, "adamw", "quantum", config, log_dir=tmp_path, progress_bar=False)
    history = trainer.train(train, val, num_epochs=2)

    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == []  # hparams in the same run
    accumulator = EventAccumulator(str(tmp_path), size_guidance={"histograms": 0, "scalars": 0})
    accumulator.Reload()
    scalars = set(accumulator.Tags()["scalars"])
    for tag in ("train/loss", "train/quantum_loss", "train/uncertainty", "train/collapse_probability", "train/lr",
                "train/grad_norm", "train/grad_norm/quantum", "train/grad_norm/classical",
                "val/loss", "val/accuracy", "val/ece", "epoch/train_loss", "epoch/val_accuracy"):
        assert tag in scalars, tag
    assert [e.step for e in accumulator.Scalars("train/loss")] == [2, 4, 6, 8]
    assert [e.step for e in accumulator.Scalars("epoch/train_loss")] == [0, 1]
    assert [e.value for e in accumulator.Scalars("epoch/train_loss")] == pytest.approx(history["train_loss"])
    assert {"epoch/sense_probabilities", "epoch/pair_entanglement"} <= set(accumulator.Tags()["histograms"])
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = accumulator.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    session = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    assert session.hparams["superposition_schedule"].string_value == "linear"
    assert session.hparams["log_every_n_steps"].number_value == 2
    final = accumulator.Scalars("hparams/val_accuracy")
    assert final[-1].value == pytest.approx(history["val_accuracy"][-1])
