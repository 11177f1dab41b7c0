import warnings

from foundation_model.workflows.bench_report import summarize


def test_summarize_means_over_folds_and_a_metric_nan_everywhere_is_none():
    folds = [
        {"mae": 1.0, "coverage_1sigma": float("nan"), "r2": 0.5},
        None,  # a failed fold
        {"mae": 3.0, "coverage_1sigma": float("nan"), "r2": float("nan")},
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Mean of empty slice"
        out = summarize(folds, "mae")
    assert out["mean"] == 2.0 and out["n_folds_ok"] == 2
    assert out["per_fold"] == [1.0, None, 3.0]
    assert out["mean_coverage_1sigma"] is None
    assert out["mean_r2"] == 0.5  # NaN folds left out of a secondary metric's mean
    assert out["n_folds_r2"] == 1 and out["n_folds_coverage_1sigma"] == 0  # and said so
    every = summarize([{"mae": 1.0, "r2": 0.5}, {"mae": 2.0, "r2": 0.7}], "mae")
    assert "n_folds_r2" not in every  # every fold has it: no count needed
