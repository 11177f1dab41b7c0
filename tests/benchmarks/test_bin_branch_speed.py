"""``benchmarks/bin_branch_speed.py``: the dense reference and a tiny end-to-end run."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
import torch

from benchmark_scripts import load_benchmark


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("bin_branch_speed")


@pytest.fixture(autouse=True)
def keep_torch_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)  # the benchmark sets its own thread count


def _task(root: Path, rows: int = 120, features: int = 6) -> None:
    """``root/toy.csv`` and ``root/features/toy_rich.parquet`` as ``fm data matbench`` writes
    them; descriptor 0 is zero in 80 % of the rows, so it keeps few bins."""
    rng = np.random.default_rng(0)
    ids = [f"toy-{i:03d}" for i in range(rows)]
    x = rng.normal(size=(rows, features))
    x[rng.random(rows) < 0.8, 0] = 0.0
    (root / "features").mkdir(parents=True)
    pd.DataFrame(
        x, index=pd.Index(ids, name="id"), columns=[f"d{j}" for j in range(features)]
    ).to_parquet(root / "features" / "toy_rich.parquet")
    pd.DataFrame({"id": ids, "formula": ["NaCl"] * rows, "target": x @ np.arange(features)}).to_csv(
        root / "toy.csv", index=False
    )


def test_dense_reference_is_the_same_map(bench: ModuleType, tmp_path: Path) -> None:
    _task(tmp_path)
    dm = bench.build("toy", tmp_path, batch_size=None)
    compact = bench.new_model(dm, 4, dense=False)
    dense = bench.new_model(dm, 4, dense=True)
    branch = compact.encoder.formula_bins
    with torch.no_grad():
        branch.proj.weight.normal_()
        dense.encoder.formula_bins.dense.weight.copy_(branch.proj.dense_weight())
    x = torch.as_tensor(dm.tensors.x_formula[:10])
    assert torch.allclose(branch(x), dense.encoder.formula_bins(x), atol=1e-5)
    n_valid = int(branch.valid.sum())
    assert n_valid < 6 * 4  # the zero-inflated descriptor lost bins
    assert branch.proj.weight.numel() == 512 * n_valid
    assert dense.encoder.formula_bins.dense.weight.numel() == 512 * 6 * 4


def test_small_run_writes_the_reports(bench: ModuleType, tmp_path: Path) -> None:
    _task(tmp_path / "data")
    argv = ["--tasks", "toy", "--data", str(tmp_path / "data"), "--rounds", "1"]
    assert bench.main([*argv, "--out", str(tmp_path / "out")]) == 0
    result = json.loads((tmp_path / "out" / "bin_branch_speed.json").read_text())
    toy = result["tasks"]["toy"]
    assert toy["rows"] == 120 and toy["batch_size"] == 32  # the recipe's rule under 2k rows
    assert set(toy["epoch_seconds"]) == set(bench.VARIANTS)
    assert all(len(v) == 1 and v[0] > 0 for v in toy["epoch_seconds"].values())
    assert toy["ratio_to_bins16_dense_median"]["bins16_dense"] == pytest.approx(1.0)
    params = toy["trainable_parameters"]
    assert params["no_bins"] < params["bins16"] < params["bins16_dense"]
    assert params["bins16_fused"] == params["bins16"]  # the optimizer differs, not the model
    text = (tmp_path / "out" / "bin_branch_speed.md").read_text()
    assert "| toy | 120 | 32 | bins16 |" in text


def test_a_table_without_target_is_refused(bench: ModuleType, tmp_path: Path) -> None:
    _task(tmp_path)
    pd.read_csv(tmp_path / "toy.csv").drop(columns="target").to_csv(tmp_path / "toy.csv")
    with pytest.raises(SystemExit, match="no 'target' column"):
        bench.build("toy", tmp_path, batch_size=None)
