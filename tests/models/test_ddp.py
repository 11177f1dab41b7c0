"""Multi-process training through Lightning's DDP strategy (2 CPU processes, gloo)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from foundation_model.cli.main import main

FAKE = Path(__file__).resolve().parents[2] / "samples" / "fake_data"


def _fm(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    """``fm ...`` in a fresh interpreter (DDP starts its processes from the command)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PL_DISABLE_FORK": "1"}
    command = [sys.executable, "-m", "foundation_model.cli.main", *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=cwd)


def test_fit_with_ddp_on_two_cpu_processes(tmp_path, capsys):
    cfg = {
        "seed_everything": 0,
        "trainer": {
            "max_epochs": 2,
            "accelerator": "cpu",
            "devices": 2,
            "strategy": "ddp",
            "enable_progress_bar": False,
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": str(tmp_path / "runs"), "name": "ddp"},
            },
            "callbacks": [
                {
                    "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                    "init_args": {"monitor": "val_task_error", "filename": "best"},
                }
            ],
        },
        "model": {
            "class_path": "foundation_model.models.FlexibleMultiTaskModel",
            "init_args": {"encoder_dims": [16], "deposit_dim": 8, "mfm_weight": 0.1},
        },
        "data": {
            "class_path": "foundation_model.data.CompoundDataModule",
            "init_args": {
                "formula_desc_source": str(FAKE / "formula_descriptors.csv"),
                "attributes_source": str(FAKE / "attributes.csv"),
                "batch_size": 128,
                "tasks": [
                    {
                        "class_path": "foundation_model.models.task_head.RegressionTask",
                        "init_args": {"name": "y_easy"},
                    },
                    {
                        "class_path": "foundation_model.models.task_head.ClassificationTask",
                        "init_args": {"name": "is_metal"},
                    },
                ],
            },
        },
        "plots": {"enabled": False},
    }
    path = tmp_path / "ddp.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = _fm("fit", "--config", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "distributed_backend=gloo" in proc.stderr + proc.stdout
    run = next((tmp_path / "runs" / "ddp").glob("version_*"))
    assert (run / "checkpoints" / "best.ckpt").is_file()
    metrics = pd.read_csv(run / "metrics.csv")
    assert metrics["val_task_error"].notna().sum() == 2  # one per epoch, whole split
    out = proc.stdout + proc.stderr
    assert out.count("Run folder:") == 1  # said once, by the first process
    assert "sync_dist=True" not in out  # the gathered metrics are synced, so no advice
    # fm predict on both processes: every row once, in input order, as with one process
    # (each process wrote its half to the same file, the last one winning)
    ckpt = str(run / "checkpoints" / "best.ckpt")
    outputs = {}
    for devices in (1, 2):
        out = tmp_path / f"pred{devices}.csv"
        argv = [
            "predict", "--config", str(path), "--ckpt_path", ckpt,
            f"--trainer.devices={devices}", f"--prediction_writer.output_path={out}",
        ]  # fmt: skip
        if devices == 1:  # the reference: one process, in this interpreter (no DDP group)
            capsys.readouterr()
            assert main([*argv, "--trainer.strategy=auto"]) == 0
            printed = capsys.readouterr().out
        else:
            proc = _fm(*argv, cwd=tmp_path)
            assert proc.returncode == 0, (proc.stdout + proc.stderr)[:6000]
            printed = proc.stdout
        assert printed.count("Predictions for") == 1
        outputs[devices] = pd.read_csv(out)
    rows = len(pd.read_csv(FAKE / "formula_descriptors.csv"))
    assert len(outputs[2]) == rows and outputs[2]["id"].tolist() == outputs[1]["id"].tolist()
    pd.testing.assert_frame_equal(outputs[2], outputs[1], atol=1e-5, check_dtype=False)
