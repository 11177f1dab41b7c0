"""A short CPU fit on the fake data learns the easy tasks (R² and accuracy >= 0.9)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch

from foundation_model.data import CompoundDataModule, RandomSplitter
from foundation_model.models import FlexibleMultiTaskModel
from foundation_model.models.task_head import ClassificationTask, RegressionTask

FAKE_DATA = Path(__file__).resolve().parents[2] / "samples" / "fake_data"


def test_short_fit_learns_y_easy_and_is_metal() -> None:
    pl.seed_everything(0, verbose=False)
    dm = CompoundDataModule(
        FAKE_DATA / "formula_descriptors.csv",
        [RegressionTask("y_easy"), ClassificationTask("is_metal")],
        FAKE_DATA / "attributes.csv",
        splitter=RandomSplitter(val_fraction=0.1, test_fraction=0.1, seed=0),
        batch_size=64,
    )
    model = FlexibleMultiTaskModel(
        dm.tasks,
        dm.formula_dim,
        encoder_dims=[64],
        deposit_dim=32,
        norm="none",
        dropout=0.1,
        optimizer=partial(torch.optim.AdamW, lr=3e-3, weight_decay=1e-2),
    )
    trainer = pl.Trainer(
        max_epochs=30,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, dm)
    outputs = trainer.predict(model, dm)
    rows = torch.cat([o["row_index"] for o in outputs]).numpy()
    held_out = np.isin(rows, np.concatenate([dm.splits.val, dm.splits.test]))  # ~400 rows

    pred = torch.cat([o["y_easy_value"] for o in outputs]).numpy()
    target = dm.tensors.targets["y_easy"][rows].numpy()
    keep = held_out & dm.tensors.masks["y_easy"][rows].numpy()
    r2 = (
        1.0 - ((pred - target)[keep] ** 2).sum() / ((target[keep] - target[keep].mean()) ** 2).sum()
    )

    label = torch.cat([o["is_metal_label"] for o in outputs]).numpy()
    truth = dm.tensors.targets["is_metal"][rows].numpy()
    keep = held_out & dm.tensors.masks["is_metal"][rows].numpy()
    accuracy = (label[keep] == truth[keep]).mean()

    assert keep.sum() > 200
    print(f"y_easy R2 = {r2:.3f}, is_metal accuracy = {accuracy:.3f} ({keep.sum()} labels)")
    assert r2 >= 0.9, f"y_easy R² on val+test = {r2:.3f}"
    assert accuracy >= 0.9, f"is_metal accuracy on val+test = {accuracy:.3f}"
