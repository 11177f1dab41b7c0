"""FoldPrediction.mean_of: the seed ensemble of per-network fold predictions."""

from __future__ import annotations

import numpy as np
import pytest

from foundation_model.workflows.rf_baseline import FoldPrediction


def test_regression_members_average_and_mix_their_sigmas():
    a = FoldPrediction(np.array([1.0, 2.0]), std=np.array([0.3, 0.4]), val_score=0.2)
    b = FoldPrediction(np.array([3.0, 2.0]), std=np.array([0.3, 0.0]), val_score=0.4)
    m = FoldPrediction.mean_of([a, b])
    np.testing.assert_allclose(m.values, [2.0, 2.0])
    # mixture: mean variance + variance of the means
    np.testing.assert_allclose(m.std, np.sqrt([0.09 + 1.0, 0.08 + 0.0]))
    assert m.val_score == pytest.approx(0.3) and m.proba is None


def test_sigma_is_dropped_when_a_member_has_none():
    a = FoldPrediction(np.array([1.0]), std=np.array([0.3]))
    b = FoldPrediction(np.array([2.0]))
    m = FoldPrediction.mean_of([a, b])
    assert m.std is None and m.val_score is None
    np.testing.assert_allclose(m.values, [1.5])


def test_classification_members_average_probabilities_then_threshold():
    a = FoldPrediction(np.array([1, 0, 1]), proba=np.array([0.9, 0.2, 0.55]))
    b = FoldPrediction(np.array([0, 0, 0]), proba=np.array([0.3, 0.4, 0.35]))
    m = FoldPrediction.mean_of([a, b])
    np.testing.assert_allclose(m.proba, [0.6, 0.3, 0.45])
    np.testing.assert_array_equal(m.values, [1, 0, 0])


def test_one_member_is_itself_and_none_is_an_error():
    a = FoldPrediction(np.array([1.0]))
    assert FoldPrediction.mean_of([a]) is a
    with pytest.raises(ValueError, match="at least one"):
        FoldPrediction.mean_of([])
