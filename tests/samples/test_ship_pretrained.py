"""``samples/helper_tools/ship_pretrained.py``: the slim checkpoint keeps what inference needs."""

from __future__ import annotations

from pathlib import Path

import torch


def test_slim_checkpoint_keeps_weights_schema_and_calibration_only(tmp_path, helper_script):
    src, dst = tmp_path / "run.ckpt", tmp_path / "ship" / "model.ckpt"
    full = {
        "state_dict": {"w": torch.ones(3), "latent_distance.bank": torch.zeros(4, 2)},
        "hyper_parameters": {"sigma_distance_rows": 4},
        "fm_input_schema": {"formula": {"columns": ["a"], "fill": [0.0]}},
        "fm_calibration": {"rows_kept": 4, "tasks": {}},
        "optimizer_states": [{"state": {}}],
        "lr_schedulers": [],
        "loops": {},
        "epoch": 3,
        "global_step": 30,
        "pytorch-lightning_version": "2.6.6",
    }
    torch.save(full, src)
    slim = helper_script("ship_pretrained").slim_checkpoint(src, dst)
    saved = torch.load(dst, map_location="cpu", weights_only=True)
    assert set(saved) == set(slim)
    assert set(saved) == {
        "state_dict",
        "hyper_parameters",
        "fm_input_schema",
        "fm_calibration",
        "epoch",
        "global_step",
        "pytorch-lightning_version",
    }
    assert torch.equal(saved["state_dict"]["latent_distance.bank"], torch.zeros(4, 2))
    assert not list(dst.parent.glob("*.tmp"))


def test_the_card_names_the_shipped_folder_and_its_config(tmp_path, helper_script):
    slim = {
        "state_dict": {"w": torch.ones(3)},
        "hyper_parameters": {
            "encoder_dims": [8],
            "deposit_dim": 4,
            "tasks": [{"init_args": {"name": "gap"}}],
        },
        "fm_input_schema": {"formula": {"columns": ["a"], "featurizer": {"preset": "rich"}}},
    }
    info = {"epoch": 3, "global_step": 30, "file": "best.ckpt", "max_epochs": 5}
    corpus = {"corpus": {"rows": 10, "sha256": "ab" * 32}}
    text = helper_script("ship_pretrained").card(
        info,
        slim,
        {"test_gap_mae": 0.5},
        corpus,
        None,
        2.0,
        Path("results/pretrained/fm-candidate"),
        "pretrain_base.yaml --model.init_args.formula_bins=8",
    )
    assert text.startswith("# fm-candidate: the pretrained")
    assert "foundation_model.load('results/pretrained/fm-candidate/model.ckpt')" in text
    assert "--like results/pretrained/fm-candidate/model.ckpt" in text
    assert "(= `pretrain_base.yaml --model.init_args.formula_bins=8`)" in text
    assert "fm-base" not in text
    assert "| gap | mae | 0.5 |" in text
