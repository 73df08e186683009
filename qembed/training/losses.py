"""The built-in quantum losses, importable from where users expect them.

They live in the first-party plugin module ``qembed_plugins.losses`` (registered
as ``quantum``, ``uncertainty`` and ``entanglement``); this module re-exports
them. See ``docs/training/losses.md``.
"""

from qembed_plugins.losses import EntanglementLoss, QuantumLoss, UncertaintyLoss

__all__ = ["EntanglementLoss", "QuantumLoss", "UncertaintyLoss"]
