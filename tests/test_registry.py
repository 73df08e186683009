"""The plugin registry with plugins registered from code: lookup by name, specs,
error messages, and the registration contract."""

from __future__ import annotations

import pytest

import qembed
from qembed import hookimpl, plugins
from qembed.plugins import (
    ComponentOptionError,
    PluginComponentError,
    PluginConflictError,
    PluginLoadError,
    UnknownComponentError,
)
from qembed.testing import temporary_plugin


class Ramp:
    """A test schedule: step / total."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def __call__(self, step: int, total_steps: int) -> float:
        return self.scale * step / total_steps


class RampPlugin:
    @hookimpl
    def qembed_register_schedules(self):
        return {"ramp": Ramp}


def test_create_accepts_a_name_a_spec_mapping_or_a_built_object(registry):
    with temporary_plugin(RampPlugin(), registry=registry):
        assert isinstance(registry.create("schedules", "ramp"), Ramp)
        assert registry.create("schedules", {"name": "ramp", "scale": 0.5}).scale == 0.5
        assert registry.create("schedules", {"name": "ramp"}, scale=0.25).scale == 0.25
        built = Ramp()
        assert registry.create("schedules", built) is built


def test_options_for_an_already_built_object_are_an_error(registry):
    with pytest.raises(ComponentOptionError, match="already built"):
        registry.create("schedules", Ramp(), scale=2.0)


def test_spec_mapping_without_name_or_with_duplicate_options_is_an_error(registry):
    with pytest.raises(ComponentOptionError, match="'name' key"):
        registry.create("schedules", {"value": 0.5})
    with pytest.raises(ComponentOptionError, match="value"):
        registry.create("schedules", {"name": "constant", "value": 0.5}, value=0.2)


def test_unknown_name_lists_what_exists_and_suggests_close_matches(registry):
    with pytest.raises(UnknownComponentError) as caught:
        registry.create("schedules", "cylic")
    message = str(caught.value)
    assert message.startswith("unknown superposition schedule 'cylic'")  # not quoted like KeyError
    assert "did you mean 'cyclic'?" in message
    assert "available: 'constant', 'cyclic', 'linear'" in message
    assert isinstance(caught.value, KeyError)
    assert caught.value.suggestions == ["cyclic"]


def test_unknown_kind_suggests_the_right_kind(registry):
    with pytest.raises(UnknownComponentError, match="did you mean 'schedules'"):
        registry.available("schedule")


def test_unknown_option_is_named_with_a_suggestion(registry):
    with pytest.raises(ComponentOptionError) as caught:
        registry.create("schedules", "constant", valeu=0.3)
    assert "'valeu'" in str(caught.value)
    assert "did you mean 'value'?" in str(caught.value)


def test_positional_arguments_reach_the_factory_first(registry):
    def make_optimizer(params, lr=0.1):
        """A stand-in optimizer factory."""
        return (list(params), lr)

    class OptimizerPlugin:
        @hookimpl
        def qembed_register_optimizers(self):
            return {"fake_sgd": make_optimizer}

    with temporary_plugin(OptimizerPlugin(), registry=registry):
        assert registry.create("optimizers", "fake_sgd", [1, 2], lr=0.5) == ([1, 2], 0.5)
        with pytest.raises(ComponentOptionError, match=r"its options are: 'lr'$"):
            registry.create("optimizers", "fake_sgd", [1], momentum=0.9)


def test_registered_plugin_is_listed_with_its_origin_and_removed_on_exit(registry):
    with temporary_plugin(RampPlugin(), registry=registry):
        entry = registry.available("schedules")["ramp"]
        assert entry.distribution is None
        assert entry.summary == "A test schedule: step / total."
    assert "ramp" not in registry.available("schedules")


def test_temporary_plugin_is_removed_even_when_the_test_body_fails(registry):
    with pytest.raises(RuntimeError), temporary_plugin(RampPlugin(), registry=registry):
        raise RuntimeError("test body failed")
    assert "ramp" not in registry.available("schedules")


def test_a_name_claimed_by_two_plugins_is_an_error_naming_both(registry):
    class Impostor:
        @hookimpl
        def qembed_register_schedules(self):
            return {"linear": Ramp}

    with pytest.raises(PluginConflictError) as caught:
        registry.register(Impostor(), name="impostor")
    message = str(caught.value)
    assert "'linear' is registered by both" in message
    assert f"qembed {qembed.__version__}" in message and "'impostor'" in message
    assert registry.available("schedules")["linear"].distribution == "qembed"  # nothing kept


def test_the_same_factory_under_the_same_name_twice_is_not_a_conflict(registry):
    class Twin:
        @hookimpl
        def qembed_register_schedules(self):
            return {"ramp": Ramp}

    with temporary_plugin(RampPlugin(), registry=registry), temporary_plugin(Twin(), registry=registry):
        assert registry.available("schedules")["ramp"].factory is Ramp


@pytest.mark.parametrize("bad_name", ["Ramp", "ramp-up", "2ramp", "", "ramp up"])
def test_names_must_be_lowercase_snake_case(registry, bad_name):
    class BadName:
        @hookimpl
        def qembed_register_schedules(self):
            return {bad_name: Ramp}

    with pytest.raises(PluginLoadError, match="snake_case"):
        registry.register(BadName())
    assert all(source.distribution is not None for source in registry.sources())  # nothing kept


def test_a_registration_hook_must_return_a_mapping_of_callables(registry):
    class ReturnsList:
        @hookimpl
        def qembed_register_schedules(self):
            return [Ramp]

    class NotCallable:
        @hookimpl
        def qembed_register_schedules(self):
            return {"half": 0.5}

    with pytest.raises(PluginLoadError, match="must return a mapping"):
        registry.register(ReturnsList())
    with pytest.raises(PluginLoadError, match="not callable"):
        registry.register(NotCallable())


@pytest.mark.parametrize("decorated", [True, False])
def test_a_misspelled_hook_is_reported_with_a_suggestion(registry, decorated):
    def qembed_register_schedule():
        return {"ramp": Ramp}

    class Misspelled:
        pass

    Misspelled.qembed_register_schedule = staticmethod(
        hookimpl(qembed_register_schedule) if decorated else qembed_register_schedule
    )
    with pytest.raises(PluginLoadError, match="did you mean 'qembed_register_schedules'"):
        registry.register(Misspelled())


def test_lifecycle_hooks_reach_registered_plugins(registry):
    seen = []
    trainer = type("FakeTrainer", (), {"log_dir": None})()

    class Listener:
        @hookimpl
        def qembed_on_log(self, trainer, step, metrics):
            seen.append((trainer, step, dict(metrics)))

    with temporary_plugin(Listener(), registry=registry):
        registry.hook.qembed_on_log(trainer=trainer, step=50, metrics={"loss": 0.5})
    registry.hook.qembed_on_log(trainer=trainer, step=100, metrics={})
    assert seen == [(trainer, 50, {"loss": 0.5})]


def test_unregistering_an_unknown_plugin_is_an_error(registry):
    with pytest.raises(PluginLoadError, match="not a registered plugin"):
        registry.unregister(RampPlugin())


def test_module_level_api_uses_the_process_registry():
    assert set(plugins.available("schedules")) >= {"linear", "cyclic", "constant"}
    assert plugins.available("schedules")["linear"].version == qembed.__version__
    with temporary_plugin(RampPlugin()):
        assert isinstance(plugins.create("schedules", "ramp"), Ramp)
    assert "ramp" not in plugins.available("schedules")


def test_a_built_component_lacking_a_member_of_its_protocol_is_refused_by_name(registry):
    class HalfReplay:
        """Has everything a replay strategy needs but replay_size."""

        capacity = 4

        def __len__(self):
            return 0

        def add(self, batch, outputs=None): ...

        def sample(self, n): ...

        def state_dict(self):
            return {}

        def load_state_dict(self, state): ...

    class BrokenPlugin:
        @hookimpl
        def qembed_register_replay(self):
            return {"half": HalfReplay}

        @hookimpl
        def qembed_register_schedules(self):
            return {"not_callable": lambda: 0.5}

    with temporary_plugin(BrokenPlugin(), registry=registry):
        with pytest.raises(PluginComponentError, match=r"replay strategy 'half' \(from plugin .* registered in code.*"
                                                       r"built a HalfReplay, which lacks replay_size \(the contract "
                                                       r"qembed.plugins.contracts.ReplayStrategy\)"):
            registry.create("replay", "half")
        with pytest.raises(PluginComponentError, match=r"built a float, which lacks __call__"):
            registry.create("schedules", "not_callable")


def test_a_factory_looks_nested_names_up_in_the_registry_building_it(registry):
    seen = []

    class Nested:
        @hookimpl
        def qembed_register_schedules(self):
            return {"outer": lambda: seen.append(plugins.current_registry()) or Ramp()}

    assert plugins.current_registry() is plugins.default_registry()  # outside a factory
    with temporary_plugin(Nested(), registry=registry):
        registry.create("schedules", "outer")
    assert seen == [registry] and plugins.current_registry() is plugins.default_registry()
