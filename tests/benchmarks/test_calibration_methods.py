"""``benchmarks/calibration_methods.py`` refits σ maps per fold on validation rows only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmark_scripts import load_benchmark
from foundation_model.models.calibration import fit_sigma_calibration


def _run_arrays(path: Path, seed: int) -> None:
    """Two folds whose errors scale with the spread (factor 2 + floor 0.3, Gaussian); the
    saved ``std`` is what the model would write (the default fit on the validation rows)."""
    rng = np.random.default_rng(seed)
    out: dict[str, list] = {}
    for k in (0, 1):
        for prefix, n in (("val_", 80), ("", 400)):
            spread = rng.uniform(0.1, 1.0, n)
            mu = rng.normal(size=n)
            y = mu + np.sqrt((2.0 * spread) ** 2 + 0.3**2) * rng.normal(size=n)
            for key, value in (("y", y), ("values", mu), ("spread", spread)):
                out.setdefault(prefix + key, []).append(value)
            out.setdefault(prefix + "fold", []).append(np.full(n, k))
        a, b = fit_sigma_calibration(out["val_y"][-1], out["val_values"][-1], out["val_spread"][-1])
        out.setdefault("std", []).append(np.sqrt((a * out["spread"][-1]) ** 2 + b**2))
    np.savez(path, **{key: np.concatenate(v) for key, v in out.items()})


def test_methods_are_refitted_per_fold_and_the_default_reproduces_the_run(tmp_path):
    mod = load_benchmark("calibration_methods")
    dev, hold = tmp_path / "matbench_a_uncertainty.npz", tmp_path / "matbench_b_uncertainty.npz"
    _run_arrays(dev, 0)
    _run_arrays(hold, 1)
    out = tmp_path / "methods"
    assert mod.main(["--dev", str(dev), "--holdout", str(hold), "--out", str(out)]) == 0
    groups = json.loads(out.with_suffix(".json").read_text())
    (row,) = groups["development tasks"]
    assert row["task"] == "matbench_a" and row["folds"] == [0, 1] and row["n_val"] == 160
    saved = row["saved_std"]
    for key in ("coverage_1sigma", "coverage_2sigma"):  # `matched` is the model's own fit
        assert abs(row["matched"][key] - saved[key]) < 1e-12
    for name in mod.METHODS:  # Gaussian errors with the right shape: every method calibrates
        assert len(row[name]["maps"]) == 2
        assert 0.6 < row[name]["coverage_1sigma"] < 0.8 and row[name]["coverage_2sigma"] > 0.9
    assert "hold-out tasks" in out.with_suffix(".md").read_text()
    assert out.with_suffix(".png").stat().st_size > 1000


def test_missing_run_file_is_one_line_error(tmp_path, capsys):
    mod = load_benchmark("calibration_methods")
    assert mod.main(["--dev", str(tmp_path / "nope.npz"), "--out", str(tmp_path / "m")]) == 2
    assert "not found" in capsys.readouterr().out


def test_a_run_without_spread_is_scored_on_its_latent_distance(tmp_path):
    """One head, no noise head: the σ signal is the latent distance, and every method is
    also scored cross-fitted on the validation rows, with the coverage gap by distance."""
    mod = load_benchmark("calibration_methods")
    rng = np.random.default_rng(3)
    arrays: dict[str, list] = {}
    for k in (0, 1):
        for prefix, n in (("val_", 300), ("", 600)):
            d = rng.uniform(1.0, 4.0, n)
            mu = rng.normal(size=n)
            arrays.setdefault(prefix + "y", []).append(mu + 0.2 * d * rng.normal(size=n))
            arrays.setdefault(prefix + "values", []).append(mu)
            arrays.setdefault(prefix + "spread", []).append(np.full(n, np.nan))
            arrays.setdefault(prefix + "latent_distance", []).append(d)
            arrays.setdefault(prefix + "fold", []).append(np.full(n, k))
    arrays["std"] = [np.ones(1200)]
    run = tmp_path / "matbench_c_uncertainty.npz"
    np.savez(run, **{key: np.concatenate(v) for key, v in arrays.items()})
    out = tmp_path / "methods"
    assert mod.main(["--dev", str(run), "--out", str(out)]) == 0
    (row,) = json.loads(out.with_suffix(".json").read_text())["development tasks"]
    assert row["signal"] == "latent distance"
    for name in ("matched", "quantile"):  # σ ∝ d is in reach of both: small gaps
        assert row[name]["maps"][0][0] > 0  # σ grows with the distance
        assert row[name]["bin_gap_1sigma"] < 0.06
        assert row[name]["val_cross_fitted"]["n"] == 600
    assert "latent distance" in out.with_suffix(".md").read_text()
