"""FoldPrediction.mean_of (the seed ensemble of per-network fold predictions) and the
balanced labelling rule of classification folds."""

from __future__ import annotations

import numpy as np
import pytest

from foundation_model.workflows.rf_baseline import FoldPrediction, positive_rate, rf_fold


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


def test_members_keep_their_threshold_and_mixed_thresholds_are_refused():
    a = FoldPrediction.from_proba(np.array([0.9, 0.2, 0.65]), threshold=0.7)
    b = FoldPrediction.from_proba(np.array([0.7, 0.4, 0.65]), threshold=0.7)
    m = FoldPrediction.mean_of([a, b])
    np.testing.assert_array_equal(m.values, [1, 0, 0])  # 0.65 < 0.7: not 1 as at 0.5
    assert m.threshold == 0.7
    with pytest.raises(ValueError, match="different thresholds"):
        FoldPrediction.mean_of([a, FoldPrediction.from_proba(np.array([0.1, 0.1, 0.1]))])


def test_positive_rate_reads_booleans_and_refuses_no_labels():
    assert positive_rate(np.array([True, False, True, True])) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="at least one training label"):
        positive_rate(np.array([]))


def test_balanced_rule_raises_label_roc_auc_on_imbalanced_calibrated_probabilities():
    """Labels drawn from known probabilities (80 % positives): p >= 0.8 scores a higher
    balanced accuracy (label-based ROC-AUC) than p >= 0.5."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    p = rng.beta(4.0, 1.0, size=20_000)  # mean 0.8
    y = (rng.random(p.size) < p).astype(int)
    rate = positive_rate(y)
    balanced = FoldPrediction.from_proba(p, rate).values
    argmax = FoldPrediction.from_proba(p).values
    assert roc_auc_score(y, balanced) > roc_auc_score(y, argmax) + 0.03


def test_rf_labels_by_the_rule_it_is_given():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 4))
    y = (x[:, 0] + rng.normal(scale=1.0, size=300) > -0.8).astype(int)  # about 75 % positive
    kw = {"n_estimators": 20, "seed": 0, "n_jobs": 1}
    default = rf_fold(x[:200], y[:200], x[200:], "classification", **kw)
    balanced = rf_fold(x[:200], y[:200], x[200:], "classification", balanced=True, **kw)
    np.testing.assert_array_equal(default.proba, balanced.proba)  # same forest
    assert default.threshold == 0.5
    assert balanced.threshold == pytest.approx(y[:200].mean())
    np.testing.assert_array_equal(balanced.values, balanced.proba >= y[:200].mean())
