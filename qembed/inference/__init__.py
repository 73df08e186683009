"""Inference with a trained model: its predictions per example, unpadded, on the CPU
(:func:`predict_batches`), and a saved model read back with its tokenizer and labels to
label raw text and show each token's senses (:func:`load`, :class:`Predictor`)."""

from qembed.inference.predictions import Predictions, predict_batches
from qembed.inference.predictor import Predictor, TextPrediction, TokenSenses, load

__all__ = ["Predictions", "Predictor", "TextPrediction", "TokenSenses", "load", "predict_batches"]
