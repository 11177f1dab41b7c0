"""``benchmarks/input_scaling_inner.py``: its report for both task types."""

from __future__ import annotations

import pytest

from benchmark_scripts import load_benchmark


@pytest.mark.parametrize(("metric", "words"), [("mae", "lower is better"), ("roc_auc", "higher")])
def test_markdown_lists_every_entry_and_names_the_score(metric, words):
    bench = load_benchmark("input_scaling_inner")
    maes = {k: [1.0 + i, 2.0 + i] for i, k in enumerate(bench.ENTRIES)}
    result = {
        "task": "matbench_glass",
        "seeds": 2,
        "inner_folds": 2,
        "protocol": "inner",
        "mae_per_inner_fold": maes,
        "mae_mean": {k: sum(v) / 2 for k, v in maes.items()},
        "seconds": 1.0,
        "metric": metric,
        "chosen_modes": {"recipe_2": ["full", "full_uniform"], "recipe_4": ["full_task", "full"]},
    }
    text = bench.markdown(result)
    assert f"| entry | mean {metric} | per inner fold |" in text and words in text
    for i, label in enumerate(bench.ENTRIES.values()):
        assert f"| {label} | {1.5 + i:.4g} | {1.0 + i:.4g}, {2.0 + i:.4g}" in text
    assert "(full_task, full) |" in text  # the recipe rows name the modes they picked
