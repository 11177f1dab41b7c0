from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch

from foundation_model.data import CompoundDataModule
from foundation_model.models import FlexibleMultiTaskModel
from foundation_model.models.task_head import ClassificationTask, RegressionTask


@pytest.fixture
def pretrained(tmp_path, tables):
    dm = CompoundDataModule(
        tables["formula"], [RegressionTask("y"), ClassificationTask("cls")], tables["attributes"]
    )
    model = FlexibleMultiTaskModel(dm.tasks, dm.formula_dim, encoder_dims=[16], deposit_dim=8)
    trainer = pl.Trainer(
        max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False
    )
    trainer.fit(model, dm)
    path = tmp_path / "pre.ckpt"
    trainer.save_checkpoint(path)
    return model, path


def test_warm_start_keeps_encoder_and_chosen_heads_adds_new_head(pretrained, tables):
    pre, path = pretrained
    attrs = tables["attributes"].assign(z=tables["attributes"]["y"] * 3)
    dm = CompoundDataModule(tables["formula"], [RegressionTask("y"), RegressionTask("z")], attrs)
    ft = FlexibleMultiTaskModel(
        dm.tasks,
        dm.formula_dim,
        encoder_dims=[16],
        deposit_dim=8,
        init_from_checkpoint=str(path),
        init_components=["encoder", "heads.y"],
        freeze_components=["encoder"],
    )
    pre_sd, ft_sd = pre.state_dict(), ft.state_dict()
    for key in (
        "encoder.formula.layers.0.linear.weight",
        "encoder.deposit.linear.weight",
        "heads.y.members.0.mlp.layers.1.weight",
    ):
        assert torch.equal(pre_sd[key], ft_sd[key]), key
    assert torch.equal(pre.formula_scaler.mean, ft.formula_scaler.mean)
    assert "heads.cls.members.0.mlp.layers.1.weight" not in ft_sd
    assert not bool(ft.target_scalers["z"].fitted) and bool(ft.target_scalers["y"].fitted)
    assert not any(p.requires_grad for p in ft.encoder.parameters())
    assert ft.hparams["init_from_checkpoint"] is None


def test_warm_start_shape_mismatch_is_clear(pretrained, tables):
    _, path = pretrained
    with pytest.raises(ValueError, match="does not fit this model"):
        FlexibleMultiTaskModel(
            [RegressionTask("y")],
            10,
            encoder_dims=[32],
            deposit_dim=8,
            init_from_checkpoint=str(path),
        )
    with pytest.raises(FileNotFoundError, match="Checkpoint not found"):
        FlexibleMultiTaskModel([RegressionTask("y")], 10, init_from_checkpoint="/nope.ckpt")
