"""``benchmarks/calibration_distance.py`` rebuilds a run's rows exactly and compares σ with
and without the distance to the training rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from benchmark_scripts import load_benchmark
from foundation_model.workflows.matbench_bench import BenchOptions, run_matbench

CONFIG = (
    Path(__file__).resolve().parents[2] / "samples" / "generated_configs" / "matbench_steels.yaml"
)


def test_distances_are_rebuilt_from_the_runs_own_rows(opts_base, tmp_path):
    mod = load_benchmark("calibration_distance")
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["model"]["init_args"]["ensemble_size"] = 3
    path = tmp_path / "k3.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    run_matbench(BenchOptions(task="steels", out_dir=out, config=path, **opts_base))
    run = out / "matbench_steels.json"
    data = [
        "--data-dir",
        str(opts_base["data_dir"]),
        "--feature-cache",
        str(opts_base["feature_cache"]),
    ]
    assert mod.main([str(run), *data, "--out", str(tmp_path / "dist")]) == 0
    report = json.loads((tmp_path / "dist.json").read_text())
    (row,) = report["runs"]
    assert row["task"] == "matbench_steels" and len(row["weights"]) == 1
    for part in ("validation", "test"):
        assert set(row[part]) == {"spread", "spread+distance"}
    assert -1.0 <= row["spearman_error_distance_test"] <= 1.0
    assert "Distance to the training rows" in (tmp_path / "dist.md").read_text()
    latent = ["--space", "latent", "--out", str(tmp_path / "lat")]
    assert mod.main([str(run), *data, *latent]) == 0  # the run saved h_task distances
    (lat,) = json.loads((tmp_path / "lat.json").read_text())["runs"]
    assert lat["space"] == "latent" and len(lat["weights"]) == 1

    arrays = dict(np.load(out / "matbench_steels_uncertainty.npz"))
    arrays["val_y"] = arrays["val_y"][::-1].copy()  # rows no longer in the run's order
    np.savez(out / "matbench_steels_uncertainty.npz", **arrays)
    assert mod.main([str(run), *data, "--out", str(tmp_path / "d2")]) == 2
