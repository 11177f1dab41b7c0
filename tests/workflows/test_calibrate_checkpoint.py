"""``fm calibrate``: a checkpoint without σ gets the latent-distance σ, weights unchanged."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from foundation_model.cli.main import main
from foundation_model.inference.predictor import Predictor
from foundation_model.workflows.calibrate_checkpoint import (
    CalibrationOptions,
    calibrate_checkpoint,
    calibration_scores,
)
from synthetic_tables import TABLE_TASKS

TASKS = TABLE_TASKS


def _config(tmp: Path, files: dict[str, str], tasks: list[dict]) -> Path:
    cfg = {
        "seed_everything": 0,
        "trainer": {
            "max_epochs": 3,
            "enable_progress_bar": False,
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": str(tmp / "runs"), "name": "c"},
            },
        },
        "model_checkpoint": {
            "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
            "init_args": {"monitor": "val_task_error", "filename": "best"},
        },
        "model": {
            "class_path": "foundation_model.models.FlexibleMultiTaskModel",
            "init_args": {"encoder_dims": [32], "deposit_dim": 16, "ensemble_size": 1},
        },
        "data": {
            "class_path": "foundation_model.data.CompoundDataModule",
            "init_args": {
                "formula_desc_source": files["formula"],
                "attributes_source": files["attributes"],
                "batch_size": 32,
                "tasks": tasks,
            },
        },
        "plots": {"enabled": False},
    }
    path = tmp / f"cfg{len(tasks)}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture
def trained(tmp_path, table_files) -> dict[str, Path]:
    cfg = _config(tmp_path, table_files, TASKS)
    assert main(["fit", "--config", str(cfg)]) == 0
    ckpt = next((tmp_path / "runs" / "c").glob("version_*/checkpoints/best.ckpt"))
    return {"cfg": cfg, "ckpt": ckpt, "tmp": tmp_path}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_calibrated_checkpoint_predicts_sigma_with_the_same_weights(trained):
    before = _sha(trained["ckpt"])
    out = trained["tmp"] / "calibrated.ckpt"
    report = calibrate_checkpoint(
        CalibrationOptions(trained["ckpt"], trained["cfg"], out, rows=50, k=3)
    )
    assert _sha(trained["ckpt"]) == before  # the input is untouched

    old = torch.load(trained["ckpt"], map_location="cpu", weights_only=False)["state_dict"]
    new = torch.load(out, map_location="cpu", weights_only=False)
    refitted = {"sigma_scales", "sigma_floors"}  # the σ map is all that changes
    for key, value in old.items():
        if key not in refitted:
            assert torch.equal(new["state_dict"][key], value), key
    assert int(new["state_dict"]["latent_distance.count"]) == 50
    assert new["hyper_parameters"]["sigma_distance_rows"] == 50
    assert new["fm_calibration"]["rows_kept"] == 50

    # the regression task is calibrated and scored on the test rows; the others carry no σ
    assert set(report["tasks"]) == {"y"}
    y = report["tasks"]["y"]
    assert y["w"] > 0 and y["a"] > 0
    assert 0.0 <= y["test"]["coverage_1sigma"] <= y["test"]["coverage_2sigma"] <= 1.0
    assert 5 <= y["test"]["rows"] <= report["split_rows"]["test"]

    # from the checkpoint alone: σ is a growing function of the distance to the kept
    # training rows, and the predicted values are the uncalibrated model's
    plain = Predictor.from_checkpoint(trained["ckpt"])
    calibrated = Predictor.from_checkpoint(out)
    table = pd.read_csv(trained["tmp"] / "formula.csv", index_col=0)
    rows = pd.concat([table.iloc[:20], table.iloc[:20] * 3.0 + 2.0])
    got = calibrated.predict(rows)
    std, dist = got["y_std"].to_numpy(), got["latent_distance"].to_numpy()
    assert np.isfinite(std).all() and np.ptp(dist) > 0
    order = np.argsort(dist)
    assert (np.diff(std[order]) >= -1e-6).all()
    assert not np.isfinite(plain.predict(rows)["y_std"]).any()
    np.testing.assert_allclose(plain.predict(rows)["y_value"], got["y_value"], rtol=1e-6)


def test_bad_requests_are_one_line_errors_and_write_nothing(trained, table_files, capsys):
    ckpt, cfg = trained["ckpt"], trained["cfg"]
    base = ["calibrate", "--ckpt_path", str(ckpt), "--config", str(cfg)]
    assert main([*base, "--output", str(ckpt)]) == 2
    assert "is the input checkpoint" in capsys.readouterr().err
    out = trained["tmp"] / "o.ckpt"
    out.write_bytes(b"keep me")
    assert main([*base, "--output", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"
    other = _config(trained["tmp"], table_files, TASKS[:1])  # tasks differ from the model's
    new = trained["tmp"] / "n.ckpt"
    assert (
        main(["calibrate", "--ckpt_path", str(ckpt), "--config", str(other), "--output", str(new)])
        == 2
    )
    assert "are not the checkpoint's" in capsys.readouterr().err
    assert main([*base, "--output", str(new), "--rows", "0"]) == 2
    assert "--rows" in capsys.readouterr().err
    assert main([*base, "--output", str(new), "--config", str(trained["tmp"] / "no.yaml")]) == 2
    assert "not found" in capsys.readouterr().err
    folder = ["calibrate", "--ckpt_path", str(ckpt.parent), "--config", str(other)]
    assert main([*folder, "--output", str(new)]) == 2  # the checkpoints folder, not a file
    assert f"Checkpoint {ckpt.parent} is a folder, not a file." in capsys.readouterr().err
    no_val = [*base, "--output", str(new)]
    no_val += [
        '--data.init_args.splitter={"class_path": "foundation_model.data.RandomSplitter", '
        '"init_args": {"val_fraction": 0.0, "test_fraction": 0.1}}'
    ]
    assert main(no_val) == 2
    assert "validation rows" in capsys.readouterr().err
    reseeded = [*base, "--output", str(new)]
    reseeded += [
        '--data.init_args.splitter={"class_path": "foundation_model.data.RandomSplitter", '
        '"init_args": {"seed": 7}}'
    ]
    assert main(reseeded) == 2  # training rows would calibrate σ: too small on new data
    assert "fm calibrate: error: the val split" in capsys.readouterr().err
    assert sorted(p.name for p in trained["tmp"].glob("*.ckpt")) == ["o.ckpt"]


def test_calibrating_afterwards_equals_training_with_the_latent_distance(trained, table_files):
    """Fitting with ``sigma_distance_rows`` and ``fm calibrate`` on a checkpoint trained
    without it give the same weights, kept rows and σ map."""
    cfg = yaml.safe_load(trained["cfg"].read_text())
    cfg["model"]["init_args"]["sigma_distance_rows"] = 50
    cfg["model"]["init_args"]["sigma_distance_k"] = 3
    cfg["trainer"]["logger"]["init_args"]["name"] = "with_distance"
    path = trained["tmp"] / "with_distance.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["fit", "--config", str(path)]) == 0
    inline = next(
        (trained["tmp"] / "runs" / "with_distance").glob("version_*/checkpoints/best.ckpt")
    )
    out = trained["tmp"] / "afterwards.ckpt"
    calibrate_checkpoint(CalibrationOptions(trained["ckpt"], trained["cfg"], out, rows=50, k=3))
    a = torch.load(inline, map_location="cpu", weights_only=False)["state_dict"]
    b = torch.load(out, map_location="cpu", weights_only=False)["state_dict"]
    assert set(a) == set(b)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)


def test_cli_sigma_fit_and_report(trained, capsys):
    out, report = trained["tmp"] / "lik.ckpt", trained["tmp"] / "lik.json"
    argv = ["calibrate", "--ckpt_path", str(trained["ckpt"]), "--config", str(trained["cfg"])]
    argv += ["--output", str(out), "--rows", "40", "--sigma-fit", "likelihood"]
    assert main([*argv, "--report", str(report)]) == 0
    assert "y: test ±1σ" in capsys.readouterr().out
    saved = torch.load(out, map_location="cpu", weights_only=False)
    assert saved["hyper_parameters"]["sigma_fit"] == "likelihood"
    written = json.loads(report.read_text(), parse_constant=pytest.fail)  # strict: no NaN
    assert written["sigma_fit"] == "likelihood" and written["rows_kept"] == 40
    assert Predictor.from_checkpoint(out).model.hparams["sigma_fit"] == "likelihood"


def test_scores_skip_rows_without_a_label_or_sigma():
    y = np.array([0.0, 1.0, np.nan, 2.0, 3.0, 4.0, 5.0])
    pred = y + 0.5
    std = np.array([1.0, 1.0, 1.0, np.nan, 1.0, 1.0, 1.0])
    out = calibration_scores(y, pred, std)
    assert out["rows"] == 5 and out["mae"] == 0.5 and out["coverage_1sigma"] == 1.0
    assert calibration_scores(y, pred, std, mask=np.arange(7) < 4) is None  # 3 rows left
