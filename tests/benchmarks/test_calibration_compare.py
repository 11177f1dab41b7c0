"""``benchmarks/calibration_compare.py``: two uncertainty runs compared on cross-fitted
validation rows, which decide."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmark_scripts import load_benchmark


def _run(folder: Path, task: str, seed: int, informative: bool) -> None:
    """Heavy-tailed errors whose scale the spread knows (``informative``) or does not."""
    rng, other = np.random.default_rng(seed), np.random.default_rng(seed + 100)
    out: dict[str, list] = {}
    for k in (0, 1):
        for prefix, n in (("val_", 300), ("", 500)):
            true_sigma = rng.lognormal(0.0, 1.0, n)
            mu = rng.normal(size=n)
            y = mu + true_sigma * rng.normal(size=n)
            spread = true_sigma if informative else other.lognormal(0.0, 1.0, n)
            for key, value in (("y", y), ("values", mu), ("spread", spread)):
                out.setdefault(prefix + key, []).append(value)
            out.setdefault(prefix + "fold", []).append(np.full(n, k))
    out["std"] = out["spread"]
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {key: np.concatenate(v) for key, v in out.items()}
    np.savez(folder / f"matbench_{task}_uncertainty.npz", **arrays)


def test_a_variant_whose_spread_knows_the_errors_is_adopted(tmp_path):
    mod = load_benchmark("calibration_compare")
    for i, task in enumerate(("a", "b")):
        _run(tmp_path / "base", task, i, informative=False)
        _run(tmp_path / "variant", task, i, informative=True)
    out = tmp_path / "cmp"
    argv = ["--base", str(tmp_path / "base"), "--variant", str(tmp_path / "variant")]
    assert mod.main([*argv, "--tasks", "a", "matbench_b", "--out", str(out)]) == 0
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["decision"]["adopt"]
    for row in result["rows"]:
        base, variant = row["base"]["validation"], row["variant"]["validation"]
        assert variant["miscalibration_area"] < base["miscalibration_area"]
        assert variant["mae"] == base["mae"]  # same predictions, only σ differs
        assert row["variant"]["test"]["spearman_error_sigma"] > 0.4
    assert "**adopt**" in out.with_suffix(".md").read_text()
    swapped = mod.compare(tmp_path / "variant", tmp_path / "base", ["a", "b"])
    assert not swapped["decision"]["adopt"]


def test_a_missing_run_is_a_one_line_error(tmp_path, capsys):
    mod = load_benchmark("calibration_compare")
    _run(tmp_path / "base", "a", 0, informative=True)
    argv = ["--base", str(tmp_path / "base"), "--variant", str(tmp_path / "nope")]
    assert mod.main([*argv, "--tasks", "a", "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().out
    assert err.startswith("calibration_compare: error: not found:") and err.count("\n") == 1
