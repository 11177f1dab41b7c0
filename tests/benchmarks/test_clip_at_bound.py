"""``benchmarks/clip_at_bound.py``: the clip moves only predictions beyond the bound."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmark_scripts import load_benchmark


def test_clip_scores_and_reports(tmp_path):
    bench = load_benchmark("clip_at_bound")
    run = tmp_path / "run"
    run.mkdir()
    y = np.array([0.0, 0.0, 1.0, 2.0])
    pred = np.array([-0.3, 0.1, -0.2, 2.5])
    np.savez(run / "matbench_expt_gap_uncertainty.npz", y=y, values=pred)
    np.savez(run / "matbench_log_kvrh_uncertainty.npz", y=y, values=pred)
    assert bench.main(["--run", str(run), "--out", str(tmp_path)]) == 0
    tasks = json.loads((tmp_path / "clip_at_bound.json").read_text())["tasks"]
    gap = tasks["matbench_expt_gap"]
    assert gap["n_moved"] == 2
    assert gap["mae"] == pytest.approx(np.abs(pred - y).mean())
    assert gap["mae_clipped"] == pytest.approx((0 + 0.1 + 1.0 + 0.5) / 4)
    assert tasks["matbench_log_kvrh"]["mae_clipped"] == tasks["matbench_log_kvrh"]["mae"]
    assert "| expt_gap | 0 | 2 of 4 |" in (tmp_path / "clip_at_bound.md").read_text()


def test_an_empty_run_folder_is_refused(tmp_path):
    bench = load_benchmark("clip_at_bound")
    with pytest.raises(SystemExit, match="no \\*_uncertainty.npz"):
        bench.main(["--run", str(tmp_path), "--out", str(tmp_path)])
