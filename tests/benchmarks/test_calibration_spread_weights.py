"""``benchmarks/calibration_spread_weights.py``: the noise part's weight is fitted on
validation rows and the decision is taken on cross-fitted validation rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmark_scripts import load_benchmark


def _run_arrays(path: Path, seed: int, noise_weight: float, parts: bool = True) -> None:
    """Two folds whose error std is ``hypot(ensemble, noise_weight * noise)``: with a weight
    far from 1 the plain spread (dominated by the ensemble part here) ranks the errors badly
    and the reweighted one well."""
    rng = np.random.default_rng(seed)
    out: dict[str, list] = {}
    for k in (0, 1):
        for prefix, n in (("val_", 300), ("", 500)):
            ens, noise = rng.uniform(0.01, 1.0, n), rng.uniform(0.01, 0.25, n)
            mu = rng.normal(size=n)
            y = mu + np.hypot(ens, noise_weight * noise) * rng.normal(size=n)
            arrays = {"y": y, "values": mu, "spread": np.hypot(ens, noise)}
            if parts:
                arrays |= {"spread_ensemble": ens, "spread_noise": noise}
            for key, value in arrays.items():
                out.setdefault(prefix + key, []).append(value)
            out.setdefault(prefix + "fold", []).append(np.full(n, k))
    out["std"] = out["spread"]
    np.savez(path, **{key: np.concatenate(v) for key, v in out.items()})


def test_a_misweighted_noise_part_is_found_and_adopted_on_validation_rows(tmp_path):
    mod = load_benchmark("calibration_spread_weights")
    runs = [tmp_path / f"matbench_{t}_uncertainty.npz" for t in "abcd"]
    for seed, path in enumerate(runs):
        _run_arrays(path, seed, noise_weight=8.0)
    out = tmp_path / "weights"
    assert mod.main([*map(str, runs), "--out", str(out)]) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    for row in report["runs"]:
        assert all(5.0 < w < 12.0 for w in row["noise_weights"])  # true weight 8
        val, test = row["validation"], row["test"]
        assert val["reweighted"]["miscalibration_area"] < val["matched"]["miscalibration_area"]
        assert test["reweighted"]["spearman_error_sigma"] > test["matched"]["spearman_error_sigma"]
    assert report["decision"]["adopt"] and len(report["decision"]["wins"]) == 4
    assert "**adopt**" in out.with_suffix(".md").read_text()


def test_plain_sum_is_kept_when_the_parts_are_already_weighted_right(tmp_path):
    mod = load_benchmark("calibration_spread_weights")
    path = tmp_path / "matbench_a_uncertainty.npz"
    _run_arrays(path, 0, noise_weight=1.0)
    row = mod.evaluate(path)
    assert all(0.6 < w < 1.6 for w in row["noise_weights"])


def test_runs_without_the_parts_are_a_one_line_error(tmp_path, capsys):
    mod = load_benchmark("calibration_spread_weights")
    path = tmp_path / "matbench_a_uncertainty.npz"
    _run_arrays(path, 0, noise_weight=1.0, parts=False)
    assert mod.main([str(path), "--out", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().out
    assert "no spread_ensemble" in err and "rerun the task" in err and err.count("\n") == 1
