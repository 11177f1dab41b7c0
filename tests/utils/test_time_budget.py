from __future__ import annotations

import itertools

import lightning.pytorch as pl
import pytest
import torch

from foundation_model.data import CompoundDataModule
from foundation_model.models import FlexibleMultiTaskModel
from foundation_model.models.task_head import RegressionTask
from foundation_model.utils import time_budget
from foundation_model.utils.time_budget import TimeBudget
from synthetic_tables import make_tables


class FakeClock:
    """Each call advances 10 s: fit start, epoch starts and the plan are 10 s apart."""

    def __init__(self) -> None:
        self.ticks = itertools.count()

    def __call__(self) -> float:
        return 10.0 * next(self.ticks)


def build(tmp_path, max_epochs: int, budget: TimeBudget):
    tables = make_tables(n=120)
    dm = CompoundDataModule(
        tables["formula"], [RegressionTask("y", hidden_dims=[8])], tables["attributes"]
    )
    model = FlexibleMultiTaskModel(
        dm.tasks,
        dm.formula_dim,
        encoder_dims=[16],
        deposit_dim=8,
        lr_scheduler=lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(
            opt, T_max=max_epochs, eta_min=0.0
        ),
    )
    trainer = pl.Trainer(
        max_epochs=max_epochs,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=[budget],
    )
    return dm, model, trainer


def test_budget_sets_epochs_and_cosine_end(tmp_path, monkeypatch):
    monkeypatch.setattr(time_budget, "_clock", FakeClock())
    budget = TimeBudget(minutes=2.0, timing_epochs=2, margin=0.05)
    dm, model, trainer = build(tmp_path, max_epochs=50, budget=budget)
    trainer.fit(model, datamodule=dm)
    # epochs 1 and 2 start 10 s apart -> 10 s per epoch (epoch 0 left out); plan at t=40 s:
    # floor((114 - 40) / 10) = 7 more epochs after the 2 done -> 9 epochs
    assert budget.seconds_per_epoch == pytest.approx(10.0)
    assert budget.planned_epochs == 9
    assert trainer.current_epoch == 9
    scheduler = trainer.lr_scheduler_configs[0].scheduler
    assert scheduler.T_max == 9
    # the schedule ends annealed (eta_min 0), not cut off half way
    assert trainer.optimizers[0].param_groups[0]["lr"] < 1e-6


def test_budget_never_exceeds_configured_epochs(tmp_path, monkeypatch):
    monkeypatch.setattr(time_budget, "_clock", FakeClock())
    budget = TimeBudget(minutes=600.0)
    dm, model, trainer = build(tmp_path, max_epochs=4, budget=budget)
    trainer.fit(model, datamodule=dm)
    assert budget.planned_epochs == 4 and trainer.current_epoch == 4


def test_resumed_run_keeps_its_plan(tmp_path, monkeypatch):
    monkeypatch.setattr(time_budget, "_clock", FakeClock())
    budget = TimeBudget(minutes=2.0)
    dm, model, trainer = build(tmp_path, max_epochs=50, budget=budget)
    trainer.fit(model, datamodule=dm)
    ckpt = tmp_path / "end.ckpt"
    trainer.save_checkpoint(ckpt)
    assert torch.load(ckpt, weights_only=False)["callbacks"]["TimeBudget"]["planned_epochs"] == 9
    # a resume with a higher ceiling and a fresh callback: the saved plan holds, no new epochs
    again = TimeBudget(minutes=2.0)
    dm, model, trainer = build(tmp_path, max_epochs=50, budget=again)
    trainer.fit(model, datamodule=dm, ckpt_path=ckpt)
    assert again.planned_epochs == 9 and trainer.current_epoch == 9


@pytest.mark.parametrize(
    "kwargs",
    [
        {"minutes": 0},
        {"minutes": float("nan")},
        {"minutes": 1, "timing_epochs": 0},
        {"minutes": 1, "margin": 1},
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="TimeBudget"):
        TimeBudget(**kwargs)
