"""Loggers as a component kind: one run read back from TensorBoard, CSV, W&B (offline)
and MLflow (a local file store), hyperparameters included; a third-party logger by name."""

from __future__ import annotations

import csv
import json
import struct

import pytest
import torch
import yaml
from hypothesis import given
from hypothesis import strategies as st

from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from qembed.plugins import PluginComponentError, PluginRegistry
from qembed.testing import check_logger
from qembed.training import QuantumTrainer
from qembed.training.config import ConfigError
from qembed.training.hyperparameters import flatten
from qembed_plugins.csv_logger import CSVLogger
from qembed_plugins.mlflow_logger import metric_key

#: metrics every store must hold, under the same names
TAGS = ("train/loss", "train/lr", "train/grad_norm", "train/grad_norm/quantum", "val/loss", "val/accuracy", "epoch/train_loss", "epoch/val_accuracy")


@pytest.fixture(scope="module")
def corpus():
    return PolysemyCorpus(seed=0, num_train=32, num_val=16, num_test=4)


def tiny_trainer(corpus, **options):
    torch.manual_seed(0)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=8, num_heads=2, num_layers=1,
                              max_length=32)
    return QuantumTrainer(model, {"name": "adamw", "lr": 0.01}, "quantum", {"log_every_n_steps": 1, "quantum_gradient_clipping": True},
                          progress_bar=False, **options)


def test_a_run_sends_the_same_metrics_and_hyperparameters_to_every_store(corpus, tmp_path):
    pytest.importorskip("wandb")
    pytest.importorskip("mlflow")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    store = f"file:{tmp_path / 'mlruns'}"
    trainer = tiny_trainer(corpus, log_dir=tmp_path / "run", hyperparameters={"data": {"num_train": 32}}, loggers=[
        "tensorboard", "csv", {"name": "wandb", "dir": str(tmp_path / "wandb")},
        {"name": "mlflow", "tracking_uri": store, "experiment_name": "readback"}])
    train, val, _ = corpus.loaders(batch_size=16)
    history = trainer.train(train, val, num_epochs=2)
    params = trainer.hyperparameters
    assert params["log_every_n_steps"] == 1 and params["optimizer/name"] == "adamw" and params["optimizer/lr"] == 0.01
    assert params["loss/name"] == "quantum" and params["model/class"] == "QuantumClassifier"
    assert params["data/num_train"] == 32 and params["model/parameters"] > 0
    final_val_accuracy = history["val_accuracy"][-1]

    events = EventAccumulator(str(tmp_path / "run"), size_guidance={"scalars": 0})
    events.Reload()
    assert set(TAGS) <= set(events.Tags()["scalars"])
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    session = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    assert session.hparams["optimizer/name"].string_value == "adamw"
    assert session.hparams["data/num_train"].number_value == 32

    with (tmp_path / "run" / "metrics.csv").open() as metrics_file:
        rows = list(csv.DictReader(metrics_file))
    assert set(TAGS) <= set(rows[0])
    assert [float(r["epoch/val_accuracy"]) for r in rows if r["section"] == "epoch"][-1] == pytest.approx(
        final_val_accuracy)
    assert yaml.safe_load((tmp_path / "run" / "hparams.yaml").read_text()) == params

    config, rows, summary = wandb_records(tmp_path / "wandb")
    assert {name: config[name] for name in params} == params
    assert set(TAGS) <= {name for row in rows for name in row}
    assert [row["epoch"] for row in rows if "epoch/train_loss" in row] == [0, 1]
    assert summary["val_accuracy"] == pytest.approx(final_val_accuracy)

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store)
    (run,) = client.search_runs([client.get_experiment_by_name("readback").experiment_id])
    assert run.info.status == "FINISHED" and run.data.params == {name: str(v) for name, v in params.items()}
    assert {metric_key(*tag.split("/", 1)) for tag in TAGS} <= set(run.data.metrics)  # grad_norm.quantum
    assert run.data.metrics["epoch/val_accuracy"] == pytest.approx(final_val_accuracy)
    assert [m.step for m in client.get_metric_history(run.info.run_id, "epoch/train_loss")] == [0, 1]


def wandb_records(folder):
    """The config, history rows and final summary of the one offline W&B run under
    ``folder``, read from its ``run-*.wandb`` file: W&B's record log (a 7-byte header, then
    32 KiB blocks of records, each a 7-byte head (CRC, length, type: full, first, middle,
    last) and a piece of a protobuf ``Record``)."""
    from wandb.proto import wandb_internal_pb2

    (path,) = folder.glob("wandb/offline-run-*/run-*.wandb")
    data, block, position, pieces = path.read_bytes(), 32768, 7, b""
    config, history, summary = {}, [], {}
    while position + 7 <= len(data):
        if block - position % block < 7:  # a block's tail too short for a head is padding
            position += block - position % block
            continue
        length, kind = struct.unpack("<HB", data[position + 4:position + 7])
        pieces, position = pieces + data[position + 7:position + 7 + length], position + 7 + length
        if kind in (1, 4):  # a full record, or a record's last piece
            record = wandb_internal_pb2.Record.FromString(pieces)
            pieces, which = b"", record.WhichOneof("record_type")
            if which == "config":
                config.update({item.key: json.loads(item.value_json) for item in record.config.update})
            elif which == "history":
                history.append({"/".join(item.nested_key) or item.key: json.loads(item.value_json)
                                for item in record.history.item})
            elif which == "summary":
                summary.update({"/".join(item.nested_key) or item.key: json.loads(item.value_json)
                                for item in record.summary.update})
    return config, history, summary


