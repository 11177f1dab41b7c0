"""``benchmarks/train_throughput.py``: runs end to end on a tiny size; its lean-logging
diagnostic model trains identically and logs the same epoch losses as ``FlexibleMultiTaskModel``."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import lightning.pytorch as pl
import pandas as pd
import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "train_throughput.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fm_bench_train_throughput", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


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
    assert "ratio (fm / plain)" in (tmp_path / "train_throughput.md").read_text()


def _epoch_losses(bench: ModuleType, lean: bool, log_dir: Path) -> pd.Series:
    torch.set_num_threads(1)
    args = bench.parse_args(["--rows", "500", "--features", "10", "--batch-size", "64"])
    dm, new_model = bench.build(args)
    model = new_model(bench.Variant(lean_log=lean))
    pl.seed_everything(0, verbose=False)
    trainer = pl.Trainer(
        max_epochs=2,
        logger=pl.loggers.CSVLogger(str(log_dir), name="lean" if lean else "fm"),
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    trainer.fit(model, dm)
    metrics = pd.read_csv(Path(trainer.logger.log_dir) / "metrics.csv")
    columns = ["train_final_loss", "train_y_a_loss", "train_y_b_loss", "train_label_loss"]
    return metrics.dropna(subset=["train_final_loss"])[columns].reset_index(drop=True)


def test_lean_logging_reports_the_same_epoch_losses(bench: ModuleType, tmp_path: Path) -> None:
    reference = _epoch_losses(bench, lean=False, log_dir=tmp_path)
    lean = _epoch_losses(bench, lean=True, log_dir=tmp_path)
    assert len(reference) == 2
    pd.testing.assert_frame_equal(reference, lean, rtol=1e-4)
