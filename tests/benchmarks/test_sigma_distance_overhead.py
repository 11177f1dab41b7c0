"""``benchmarks/sigma_distance_overhead.py`` times both variants and writes its report."""

from __future__ import annotations

import json

from benchmark_scripts import load_benchmark


def test_both_variants_are_timed_and_reported(tmp_path):
    mod = load_benchmark("sigma_distance_overhead")
    argv = ["--rows", "120", "--features", "8", "--epochs", "2", "--rounds", "2"]
    assert mod.main([*argv, "--bank", "50", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "sigma_distance_overhead.json").read_text())
    (run,) = report["runs"]
    assert len(run["seconds"]["off"]) == len(run["seconds"]["on"]) == 2
    assert run["ratio_on_off"] == run["median_on"] / run["median_off"] > 0
    assert "| 120 | 2 |" in (tmp_path / "sigma_distance_overhead.md").read_text()
