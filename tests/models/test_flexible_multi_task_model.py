from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch

from foundation_model.data import CompoundDataModule
from foundation_model.models import FlexibleMultiTaskModel
from foundation_model.models.task_head import (
    ClassificationTask,
    RegressionTask,
    SequenceRNNTask,
    SequenceTCNFiLMTask,
    SequenceTransformerTask,
)
from synthetic_tables import make_tables


def all_tasks():
    return [
        RegressionTask("y", hidden_dims=[16]),
        ClassificationTask("cls", hidden_dims=[16]),
        SequenceRNNTask("cp_rnn", "T", "cp", hidden_size=8, num_layers=1),
        SequenceTransformerTask(
            "cp_tf", "T", "cp", d_model=8, nhead=2, num_layers=1, dim_feedforward=16
        ),
        SequenceTCNFiLMTask("cp_tcn", "T", "cp", channels=8, dilations=[1, 2]),
    ]


def build(tables, structure=True, tasks=None, **kw):
    dm = CompoundDataModule(
        tables["formula"],
        tasks or all_tasks(),
        tables["attributes"],
        tables["structure"] if structure else None,
        batch_size=64,
    )
    model = FlexibleMultiTaskModel(
        dm.tasks, dm.formula_dim, dm.structure_dim, encoder_dims=[32, 16], deposit_dim=16, **kw
    )
    dm.setup("fit")
    model.set_statistics(dm.statistics())
    return dm, model


def test_gradients_reach_every_head_and_ssl(tables):
    dm, model = build(tables, mfm_weight=0.5, contrastive_weight=0.5, cross_recon_weight=0.5)
    batch = next(iter(dm.train_dataloader()))
    total, raw, ssl = model.compute_losses(batch)
    assert set(raw) == {"y", "cls", "cp_rnn", "cp_tf", "cp_tcn"}
    assert set(ssl) == {"mfm", "contrastive", "cross_recon"}
    total.backward()
    for name, head in model.heads.items():
        grads = [p.grad for p in head.parameters() if p.requires_grad]
        assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0, name
    assert model.loss_weighting.log_sigma.grad.abs().min() > 0
    assert model.encoder.structure.layers[0].linear.weight.grad.abs().sum() > 0


def test_batch_without_labels_gives_zero_not_nan(tables):
    dm, model = build(tables, structure=False)
    batch = next(iter(dm.train_dataloader()))
    for name in batch.masks:
        batch.masks[name] = torch.zeros_like(batch.masks[name])
        batch.targets[name] = (
            torch.full_like(batch.targets[name], float("nan"))
            if batch.targets[name].is_floating_point()
            else batch.targets[name]
        )
    total, raw, _ = model.compute_losses(batch)
    assert total.item() == 0.0 and all(v.item() == 0.0 for v in raw.values())
    total.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_predict_outputs_are_in_original_units(tables):
    dm, model = build(tables, structure=False)
    batch = next(iter(dm.predict_dataloader()))
    model.eval()
    with torch.no_grad():
        out = model.predict_step(batch, 0)
    assert {"y_value", "cls_probabilities", "cls_label", "cp_rnn_sequence"} <= set(out)
    assert torch.allclose(out["cls_probabilities"].sum(-1), torch.ones(len(batch)))
    pad = ~batch.seq_mask["cp_rnn"]
    assert torch.isnan(out["cp_rnn_sequence"][pad]).all()
    # identity through the scaler: inverse(transform(y)) == y
    scaler = model.target_scalers["y"]
    assert torch.allclose(
        scaler.inverse(scaler.transform(batch.targets["y"])), batch.targets["y"], atol=1e-5
    )


def test_to_outputs_takes_member_predictions_and_refuses_combined_ones(tables):
    # forward() gives combined predictions (batch, ...); to_outputs averaging those over
    # their first axis would give every row the batch's mean (a sequence benchmark did)
    dm, model = build(tables, structure=False)
    batch = next(iter(dm.predict_dataloader()))
    model.eval()
    with torch.no_grad():
        out = model.to_outputs(batch, model.member_predictions(batch))
        assert torch.equal(
            out["y_value"].nan_to_num(), model.predict_step(batch, 0)["y_value"].nan_to_num()
        )
        assert out["y_value"].std() > 0  # rows differ
        with pytest.raises(ValueError, match=r"model\.member_predictions\(batch\)"):
            model.to_outputs(batch, model(batch))


def test_freeze_and_component_lr(tables):
    dm, model = build(
        tables,
        structure=False,
        freeze_components=["encoder.formula"],
        component_lr={"heads": 1e-2, "heads.y": 5e-2},
    )
    assert not any(p.requires_grad for p in model.encoder.formula.parameters())
    opt = model.configure_optimizers()
    lrs = sorted(g["lr"] for g in opt.param_groups)
    assert 1e-2 in lrs and 5e-2 in lrs
    n_frozen = sum(p.numel() for p in model.encoder.formula.parameters())
    n_opt = sum(p.numel() for g in opt.param_groups for p in g["params"])
    assert n_opt == sum(p.numel() for p in model.parameters()) - n_frozen
    with pytest.raises(ValueError, match="no parameter matches"):
        build(tables, structure=False, freeze_components=["encodr"])


def test_short_fit_learns_easy_tasks():
    pl.seed_everything(0)
    tasks = [RegressionTask("y", hidden_dims=[16]), ClassificationTask("cls", hidden_dims=[16])]
    dm, model = build(make_tables(n=600, missing=0.3), structure=False, tasks=tasks)
    trainer = pl.Trainer(
        max_epochs=25,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, dm)
    metrics = trainer.test(model, dm, verbose=False)[0]
    assert metrics["test_y_r2"] > 0.8
    assert metrics["test_cls_accuracy"] > 0.8
    assert metrics["test_cls_log_loss"] < 0.5  # learned: a coin's would be ln 2 = 0.69
    assert model.eval_outputs["test"]["y"]["pred"].shape[0] == len(dm.splits.test)
