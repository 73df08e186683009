"""Evaluation metrics beyond the loss: sense accuracy, uncertainty from collapse samples,
error detection."""

from qembed.metrics.sense import SenseAccuracy, collect_sense_choices, sense_accuracy
from qembed.metrics.uncertainty import SampledUncertainty, error_detection_auroc, sampled_uncertainty

__all__ = ["SampledUncertainty", "SenseAccuracy", "collect_sense_choices", "error_detection_auroc",
           "sampled_uncertainty", "sense_accuracy"]
