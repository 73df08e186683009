"""LR schedulers as a plugin kind: the warmup schedules' shape (properties), every built-in
against the contract check, the trainer building one by name over the run's steps, and a
third party's schedule through a real entry point."""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qembed import hookimpl, plugins
from qembed.data import PolysemyCorpus
from qembed.models import QuantumClassifier
from qembed.plugins import PluginLoadError, PluginRegistry
from qembed.testing import check_lr_scheduler
from qembed.testing.lr_schedulers import learning_rates, stand_in_optimizer
from qembed.training import QuantumTrainer
from qembed.training import trainer as trainer_module
from qembed_plugins.lr_schedulers import warmup_constant, warmup_cosine, warmup_linear

DECAYING = {"warmup_cosine": warmup_cosine, "warmup_linear": warmup_linear}

runs = st.integers(1, 400).flatmap(lambda total: st.tuples(st.just(total), st.integers(0, total)))


def rates_over(factory, base: float, total_steps: int, **options) -> list[float]:
    """The rate of each step 0..total_steps (the last: after the run's final step)."""
    optimizer = stand_in_optimizer([base])
    scheduler = factory(optimizer, total_steps=total_steps, **options)
    rates = [optimizer.param_groups[0]["lr"]]
    for _ in range(total_steps):
        optimizer.step()
        scheduler.step()
        rates.append(optimizer.param_groups[0]["lr"])
    return rates


@settings(max_examples=40, deadline=None)
@given(run=runs, base=st.floats(1e-6, 10.0), min_lr_ratio=st.floats(0.0, 1.0), name=st.sampled_from(sorted(DECAYING)))
def test_warmup_rises_from_zero_to_the_base_then_decays_to_min_lr_ratio(run, base, min_lr_ratio, name):
    total_steps, warmup_steps = run
    rates = rates_over(DECAYING[name], base, total_steps, warmup_steps=warmup_steps, min_lr_ratio=min_lr_ratio)
    assert all(math.isfinite(rate) and rate >= 0 for rate in rates)
    tolerance = 1e-9 * base
    warmup, decay = rates[: warmup_steps + 1], rates[warmup_steps:]
    assert warmup[0] == (0.0 if warmup_steps else pytest.approx(base))
    assert all(a < b for a, b in zip(warmup, warmup[1:]))
    assert decay[0] == pytest.approx(base)
    assert all(b <= a + tolerance for a, b in zip(decay, decay[1:]))
    if warmup_steps < total_steps:
        assert rates[-1] == pytest.approx(min_lr_ratio * base, abs=tolerance)


@settings(max_examples=30, deadline=None)
@given(run=runs, base=st.floats(1e-6, 10.0))
def test_warmup_constant_rises_then_stays(run, base):
    total_steps, warmup_steps = run
    rates = rates_over(warmup_constant, base, total_steps, warmup_steps=warmup_steps)
    assert all(a < b for a, b in zip(rates[: warmup_steps + 1], rates[1: warmup_steps + 1]))
    assert rates[warmup_steps:] == [pytest.approx(base)] * (total_steps - warmup_steps + 1)


@settings(max_examples=30, deadline=None)
@given(total_steps=st.integers(1, 400), ratio=st.floats(0.0, 1.0))
def test_warmup_ratio_is_that_share_of_the_run_rounded_up(total_steps, ratio):
    rates = rates_over(warmup_linear, 1.0, total_steps, warmup_ratio=ratio)
    warmup_steps = math.ceil(ratio * total_steps)
    assert rates[warmup_steps] == pytest.approx(1.0)
    assert warmup_steps == 0 or rates[warmup_steps - 1] < 1.0