THIRD_PARTY = """
    from qembed import hookimpl

    class Recorder:
        runs = []

        def __init__(self, log_dir, *, tag="x"):
            self.calls, self.tag = [], tag
            Recorder.runs.append(self)

        def start(self, step):
            self.calls.append(("start", step))

        def log_hyperparameters(self, params):
            self.calls.append(("hyperparameters", dict(params)))

        def log_metrics(self, metrics, step, section):
            if self.tag == "boom":
                raise RuntimeError("store unreachable")
            self.calls.append((section, step, dict(metrics)))

        def finish(self, summary):
            self.calls.append(("finish", dict(summary)))

    @hookimpl
    def qembed_register_loggers():
        return {"recorder": Recorder}
"""


def test_a_third_party_logger_installed_through_an_entry_point_works_by_name_and_is_named_when_it_fails(corpus, make_distribution,
                                                                          monkeypatch):
    from qembed.training import trainer as trainer_module

    make_distribution("recorder-logger", "1.0", {"recorder": "recorder_logger"}, {"recorder_logger": THIRD_PARTY})
    registry = PluginRegistry()
    monkeypatch.setattr(trainer_module, "default_registry", lambda: registry)
    trainer = tiny_trainer(corpus, loggers=[{"name": "recorder", "tag": "y"}])
    (logger,) = trainer.loggers
    train, val, _ = corpus.loaders(batch_size=16)
    trainer.train(train, val, num_epochs=1)
    kinds = [call[0] for call in logger.calls]
    assert kinds == ["start", "hyperparameters", "train", "train", "val", "epoch", "finish"]
    assert logger.calls[1][1] == trainer.hyperparameters
    assert logger.calls[-2][1] == 0 and "val_accuracy" in logger.calls[-2][2]

    failing = tiny_trainer(corpus, loggers=[{"name": "recorder", "tag": "boom"}])
    with pytest.raises(PluginComponentError, match=r"logger 'recorder' \(loggers\[0\]\) from recorder-logger 1.0"):
        failing.train(train, val, num_epochs=1)


@pytest.mark.parametrize(("loggers", "message"), [
    (["csv"], r"loggers\[0\]: .*csv logger writes metrics.csv into the run folder; give the trainer a log_dir"),
    (["tensorbord"], r"loggers\[0\]: unknown logger 'tensorbord'.*did you mean 'tensorboard'"),
    ([{"name": "wandb", "mode": "offlin", "dir": "."}], r"loggers\[0\]: .*mode must be one of 'online'"),
    ("csv", r"loggers must be a list of logger names"),
])
def test_a_bad_logger_is_refused_naming_it_before_anything_is_written(corpus, loggers, message):
    with pytest.raises((ConfigError, TypeError), match=message):
        tiny_trainer(corpus, loggers=loggers)


def test_hyperparameters_that_are_no_mapping_are_refused(corpus):
    with pytest.raises(TypeError, match=r"hyperparameters must be a mapping of sections .*got \['data'\]"):
        tiny_trainer(corpus, hyperparameters=["data"])


def test_the_built_in_loggers_honour_the_logger_contract(tmp_path):
    check_logger(CSVLogger, max_examples=15)
    from qembed_plugins.tensorboard import TensorBoardLogger

    check_logger(TensorBoardLogger, max_examples=5)


def test_the_csv_header_grows_and_every_row_keeps_every_column(tmp_path):
    logger = CSVLogger(tmp_path)
    logger.start(0)
    logger.log_metrics({"loss": 1.0}, 1, "train")
    logger.log_metrics({"loss": 0.5, "lr": 0.1}, 2, "train")
    logger.log_metrics({"accuracy": 0.75}, 2, "val")
    logger.finish({})
    with (tmp_path / "metrics.csv").open() as metrics_file:
        rows = list(csv.DictReader(metrics_file))
    assert rows == [
        {"section": "train", "step": "1", "train/loss": "1.0", "train/lr": "", "val/accuracy": ""},
        {"section": "train", "step": "2", "train/loss": "0.5", "train/lr": "0.1", "val/accuracy": ""},
        {"section": "val", "step": "2", "train/loss": "", "train/lr": "", "val/accuracy": "0.75"},
    ]
    logger.start(1)  # resumed at step 1: the rows past it go
    logger.finish({})
    with (tmp_path / "metrics.csv").open() as metrics_file:
        assert [row["step"] for row in csv.DictReader(metrics_file)] == ["1"]


_plain = st.one_of(st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=4))
_keys = st.text("abc_", min_size=1, max_size=3)
_tables = st.recursive(st.dictionaries(_keys, _plain, max_size=3),
                       lambda tables: st.dictionaries(_keys, st.one_of(_plain, tables), max_size=3), max_leaves=12)


def _leaves(table, prefix=""):
    for key, value in table.items():
        yield from _leaves(value, f"{prefix}{key}/") if isinstance(value, dict) else [(f"{prefix}{key}", value)]


@given(_tables)
def test_flatten_keeps_every_plain_leaf_under_its_joined_path(table):
    assert flatten(table) == dict(_leaves(table))


def test_flatten_writes_what_is_not_plain_as_its_str():
    assert flatten({"f": None, "g": (1, 2), "h": {"i": [0.5]}}) == {"f": "None", "g": "(1, 2)", "h/i": "[0.5]"}
