"""The shipped pretrained model (results/pretrained/fm-base) loads and predicts on its own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import foundation_model

BASE = Path(__file__).resolve().parents[2] / "results" / "pretrained" / "fm-base"


def test_shipped_folder_is_complete_and_small():
    for name in ("model.ckpt", "config.yaml", "corpus.json", "README.md", "test_metrics.json"):
        assert (BASE / name).is_file(), name
    assert (BASE / "model.ckpt").stat().st_size <= 25 * 2**20
    corpus = json.loads((BASE / "corpus.json").read_text())
    assert corpus["leakage"]["matbench_reduced_formulas"] > 0


def test_shipped_checkpoint_predicts_new_formulas_from_itself_alone():
    model = foundation_model.load(BASE / "model.ckpt")
    pred, errors = model.predict_with_errors(["Fe2O3", "GaN", "NaCl", "not_a_formula"])
    assert len(pred) == 3 and len(errors) == 1
    h = pred["oqmd_formation_enthalpy_value"].to_numpy()
    assert np.isfinite(h).all()
    # real chemistry, not noise: rock salt and hematite are strongly bound (OQMD: about
    # -2.1 and -1.7 eV/atom); both must come out clearly negative
    assert (h[[0, 2]] < -0.8).all(), h
    assert set(pred["is_metal_label"].astype(str)) <= {"0", "1"}


def test_finetune_from_base_config_fine_tunes_the_shipped_model(tmp_path, monkeypatch):
    """The README's fine-tuning commands on a small table: featurize --like, then fm fit."""
    import pandas as pd
    import torch
    import yaml

    from foundation_model.cli.main import main as fm_main

    repo = BASE.parents[2]
    monkeypatch.chdir(repo)  # the config names the shipped checkpoint relative to the repo
    formulas = ["Fe2O3", "GaN", "NaCl", "MgO", "ZnS", "CuO", "TiO2", "SiC", "AlN", "KBr"] * 2
    table = pd.DataFrame(
        {"id": [f"r{i}" for i in range(20)], "formula": formulas, "target": np.arange(20.0)}
    )
    table.to_csv(tmp_path / "my.csv", index=False)
    argv = ["featurize", "--input", str(tmp_path / "my.csv"), "--id-column", "id"]
    argv += ["--like", str(BASE / "model.ckpt"), "--output", str(tmp_path / "my.parquet")]
    assert fm_main([*argv, "--no-cache", "--quiet"]) == 0
    cfg = yaml.safe_load((repo / "samples/generated_configs/finetune_from_base.yaml").read_text())
    cfg["trainer"]["logger"]["init_args"]["save_dir"] = str(tmp_path / "runs")
    cfg["model_checkpoint"]["init_args"]["dirpath"] = str(tmp_path / "ck")
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    argv = ["fit", "--config", str(tmp_path / "cfg.yaml"), "--trainer.max_epochs=1"]
    argv += [f"--data.init_args.formula_desc_source={tmp_path / 'my.parquet'}"]
    argv += [f"--data.init_args.attributes_source={tmp_path / 'my.csv'}"]
    argv += ["--plots.enabled=false", "--trainer.enable_progress_bar=false"]
    assert fm_main(argv) == 0
    tuned = torch.load(tmp_path / "ck" / "last.ckpt", weights_only=False)["state_dict"]
    shipped = torch.load(BASE / "model.ckpt", weights_only=False)["state_dict"]
    assert torch.equal(tuned["formula_scaler.mean"], shipped["formula_scaler.mean"])
