from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

from foundation_model.data import CompoundDataModule
from foundation_model.models import FlexibleMultiTaskModel
from foundation_model.models.fine_tuning import component_names, parameter_groups
from foundation_model.models.task_head import (
    ClassificationTask,
    RegressionTask,
    SequenceRNNTask,
)


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
    with pytest.raises(ValueError, match=r"does not fit this model .*fm featurize --like "):
        FlexibleMultiTaskModel(
            [RegressionTask("y")],
            10,
            encoder_dims=[32],
            deposit_dim=8,
            init_from_checkpoint=str(path),
        )
    with pytest.raises(FileNotFoundError, match="Checkpoint not found"):
        FlexibleMultiTaskModel([RegressionTask("y")], 10, init_from_checkpoint="/nope.ckpt")


# ------------------------------------------------------------------ scalers, keys, safe loading
@pytest.fixture
def pretrained_seq(tmp_path, tables):
    """A pre-trained model with structure descriptors, a regression and a sequence task."""
    tasks = [
        RegressionTask("y"),
        SequenceRNNTask("curve", "T", "cp", hidden_size=8, num_layers=1),
    ]
    dm = CompoundDataModule(
        tables["formula"],
        tasks,
        tables["attributes"],
        structure_desc_source=tables["structure"],
    )
    model = FlexibleMultiTaskModel(
        dm.tasks, dm.formula_dim, encoder_dims=[16], deposit_dim=8, structure_input_dim=5
    )
    trainer = pl.Trainer(
        max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False
    )
    trainer.fit(model, dm)
    path = tmp_path / "pre_seq.ckpt"
    trainer.save_checkpoint(path)
    return model, path, dm


def _fresh(dm, **kwargs):
    return FlexibleMultiTaskModel(
        dm.tasks, dm.formula_dim, encoder_dims=[16], deposit_dim=8, structure_input_dim=5, **kwargs
    )


def _same_scaler(a, b) -> bool:
    pairs = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    return all(torch.equal(x, y) for x, y in pairs)


@pytest.mark.parametrize(
    ("components", "copied", "fresh"),
    [
        (["encoder"], ["formula_scaler", "structure_scaler"], ["y", "curve", "curve_x"]),
        (["encoder.formula"], ["formula_scaler"], ["structure_scaler", "y", "curve"]),
        (["encoder.structure"], ["structure_scaler"], ["formula_scaler", "y"]),
        (["heads.curve"], ["curve", "curve_x"], ["formula_scaler", "structure_scaler", "y"]),
        (["heads"], ["y", "curve", "curve_x"], ["formula_scaler"]),
    ],
)
def test_warm_start_copies_the_scalers_of_each_copied_component(
    pretrained_seq, components, copied, fresh
):
    pre, path, dm = pretrained_seq
    ft = _fresh(dm, init_from_checkpoint=str(path), init_components=components)

    def scaler(model, key):
        if key.endswith("_scaler"):
            return getattr(model, key)
        if key == "curve_x":
            return model.seq_x_scalers["curve"]
        return model.target_scalers[key]

    for key in copied:
        assert bool(scaler(pre, key).fitted), key
        assert bool(scaler(ft, key).fitted) and _same_scaler(scaler(pre, key), scaler(ft, key)), key
    for key in fresh:
        assert not bool(scaler(ft, key).fitted), key


def test_unknown_component_names_are_one_line_errors(pretrained, tables):
    _, path = pretrained
    dm = CompoundDataModule(tables["formula"], [RegressionTask("y")], tables["attributes"])
    kwargs = {"encoder_dims": [16], "deposit_dim": 8}
    with pytest.raises(ValueError, match=r"freeze_components: unknown component 'encodr'") as e:
        FlexibleMultiTaskModel(dm.tasks, dm.formula_dim, freeze_components=["encodr"], **kwargs)
    assert "\n" not in str(e.value) and "encoder.formula" in str(e.value)
    with pytest.raises(ValueError, match=r"init_components: unknown component 'heads.zz'"):
        FlexibleMultiTaskModel(
            dm.tasks,
            dm.formula_dim,
            init_from_checkpoint=str(path),
            init_components=["heads.zz"],
            **kwargs,
        )
    model = FlexibleMultiTaskModel(
        dm.tasks, dm.formula_dim, component_lr={"encoder": 1e-4, "head": 1e-3}, **kwargs
    )
    with pytest.raises(
        ValueError, match=r"component_lr: unknown component 'head' .*; valid components"
    ) as e:
        model.configure_optimizers()
    assert "\n" not in str(e.value) and "heads.y" in str(e.value)


