"""``benchmarks/deferred_sigma_fit.py``: its identity check, its report, a missing task."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark_scripts import load_benchmark
from foundation_model.workflows.rf_baseline import FoldPrediction


def _pred(shift: float = 0.0, val_shift: float = 0.0) -> FoldPrediction:
    std = np.array([0.1, np.nan, 0.3])
    val = {"y": np.array([1.0, 2.0]), "spread": np.array([0.2, np.nan]) + val_shift}
    return FoldPrediction(np.array([1.0, 2.0, 3.0]) + shift, std=std, val=val)


def test_identical_compares_values_sigma_and_validation_arrays_nan_as_equal():
    bench = load_benchmark("deferred_sigma_fit")
    assert bench.identical(_pred(), _pred())
    assert not bench.identical(_pred(), _pred(shift=1e-7))
    assert not bench.identical(_pred(), _pred(val_shift=1e-7))
    no_sigma = FoldPrediction(np.array([1.0, 2.0, 3.0]))
    assert not bench.identical(_pred(), no_sigma)


def test_markdown_lists_every_network_and_the_median_ratio():
    bench = load_benchmark("deferred_sigma_fit")
    run = {
        "task": "matbench_expt_gap",
        "network": "scratch",
        "rows_trained": 2983,
        "epochs": 65,
        "seconds_per_epoch_refit": 80.0,
        "seconds_deferred": 56.0,
        "ratio_deferred": 0.7,
        "identical": True,
        "has_sigma": True,
    }
    result = {
        "machine": "x86_64",
        "torch_threads": 1,
        "runs": [run],
        "median_ratio_deferred": 0.7,
        "all_identical": True,
    }
    text = bench.markdown(result)
    assert "| expt_gap | scratch | 2983 | 65 | 80.0 | 56.0 | 0.70 | yes | yes |" in text
    assert "**0.70**" in text and "identical on every network: yes" in text


def test_a_missing_task_is_refused(tmp_path):
    bench = load_benchmark("deferred_sigma_fit")
    with pytest.raises(SystemExit, match="deferred_sigma_fit: matbench_steels is not in"):
        bench.main(
            ["--tasks", "matbench_steels", "--data-dir", str(tmp_path), "--out", str(tmp_path)]
        )
