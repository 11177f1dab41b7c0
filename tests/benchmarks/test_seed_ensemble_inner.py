"""``benchmarks/seed_ensemble_inner.py``: its report and its guard on missing data."""

from __future__ import annotations

import pytest

from benchmark_scripts import load_benchmark


def test_markdown_lists_every_entry_with_its_mean_and_folds():
    bench = load_benchmark("seed_ensemble_inner")
    maes = {k: [1.0 + i, 2.0 + i] for i, k in enumerate(bench.ENTRIES)}
    result = {
        "task": "matbench_steels",
        "seeds": 3,
        "inner_folds": 2,
        "protocol": "inner",
        "mae_per_inner_fold": maes,
        "mae_mean": {k: sum(v) / 2 for k, v in maes.items()},
        "seconds": 1.0,
    }
    text = bench.markdown(result)
    for i, label in enumerate(bench.ENTRIES.values()):
        assert f"| {label} | {1.5 + i:.4g} | {1.0 + i:.4g}, {2.0 + i:.4g} |" in text


def test_a_missing_task_is_refused(tmp_path):
    bench = load_benchmark("seed_ensemble_inner")
    with pytest.raises(SystemExit, match="fm data matbench"):
        bench.main(
            ["--task", "matbench_glass", "--data-dir", str(tmp_path), "--out", str(tmp_path)]
        )
