"""``benchmarks/classifier_monitor_inner.py``: the monitor swap and its report."""

from __future__ import annotations

from benchmark_scripts import load_benchmark
from synthetic_tables import bench_config


def test_monitor_is_swapped_in_checkpointing_and_early_stopping_only():
    bench = load_benchmark("classifier_monitor_inner")
    cfg = bench_config("val_task_error", stop=True)
    out = bench._with_monitor(cfg, "val_t_log_loss")
    for key in ("model_checkpoint", "early_stopping"):
        assert out[key]["init_args"]["monitor"] == "val_t_log_loss"
        assert out[key]["init_args"]["mode"] == "min"
        assert cfg[key]["init_args"]["monitor"] == "val_task_error"  # the input is untouched
    assert out["model"] == cfg["model"] and out["trainer"] == cfg["trainer"]


def test_markdown_names_both_scores_and_the_picked_modes():
    bench = load_benchmark("classifier_monitor_inner")
    per = {
        "scratch, error": [0.8, 0.9],
        "recipe, log_loss": [0.85, 0.95],
        "rf_same_features": [0.9, 0.9],
    }
    result = {
        "task": "matbench_glass",
        "seeds": 1,
        "inner_folds": 2,
        "protocol": "inner",
        "mae_per_inner_fold": per,
        "mae_mean": {k: sum(v) / 2 for k, v in per.items()},
        "roc_auc_proba_mean": {"scratch, error": 0.93, "recipe, log_loss": 0.94},
        "seconds": 1.0,
        "monitors": bench.MONITORS,
        "chosen_modes": {"error": ["full", "full"], "log_loss": ["full_task", "full"]},
    }
    text = bench.markdown(result)
    assert "| scratch, error | 0.85 | 0.93 | 0.8, 0.9 |" in text
    assert "| recipe, log_loss | 0.9 | 0.94 | 0.85, 0.95 (full_task, full) |" in text
    assert "| rf_same_features | 0.9 | - | 0.9, 0.9 |" in text
