"""``samples/helper_tools/drop_bin_branch.py``: the trunk of a bins checkpoint, branch fresh."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from foundation_model.data import CompoundDataModule
from foundation_model.models import FlexibleMultiTaskModel
from foundation_model.models.task_head import RegressionTask


def _fit(tables, path: Path, bins: int):
    dm = CompoundDataModule(tables["formula"], [RegressionTask("y")], tables["attributes"])
    model = FlexibleMultiTaskModel(
        dm.tasks, dm.formula_dim, encoder_dims=[16], deposit_dim=8, formula_bins=bins
    )
    trainer = pl.Trainer(
        max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False
    )
    trainer.fit(model, dm)
    trainer.save_checkpoint(path)
    return model, dm


def test_copy_keeps_the_trunk_and_the_recipe_starts_a_fresh_branch(tables, tmp_path, helper_script):
    src, dst = tmp_path / "bins.ckpt", tmp_path / "trunk" / "model.ckpt"
    pre, dm = _fit(tables, src, 3)
    dropped = helper_script("drop_bin_branch").drop_bin_branch(src, dst)
    assert sorted(dropped) == sorted(
        f"encoder.formula_bins.{k}" for k in ("lower", "width", "valid", "fitted", "proj.weight")
    )
    copy = torch.load(dst, map_location="cpu", weights_only=False)
    assert copy["hyper_parameters"]["formula_bins"] == 0
    assert not any(k.startswith("encoder.formula_bins") for k in copy["state_dict"])
    original = torch.load(src, map_location="cpu", weights_only=False)
    assert original["hyper_parameters"]["formula_bins"] == 3  # the input is untouched
    ft = FlexibleMultiTaskModel(
        dm.tasks,
        dm.formula_dim,
        encoder_dims=[16],
        deposit_dim=8,
        formula_bins=3,
        init_from_checkpoint=str(dst),
    )
    assert not bool(ft.encoder.formula_bins.fitted)  # edges come from the task at setup
    assert torch.count_nonzero(ft.encoder.formula_bins.proj.weight) == 0
    assert torch.count_nonzero(pre.encoder.formula_bins.proj.weight) > 0
    for name, value in pre.encoder.formula.state_dict().items():  # the trunk came along
        assert torch.equal(ft.encoder.formula.state_dict()[name], value), name


def test_a_checkpoint_without_bins_and_overwriting_the_input_are_refused(
    tables, tmp_path, helper_script
):
    plain = tmp_path / "plain.ckpt"
    _fit(tables, plain, 0)
    script = helper_script("drop_bin_branch")
    with pytest.raises(ValueError, match="no descriptor-bin branch"):
        script.drop_bin_branch(plain, tmp_path / "out.ckpt")
    with pytest.raises(ValueError, match="is the input checkpoint"):
        script.drop_bin_branch(plain, plain)
    assert not (tmp_path / "out.ckpt").exists()
    assert script.main(["--ckpt", str(tmp_path / "missing.ckpt"), "--out", "x.ckpt"]) == 2