@settings(max_examples=25, deadline=None)
@given(run=runs, stop=st.data(), name=st.sampled_from(["warmup_cosine", "warmup_linear", "warmup_constant"]))
def test_a_warmup_schedule_restored_mid_run_continues_identically(run, stop, name):
    total_steps, warmup_steps = run
    factory = plugins.available("lr_schedulers")[name].factory
    at = stop.draw(st.integers(0, total_steps))
    optimizer = stand_in_optimizer([0.3, 0.01])
    scheduler = factory(optimizer, total_steps=total_steps, warmup_steps=warmup_steps)
    for _ in range(at):
        optimizer.step()
        scheduler.step()
    buffer = io.BytesIO()
    torch.save((optimizer.state_dict(), scheduler.state_dict()), buffer)
    twin_optimizer = stand_in_optimizer([0.3, 0.01])
    twin = factory(twin_optimizer, total_steps=total_steps, warmup_steps=warmup_steps)
    optimizer_state, scheduler_state = torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    twin_optimizer.load_state_dict(optimizer_state)
    twin.load_state_dict(scheduler_state)
    for _ in range(at, total_steps):
        for each, its_scheduler in ((optimizer, scheduler), (twin_optimizer, twin)):
            each.step()
            its_scheduler.step()
        assert learning_rates(twin_optimizer) == learning_rates(optimizer)


@pytest.mark.parametrize(("options", "message"), [
    ({"warmup_steps": 5, "warmup_ratio": 0.1}, "give warmup_steps or warmup_ratio, not both"),
    ({"warmup_steps": 11}, r"warmup_steps must be in \[0, 10\], got 11"),
    ({"warmup_ratio": 1.5}, "warmup_ratio must be"),
    ({"min_lr_ratio": -0.1}, "min_lr_ratio must be"),
    ({"warmup_steps": "5"}, "warmup_steps must be an integer"),
])
def test_a_bad_warmup_option_is_named(options, message):
    with pytest.raises((TypeError, ValueError), match=message):
        warmup_cosine(stand_in_optimizer([0.1]), total_steps=10, **options)


@pytest.mark.parametrize(("name", "options"), [
    ("warmup_cosine", {"warmup_ratio": 0.2, "min_lr_ratio": 0.1}),
    ("warmup_linear", {"warmup_steps": 0}),
    ("warmup_constant", {}),
    ("StepLR", {"step_size": 3}),
    ("OneCycleLR", {"max_lr": 0.5}),
    ("CosineAnnealingLR", {"T_max": 7}),
])
def test_the_built_ins_honour_the_contract(name, options):
    check_lr_scheduler(plugins.available("lr_schedulers")[name].factory, max_examples=10, max_total_steps=60,
                       **options)


def test_a_torch_class_option_of_the_wrong_type_is_named():
    with pytest.raises(ValueError, match="invalid options for LR scheduler 'StepLR': StepLR step_size must be int, "
                                         "got '3'"):
        plugins.create("lr_schedulers", {"name": "StepLR", "step_size": "3"}, stand_in_optimizer([0.1]),
                       total_steps=5)


@pytest.fixture(scope="module")
def corpus() -> PolysemyCorpus:
    return PolysemyCorpus(seed=0, num_train=48, num_val=16, num_test=4)


def trainer_for(corpus, lr_scheduler, **options) -> QuantumTrainer:
    torch.manual_seed(0)
    model = QuantumClassifier(corpus.vocab_size, corpus.num_labels, embedding_dim=8, num_heads=2, num_layers=0,
                              max_length=32)
    return QuantumTrainer(model, {"name": "adamw", "lr": 0.1}, "cross_entropy", lr_scheduler=lr_scheduler,
                          progress_bar=False, **options)


