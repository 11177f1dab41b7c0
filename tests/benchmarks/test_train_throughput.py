"""``benchmarks/train_throughput.py`` runs end to end on a tiny size."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
import torch

from benchmark_scripts import load_benchmark


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("train_throughput")


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)  # the benchmark sets its own thread count


def test_small_run_writes_the_reports(bench: ModuleType, tmp_path: Path) -> None:
    argv = ["--rows", "600", "--features", "12", "--batch-size", "100", "--rounds", "1"]
    assert bench.main([*argv, "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "train_throughput.json").read_text())
    assert result["samples_per_s_fm"] > 0 and result["samples_per_s_plain"] > 0
    ratio = result["samples_per_s_fm"] / result["samples_per_s_plain"]
    assert result["ratio"] == pytest.approx(ratio)
    assert result["setup"]["steps_per_epoch"] == 6
    assert len(result["epoch_seconds"]["fm"]) == len(result["epoch_seconds"]["plain"]) == 1
    (fm,), (plain,) = result["epoch_seconds"]["fm"], result["epoch_seconds"]["plain"]
    assert result["paired_ratios"] == [pytest.approx(plain / fm)]
    text = (tmp_path / "train_throughput.md").read_text()
    assert "ratio (fm / plain)" in text and "Per-round ratio" in text
