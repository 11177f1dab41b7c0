import numpy as np
import pytest
from scipy import stats

from foundation_model.workflows.bench_report import (
    holdout_share,
    markdown_report,
    paired_comparison,
)


def _mean(values):
    return float(np.mean([v for v in values if v is not None]))


def _result(metric, main, controls, share=None):
    res = {
        "task": "t",
        "metric": metric,
        "folds_run": list(range(len(main))),
        "seconds": 1.0,
        "model_pretrained": {"mean": _mean(main), "std": 0.0, "per_fold": main},
        "dummy": {"mean": 9.0, "std": 0.0, "per_fold": [9.0] * len(main)},
    }
    for key, per in controls.items():
        res[key] = {"mean": _mean(per), "std": 0.0, "per_fold": per}
    if share is not None:
        res["holdout_share"] = share
    return res


def test_corrected_resampled_t_interval_by_hand():
    main = [1.0, 2.0, 1.5, 1.2, 1.8]
    rf = [1.5, 2.1, 1.4, 1.9, 2.0]
    res = _result("mae", main, {"rf_same_features": rf}, share=0.25)
    p = paired_comparison(res)["rf_same_features"]
    gain = np.array(rf) - np.array(main)  # MAE: positive when the network is lower
    half = stats.t.ppf(0.975, 4) * np.sqrt((1 / 5 + 0.25) * gain.var(ddof=1))
    assert p["mean_gain"] == pytest.approx(gain.mean())
    assert p["folds_better"] == 4 and p["folds"] == 5
    assert p["ci_low"] == pytest.approx(gain.mean() - half)
    assert p["ci_high"] == pytest.approx(gain.mean() + half)
    # the uncorrected interval would be narrower: the correction widens it
    naive = stats.t.ppf(0.975, 4) * np.sqrt(gain.var(ddof=1) / 5)
    assert half > naive


def test_roc_auc_gain_sign_failed_folds_and_the_report():
    main = [0.90, 0.91, None, 0.92]
    scratch = [0.88, 0.90, 0.87, 0.91]
    res = _result("roc_auc", main, {"model_scratch": scratch})
    p = paired_comparison(res)["model_scratch"]
    assert p["folds"] == 3 and p["folds_better"] == 3  # the failed fold is left out
    assert p["mean_gain"] == pytest.approx(np.mean([0.02, 0.01, 0.01]))
    res["paired"] = paired_comparison(res)
    text = markdown_report(res)
    assert (
        "corrected resampled t-test" in text and "| same network from scratch | +0.01333 |" in text
    )


def test_no_comparison_without_two_folds_or_a_network():
    assert paired_comparison(_result("mae", [1.0], {"model_scratch": [2.0]})) is None
    res = _result("mae", [1.0, 2.0], {"rf_scm_magpie": [2.0, 3.0]})
    del res["model_pretrained"]
    assert paired_comparison(res) is None


def test_test_share_of_kfold_partitions():
    folds = [(list(range(8)), [8, 9]), (list(range(2, 10)), [0, 1])]
    assert holdout_share(folds, [0, 1]) == pytest.approx(0.25)
    assert holdout_share(folds, [1]) == pytest.approx(0.25)
