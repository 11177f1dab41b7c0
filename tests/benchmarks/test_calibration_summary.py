"""``benchmarks/calibration_summary.py`` tabulates runs and checks the coverage goal."""

from __future__ import annotations

import json
from pathlib import Path

from benchmark_scripts import load_benchmark


def _module():
    return load_benchmark("calibration_summary")


def _run(folder: Path, task: str, c1: float, c2: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    cal = {
        "coverage_1sigma": c1,
        "coverage_2sigma": c2,
        "miscalibration_area": 0.02,
        "spearman_error_sigma": 0.4,
    }
    data = {
        "task": f"matbench_{task}",
        "config": f"results/bench/calibration/{task}_k1noise.yaml",
        "model": {"mean": 0.3, "std": 0.01},
        "calibration": {"pooled_test_folds": cal},
    }
    (folder / f"matbench_{task}.json").write_text(json.dumps(data))


def test_rows_and_goal(tmp_path):
    _run(tmp_path / "noise_head" / "k1", "expt_gap", 0.70, 0.93)
    _run(tmp_path / "noise_head" / "k1", "steels", 0.70, 0.86)  # 2σ short
    (tmp_path / "noise_head" / "k1" / "notes.json").write_text("{}")  # not a run
    assert _module().main(["--root", str(tmp_path)]) == 0
    rows = {r["task"]: r for r in json.loads((tmp_path / "summary.json").read_text())}
    assert rows["expt_gap"]["in_goal"] and not rows["steels"]["in_goal"]
    assert rows["steels"]["run"] == "noise_head/k1"
    text = (tmp_path / "summary.md").read_text()
    assert "| expt_gap | `noise_head/k1` | `expt_gap_k1noise.yaml` |" in text


def test_no_runs_is_an_error(tmp_path, capsys):
    assert _module().main(["--root", str(tmp_path)]) == 2
    assert "no runs" in capsys.readouterr().err
