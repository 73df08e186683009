"""The structural part of every contract check: the members of the kind's protocol."""

from __future__ import annotations

from qembed.plugins.contracts import missing_members


def assert_members(component: object, protocol: type, label: str) -> None:
    """Assert that ``component`` (built by ``label``) has every member of ``protocol``."""
    missing = missing_members(component, protocol)
    assert not missing, (
        f"{label} built a {type(component).__name__} lacking {', '.join(missing)} "
        f"(the contract qembed.plugins.contracts.{protocol.__name__})"
    )
