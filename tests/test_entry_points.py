"""Real entry-point discovery: throwaway distributions (a ``*.dist-info`` with
``METADATA`` and ``entry_points.txt``) written into folders on ``sys.path``."""

from __future__ import annotations

import sys
import warnings

import pytest

from qembed.plugins import PluginConflictError, PluginLoadError, PluginRegistry, PluginWarning

TRIANGLE_PLUGIN = """
from qembed import hookimpl

class Triangle:
    '''Up then down.'''

    def __call__(self, step, total_steps):
        half = max(1, (total_steps - 1) / 2)
        return 1.0 - abs(step - half) / half if total_steps > 1 else 1.0

@hookimpl
def qembed_register_schedules():
    return {"triangle": Triangle}
"""

BROKEN_IMPORT = """
import a_module_that_does_not_exist
"""

BROKEN_HOOK = """
from qembed import hookimpl

@hookimpl
def qembed_register_schedules():
    raise RuntimeError("hook exploded")
"""

CLAIMS_LINEAR = """
from qembed import hookimpl

def fake_linear():
    return lambda step, total_steps: 0.0

@hookimpl
def qembed_register_schedules():
    return {"linear": fake_linear}
"""

MISSPELLED = """
def qembed_register_schedule():
    return {"typo": object}
"""


def test_a_third_party_distribution_is_found_and_used_by_name(make_distribution):
    make_distribution("triangle-schedule", "2.3.1", {"triangle": "triangle_plugin"},
                      {"triangle_plugin": TRIANGLE_PLUGIN})
    registry = PluginRegistry()
    entry = registry.available("schedules")["triangle"]
    assert (entry.distribution, entry.version) == ("triangle-schedule", "2.3.1")
    assert entry.source.entry_point == "triangle = triangle_plugin"
    assert entry.summary == "Up then down."
    assert registry.create("schedules", "triangle")(0, 3) == 0.0
    assert registry.available("schedules")["linear"].distribution == "qembed"


def test_entry_points_load_on_first_lookup_not_before(make_distribution):
    make_distribution("triangle-schedule", "1.0", {"triangle": "triangle_plugin"},
                      {"triangle_plugin": TRIANGLE_PLUGIN})
    registry = PluginRegistry()
    assert "triangle_plugin" not in sys.modules
    registry.available("schedules")
    assert "triangle_plugin" in sys.modules


@pytest.mark.parametrize(
    ("source", "error"),
    [(BROKEN_IMPORT, "ModuleNotFoundError"), (BROKEN_HOOK, "RuntimeError: hook exploded")],
)
def test_a_broken_plugin_warns_is_recorded_and_everything_else_works(make_distribution, source, error):
    make_distribution("broken-plugin", "0.9", {"broken": "broken_plugin"}, {"broken_plugin": source})
    make_distribution("triangle-schedule", "1.0", {"triangle": "triangle_plugin"},
                      {"triangle_plugin": TRIANGLE_PLUGIN})
    registry = PluginRegistry()
    with pytest.warns(PluginWarning, match=rf"broken-plugin 0.9 \(broken = broken_plugin\): {error}"):
        names = set(registry.available("schedules"))
    assert names == {"linear", "cyclic", "constant", "triangle"}
    [failure] = registry.failures()
    assert failure.source.distribution == "broken-plugin"
    assert error in failure.error


def test_strict_mode_turns_a_broken_plugin_into_an_exception(make_distribution, monkeypatch):
    make_distribution("broken-plugin", "0.9", {"broken": "broken_plugin"},
                      {"broken_plugin": BROKEN_IMPORT})
    monkeypatch.setenv("QEMBED_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError, match="broken-plugin 0.9"):
        PluginRegistry().available("schedules")


def test_two_distributions_claiming_one_name_is_an_error_naming_both(make_distribution):
    make_distribution("triangle-a", "1.0", {"tri": "tri_a"}, {"tri_a": TRIANGLE_PLUGIN})
    make_distribution("triangle-b", "2.0", {"tri": "tri_b"}, {"tri_b": TRIANGLE_PLUGIN})
    registry = PluginRegistry()
    with pytest.warns(PluginWarning, match="'triangle' is registered by both"):
        registry.load_entry_points()
    with pytest.raises(PluginConflictError) as caught:
        registry.create("schedules", "triangle")
    assert "triangle-a 1.0" in str(caught.value) and "triangle-b 2.0" in str(caught.value)
    assert "QEMBED_DISABLE_PLUGINS=triangle-" in str(caught.value)


def test_a_third_party_plugin_cannot_silently_replace_a_built_in(make_distribution):
    make_distribution("sneaky", "1.0", {"sneaky": "sneaky_plugin"}, {"sneaky_plugin": CLAIMS_LINEAR})
    registry = PluginRegistry()
    with pytest.warns(PluginWarning), pytest.raises(PluginConflictError) as caught:
        registry.available("schedules")
    assert "qembed" in str(caught.value) and "sneaky 1.0" in str(caught.value)


def test_the_same_module_reached_twice_is_registered_once(make_distribution):
    make_distribution("triangle-schedule", "1.0",
                      {"first": "triangle_plugin", "second": "triangle_plugin"},
                      {"triangle_plugin": TRIANGLE_PLUGIN})
    registry = PluginRegistry()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "triangle" in registry.available("schedules")
    assert [s.plugin_name for s in registry.sources()].count("triangle-schedule:first") == 1


def test_the_same_distribution_found_twice_on_sys_path_is_not_a_conflict(make_distribution):
    for _ in range(2):
        make_distribution("triangle-schedule", "1.0", {"triangle": "triangle_plugin"},
                          {"triangle_plugin": TRIANGLE_PLUGIN})
    registry = PluginRegistry()
    assert registry.available("schedules")["triangle"].distribution == "triangle-schedule"


def test_a_misspelled_hook_in_an_installed_plugin_is_reported(make_distribution):
    make_distribution("typo-plugin", "1.0", {"typo": "typo_plugin"}, {"typo_plugin": MISSPELLED})
    registry = PluginRegistry()
    with pytest.warns(PluginWarning, match="did you mean 'qembed_register_schedules'"):
        registry.load_entry_points()
    assert "typo-plugin" in registry.failures()[0].describe()


def test_disable_plugins_skips_the_named_distributions(make_distribution, monkeypatch):
    make_distribution("broken-plugin", "0.9", {"broken": "broken_plugin"},
                      {"broken_plugin": BROKEN_IMPORT})
    make_distribution("Triangle_Schedule", "1.0", {"triangle": "triangle_plugin"},
                      {"triangle_plugin": TRIANGLE_PLUGIN})
    monkeypatch.setenv("QEMBED_DISABLE_PLUGINS", "broken-plugin, triangle.schedule")
    registry = PluginRegistry()
    assert set(registry.available("schedules")) == {"linear", "cyclic", "constant"}
    assert registry.failures() == []


def test_disabling_autoload_keeps_only_the_built_ins(make_distribution, monkeypatch):
    make_distribution("triangle-schedule", "1.0", {"triangle": "triangle_plugin"},
                      {"triangle_plugin": TRIANGLE_PLUGIN})
    monkeypatch.setenv("QEMBED_DISABLE_PLUGIN_AUTOLOAD", "1")
    registry = PluginRegistry()
    assert set(registry.available("schedules")) == {"linear", "cyclic", "constant"}
    assert "triangle_plugin" not in sys.modules


def test_disabling_qembed_itself_leaves_no_schedules(monkeypatch):
    monkeypatch.setenv("QEMBED_DISABLE_PLUGINS", "qembed")
    assert PluginRegistry().available("schedules") == {}