class StopAfterEpoch:
    """Stops the run after epoch ``epoch`` (counted from 0)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    @hookimpl
    def qembed_on_epoch_end(self, trainer, epoch, metrics):
        if epoch == self.epoch:
            trainer.request_stop()


def test_a_schedule_by_name_spans_the_run_and_resumes_where_it_stopped(corpus, tmp_path):
    train, _, _ = corpus.loaders(batch_size=8)  # 6 optimizer steps per epoch
    spec = {"name": "warmup_cosine", "warmup_steps": 4, "min_lr_ratio": 0.1}
    straight = trainer_for(corpus, spec)
    assert straight.lr_scheduler is None  # built when train() knows the run's steps
    history = straight.train(train, num_epochs=3)
    assert straight.lr_scheduler.lr_lambdas[0].total_steps == 18
    assert history["lr"][-1] == pytest.approx(0.01)
    first = trainer_for(corpus, spec, plugins=[StopAfterEpoch(1)])
    first.train(train, num_epochs=3, checkpoint_dir=tmp_path)
    assert len(first.training_history["lr"]) == 2
    resumed = trainer_for(corpus, spec)
    resumed.train(train, num_epochs=3, resume_from=tmp_path / "last.pth")
    assert resumed.training_history["lr"] == history["lr"]
    with pytest.raises(ValueError, match=r"lr_scheduler: invalid options for LR scheduler 'warmup_cosine'.*"
                                         r"warmup_steps must be in \[0, 6\], got 7"):
        trainer_for(corpus, {"name": "warmup_cosine", "warmup_steps": 7}).train(train, num_epochs=1)


THIRD_PARTY = """
from qembed import hookimpl
from torch.optim.lr_scheduler import LambdaLR


def halving(optimizer, *, total_steps, every=1):
    return LambdaLR(optimizer, lambda step: 0.5 ** (step // every))


@hookimpl
def qembed_register_lr_schedulers():
    return {"halving": halving}
"""


def test_a_third_party_schedule_registers_through_its_entry_point(make_distribution, monkeypatch, corpus):
    make_distribution("halving-lr", "1.0", {"halving": "halving_lr"}, {"halving_lr": THIRD_PARTY})
    registry = PluginRegistry()
    monkeypatch.setattr(trainer_module, "default_registry", lambda: registry)
    assert registry.available("lr_schedulers")["halving"].distribution == "halving-lr"
    train, _, _ = corpus.loaders(batch_size=8)
    trainer = trainer_for(corpus, {"name": "halving", "every": 2})
    history = trainer.train(train, num_epochs=1)
    assert history["lr"] == [pytest.approx(0.1 * 0.5**3)]


@pytest.mark.slow
def test_the_cli_trains_with_a_third_party_schedule(make_distribution, tmp_path):
    site = make_distribution("halving-lr", "1.0", {"halving": "halving_lr"}, {"halving_lr": THIRD_PARTY})
    config = tmp_path / "run.toml"
    config.write_text('[model]\nname = "QuantumClassifier"\nembedding_dim = 8\nnum_heads = 2\nnum_layers = 0\n'
                      '[data]\nnum_train = 16\nnum_val = 8\nbatch_size = 8\n'
                      '[optimizer]\nname = "adamw"\nlr = 0.1\n'
                      '[lr_scheduler]\nname = "halving"\nevery = 1\n'
                      '[training]\nepochs = 1\nlog_dir = "runs/{name}"\nprogress_bar = false\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path])}
    done = subprocess.run([sys.executable, "-m", "qembed", "train", str(config)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "runs" / "run" / "history.json").is_file()
    refused = subprocess.run([sys.executable, "-m", "qembed", "train", str(config), "--dry-run", "--set",
                              "lr_scheduler.evry=1"], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=300)
    assert refused.returncode == 2 and "[lr_scheduler] unknown key 'evry' (did you mean 'every'?)" in refused.stderr


@pytest.mark.parametrize(("name", "accepted"), [("Halving", True), ("halving_2", True), ("HalvingLR2", True),
                                                ("halving-2", False), ("Halving_LR", False), ("2Halving", False)])
def test_an_lr_scheduler_may_go_by_a_class_name(registry, name, accepted):
    class ByClassName:
        @hookimpl
        def qembed_register_lr_schedulers(self):
            return {name: torch.optim.lr_scheduler.ConstantLR}

    if accepted:
        registry.register(ByClassName())
        assert name in registry.available("lr_schedulers")
    else:
        with pytest.raises(PluginLoadError, match="snake_case"):
            registry.register(ByClassName())