def test_component_lr_groups_parameters(tables):
    dm = CompoundDataModule(tables["formula"], [RegressionTask("y")], tables["attributes"])
    model = FlexibleMultiTaskModel(dm.tasks, dm.formula_dim, encoder_dims=[16], deposit_dim=8)
    groups = parameter_groups(model, {"encoder": 1e-4, "encoder.formula": 1e-5})
    by_lr = {g.get("lr"): sum(p.numel() for p in g["params"]) for g in groups}
    n_formula = sum(p.numel() for p in model.encoder.formula.parameters())
    n_encoder = sum(p.numel() for p in model.encoder.parameters())
    assert by_lr[1e-5] == n_formula and by_lr[1e-4] == n_encoder - n_formula
    assert component_names(model)[:3] == ["encoder", "encoder.deposit", "encoder.formula"]


def test_warm_start_reads_with_weights_only(pretrained, tables, tmp_path):
    pre, path = pretrained
    dm = CompoundDataModule(tables["formula"], [RegressionTask("y")], tables["attributes"])

    def build(ckpt):
        return FlexibleMultiTaskModel(
            dm.tasks, dm.formula_dim, encoder_dims=[16], deposit_dim=8, init_from_checkpoint=ckpt
        )

    ckpt = torch.load(path, weights_only=False)
    ckpt["extra"] = {"stats": np.arange(3.0), "n": np.int64(4)}  # numpy is allowed
    ok = tmp_path / "numpy.ckpt"
    torch.save(ckpt, ok)
    assert torch.equal(build(str(ok)).formula_scaler.mean, pre.formula_scaler.mean)

    ckpt["extra"] = Path("somewhere")  # an arbitrary object is not unpickled
    unsafe = tmp_path / "unsafe.ckpt"
    torch.save(ckpt, unsafe)
    with pytest.raises(ValueError, match=r"unsafe.ckpt holds Python objects .*Path") as e:
        build(str(unsafe))
    assert "\n" not in str(e.value)

    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(ValueError, match=r"truncated.ckpt is truncated or not a PyTorch") as e:
        build(str(truncated))
    assert "\n" not in str(e.value)
    text = tmp_path / "table.ckpt"
    text.write_text("id,y\nm1,2\n")
    with pytest.raises(ValueError, match=r"table.ckpt is truncated or not a PyTorch checkpoint"):
        build(str(text))


@pytest.mark.parametrize("scaling", ["checkpoint", "task"])
def test_init_input_scaling_keeps_or_refits_the_encoder_input_scaler(pretrained, tables, scaling):
    pre, path = pretrained
    shifted = tables["formula"] * 3.0 + 1.0  # the fine-tuning rows live elsewhere
    dm = CompoundDataModule(shifted, [RegressionTask("y")], tables["attributes"])
    ft = FlexibleMultiTaskModel(
        dm.tasks,
        dm.formula_dim,
        encoder_dims=[16],
        deposit_dim=8,
        init_from_checkpoint=str(path),
        init_input_scaling=scaling,
    )
    key = "encoder.formula.layers.0.linear.weight"
    assert torch.equal(pre.state_dict()[key], ft.state_dict()[key])  # weights copied either way
    trainer = pl.Trainer(
        max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False
    )
    trainer.fit(ft, dm)
    task_mean = torch.as_tensor(dm.statistics().formula_mean, dtype=torch.float32)
    if scaling == "task":
        assert torch.allclose(ft.formula_scaler.mean, task_mean)
        assert not torch.allclose(ft.formula_scaler.mean, pre.formula_scaler.mean)
    else:
        assert torch.equal(ft.formula_scaler.mean, pre.formula_scaler.mean)
    with pytest.raises(ValueError, match="init_input_scaling must be 'checkpoint' or 'task'"):
        FlexibleMultiTaskModel(dm.tasks, dm.formula_dim, init_input_scaling="corpus")
