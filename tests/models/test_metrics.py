"""Whole-split metrics."""

from __future__ import annotations

import numpy as np
import pytest

from foundation_model.models.metrics import classification_metrics


def test_log_loss_is_the_mean_negative_log_probability_of_the_true_class():
    y = np.array([0, 1, 2, 1])
    proba = np.array([[0.8, 0.1, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.0, 1.0, 0.0]])
    m = classification_metrics(y, proba)
    expected = -(np.log(0.8) + np.log(0.5) + np.log(0.8) + np.log(1.0)) / 4
    assert m["log_loss"] == pytest.approx(expected)
    assert m["accuracy"] == 1.0
    wrong = classification_metrics(np.array([0]), np.array([[0.0, 1.0]]))
    assert wrong["log_loss"] == pytest.approx(-np.log(1e-12))  # clipped, finite
