from __future__ import annotations

import yaml

from benchmark_scripts import load_benchmark

study = load_benchmark("pretrain_loss")


def test_huber_arm_differs_from_pretrain_base_in_the_loss_only(tmp_path):
    base = yaml.safe_load(study.BASE_CONFIG.read_text())
    arm = yaml.safe_load(study.huber_config(tmp_path / "arm.yaml").read_text())
    for task in arm["data"]["init_args"]["tasks"]:
        is_regression = task["class_path"].endswith(".RegressionTask")
        assert (task["init_args"].get("loss") == "huber") == is_regression
        task["init_args"].pop("loss", None)
    # its own run folder, so the shipped run's checkpoints are never touched
    assert (
        arm["model_checkpoint"]["init_args"]["dirpath"] == f"results/runs/{study.RUN}/checkpoints"
    )
    arm["model_checkpoint"] = base["model_checkpoint"]
    arm["trainer"]["logger"] = base["trainer"]["logger"]
    assert arm == base


def test_report_lists_heldout_metrics_and_transfer():
    heldout = {
        "mse": {"test_oqmd_band_gap_mae": 0.04, "test_is_metal_roc_auc": 0.9, "test_x_loss": 1.0},
        "huber": {"test_oqmd_band_gap_mae": 0.02, "test_is_metal_roc_auc": 0.95, "test_x_loss": 2},
    }
    row = {
        "metric": "mae",
        "mse_pretrained": 0.34,
        "mse_recorded": 0.337,
        "huber_pretrained": 0.33,
        "scratch_recorded": 0.327,
        "scratch_rerun": 0.327,
        "rf_same_features": 0.36,
    }
    result = {
        "heldout": heldout,
        "decision": "Huber adopted",
        "transfer": {"matbench_expt_gap": row},
        "pretrain_minutes": 30.0,
    }
    text = study.markdown(result)
    assert "| oqmd_band_gap_mae | 0.04 | 0.02 | 0.500 |" in text
    assert "is_metal_roc_auc" in text and "x_loss" not in text
    assert "| expt_gap | mae | 0.34 | 0.33 | 0.327 | 0.36 | 0.337 / 0.327 |" in text
