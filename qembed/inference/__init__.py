"""Inference with a trained model: its predictions per example, unpadded, on the CPU."""

from qembed.inference.predictions import Predictions, predict_batches

__all__ = ["Predictions", "predict_batches"]
