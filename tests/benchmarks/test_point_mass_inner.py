"""``benchmarks/point_mass_inner.py``: its report and its guard on missing tasks."""

from __future__ import annotations

import pytest

from benchmark_scripts import load_benchmark


def test_markdown_lists_every_run_and_the_means():
    bench = load_benchmark("point_mass_inner")
    rows = [
        {
            "inner_fold": 0,
            "network": net,
            "point_mass_gate": gate,
            "mae": 0.3 + 0.01 * i,
            "mae_at_point_mass": 0.1,
            "mae_elsewhere": 0.5,
            "share_at_point_mass": 0.5,
        }
        for i, (net, gate) in enumerate([(n, g) for g in (False, True) for n in bench.NETWORKS])
    ]
    result = {
        "task": "matbench_expt_gap",
        "inner_folds": [0],
        "protocol": "inner",
        "rows": rows,
        "mean_mae": {"scratch_none": 0.3, "scratch_gate": 0.32},
        "seconds": 1.0,
    }
    text = bench.markdown(result)
    assert "| 0 | scratch | no | 0.3 | 0.1 | 0.5 |" in text
    assert "| 0 | full_uniform | yes | 0.33 | 0.1 | 0.5 |" in text
    assert "- scratch_gate: 0.32" in text


def test_a_missing_task_is_refused(tmp_path):
    bench = load_benchmark("point_mass_inner")
    with pytest.raises(
        SystemExit, match="point_mass_inner: matbench_expt_gap is not in .*run `fm data matbench`"
    ):
        bench.main(["--data-dir", str(tmp_path), "--out", str(tmp_path)])
