"""Prediction on new materials from a checkpoint alone (``foundation_model.load``)."""

from foundation_model.inference.predictor import Predictor, load

__all__ = ["Predictor", "load"]
