"""Evaluation metrics beyond the loss."""

from qembed.metrics.sense import SenseAccuracy, collect_sense_choices, sense_accuracy

__all__ = ["SenseAccuracy", "collect_sense_choices", "sense_accuracy"]
