"""Tiny synthetic tables with a known ground truth, shared by tests (importable by name)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd


def make_tables(
    n: int = 240, f: int = 10, seed: int = 0, missing: float = 0.3
) -> dict[str, pd.DataFrame]:
    """Formula descriptors, structure descriptors (70 % of rows) and attributes.

    ``y`` is linear in the descriptors, ``cls`` a threshold rule, ``cp`` a line over ``T``.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, f))
    ids = pd.Index([f"m{i}" for i in range(n)], name="id")
    formula = pd.DataFrame(x, index=ids, columns=[f"d{i}" for i in range(f)])
    has_s = rng.random(n) < 0.7
    structure = pd.DataFrame(
        x[has_s, :4] @ rng.normal(size=(4, 5)),
        index=ids[has_s],
        columns=[f"s{i}" for i in range(5)],
    )
    temps = [np.linspace(300, 900, 4 + i % 5) for i in range(n)]
    attrs = pd.DataFrame(
        {
            "y": 2.0 * x[:, 0] - x[:, 1] + 0.5,
            "cls": np.where(x[:, 2] + 0.5 * x[:, 3] > 0, "metal", "insulator"),
            "T": [json.dumps(t.tolist()) for t in temps],
            "cp": [json.dumps((x[i, 4] * t / 900 + x[i, 5]).tolist()) for i, t in enumerate(temps)],
            "split": np.where(
                np.arange(n) % 10 == 0, "test", np.where(np.arange(n) % 10 == 1, "val", "train")
            ),
        },
        index=ids,
    )
    for col in ("y", "cls", "cp"):
        drop = rng.random(n) < missing
        attrs.loc[drop, col] = np.nan
    return {"formula": formula, "structure": structure, "attributes": attrs}


#: one task of each kind on :func:`make_tables`' attributes (``y``, ``cls``, ``cp`` over ``T``)
TABLE_TASKS = [
    {"class_path": "foundation_model.models.task_head.RegressionTask", "init_args": {"name": "y"}},
    {
        "class_path": "foundation_model.models.task_head.ClassificationTask",
        "init_args": {"name": "cls"},
    },
    {
        "class_path": "foundation_model.models.task_head.SequenceTCNFiLMTask",
        "init_args": {"name": "cp", "x_column": "T", "y_column": "cp", "channels": 8},
    },
]


def bench_config(
    monitor: str = "val_task_error", names: tuple[str, ...] = ("target",), stop: bool = False
) -> dict:
    """A tiny ``fm fit`` config dict for one Matbench-style fold: a regression head per name,
    each reading column ``target``, 2 epochs, checkpointing (and with ``stop`` early
    stopping) on ``monitor``."""
    head = "foundation_model.models.task_head.RegressionTask"
    stopping = {
        "class_path": "lightning.pytorch.callbacks.EarlyStopping",
        "init_args": {"monitor": monitor, "mode": "min", "patience": 1},
    }
    return {
        "seed_everything": 0,
        "trainer": {"max_epochs": 2, "accelerator": "cpu"},
        "model_checkpoint": {
            "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
            "init_args": {"monitor": monitor, "mode": "min", "filename": "best"},
        },
        **({"early_stopping": stopping} if stop else {}),
        "model": {
            "class_path": "foundation_model.models.FlexibleMultiTaskModel",
            "init_args": {"encoder_dims": [8], "deposit_dim": 4},
        },
        "data": {
            "class_path": "foundation_model.data.CompoundDataModule",
            "init_args": {
                "formula_desc_source": "unused.parquet",
                "batch_size": 32,
                "tasks": [
                    {"class_path": head, "init_args": {"name": name, "column": "target"}}
                    for name in names
                ],
            },
        },
    }
