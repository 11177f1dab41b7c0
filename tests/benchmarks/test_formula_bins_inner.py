"""``benchmarks/formula_bins_inner.py``: the bins switch and its report."""

from __future__ import annotations

import pytest

from benchmark_scripts import load_benchmark
from synthetic_tables import bench_config


def test_bins_are_set_on_a_copy_of_the_model_arguments():
    bench = load_benchmark("formula_bins_inner")
    cfg = bench_config("val_task_error", stop=True)
    out = bench._with_bins(cfg, 8)
    assert out["model"]["init_args"]["formula_bins"] == 8
    assert "formula_bins" not in cfg["model"]["init_args"]  # the input is untouched
    assert out["data"] == cfg["data"] and out["trainer"] == cfg["trainer"]


@pytest.mark.parametrize("metric", ["mae", "roc_auc"])
def test_markdown_puts_bins_beside_no_bins_with_the_picked_modes(metric):
    bench = load_benchmark("formula_bins_inner")
    keys = ["scratch", *bench.MODES, "recipe"]
    per = {}
    for i, k in enumerate(keys):
        per[f"{k}, no bins"] = [1.0 + i, 2.0 + i]
        per[f"{k}, bins 8"] = [0.5 + i, 1.5 + i]
    per["rf_same_features"] = [3.0, 3.0]
    result = {
        "task": "matbench_steels",
        "seeds": 2,
        "inner_folds": 2,
        "protocol": "inner",
        "mae_per_inner_fold": per,
        "mae_mean": {k: sum(v) / 2 for k, v in per.items()},
        "seconds": 1.0,
        "metric": metric,
        "bins": 8,
        "chosen_modes": {"no bins": ["full", "full"], "bins 8": ["full_task", "full"]},
    }
    if metric == "roc_auc":
        result["roc_auc_proba_mean"] = {k: 0.9 for k in per}
    text = bench.markdown(result)
    if metric == "mae":
        assert "| scratch | 1.5 | 1 | 1, 2 | 0.5, 1.5 |" in text and "lower is better" in text
    else:
        assert "| scratch | 1.5 (proba 0.9) | 1 (proba 0.9) |" in text and "hard labels" in text
    assert "(full, full) | " in text and "(full_task, full) |" in text
    assert "| RF (500 trees) on the same descriptors | 3 | - | 3, 3 | - |" in text
