"""Callback writing ``predict`` outputs to a CSV: ids + every ``<task>_*`` column."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import BasePredictionWriter


def _class_names(pl_module: pl.LightningModule) -> dict[str, list[str]]:
    out = {}
    for spec in getattr(pl_module, "task_specs", []):
        n = getattr(spec, "num_classes", None)
        if n:
            out[spec.name] = list(getattr(spec, "class_names", None) or [str(i) for i in range(n)])
    return out


def _concat(parts: list[torch.Tensor]) -> torch.Tensor:
    """Concatenate batches; ``(B, L)`` parts of different ``L`` are NaN-padded to the widest."""
    if parts[0].ndim == 2 and parts[0].is_floating_point():
        width = max(p.shape[1] for p in parts)
        pad = torch.nn.functional.pad
        parts = [pad(p, (0, width - p.shape[1]), value=float("nan")) for p in parts]
    return torch.cat(parts)


def predictions_to_frame(
    predictions: list[dict[str, torch.Tensor]],
    ids: pd.Index | None = None,
    class_names: dict[str, list[str]] | None = None,
    split_labels: np.ndarray | None = None,
) -> pd.DataFrame:
    """Merge per-batch prediction dicts into one table.

    ``(B,)`` tensors become columns, ``(B, C)`` class probabilities become one column per
    class (``<task>_probabilities_<class>``), NaN-padded ``(B, L)`` ``*_sequence*`` tensors
    become JSON lists, and ``<task>_label`` indices become class names.
    """
    class_names = class_names or {}
    merged = {k: _concat([p[k].detach().cpu() for p in predictions]) for k in predictions[0]}
    rows = merged.pop("row_index", None)
    frame: dict[str, Any] = {}
    if rows is not None:
        idx = rows.numpy()
        frame["id"] = ids[idx] if ids is not None else idx
        if split_labels is not None:
            frame["split"] = split_labels[idx]
    for key, value in merged.items():
        arr = value.float().numpy() if value.is_floating_point() else value.numpy()
        task = key.rsplit("_", 1)[0]
        if "_sequence" in key and arr.ndim == 2:
            frame[key] = [
                json.dumps([round(float(v), 6) for v in row[np.isfinite(row)]]) for row in arr
            ]
        elif key.endswith("_probabilities") and arr.ndim == 2:
            names = class_names.get(
                key[: -len("_probabilities")], [str(i) for i in range(arr.shape[1])]
            )
            for j, name in enumerate(names):
                frame[f"{key}_{name}"] = arr[:, j]
        elif key.endswith("_label") and task in class_names:
            frame[key] = np.asarray(class_names[task], dtype=object)[arr.astype(int)]
        elif arr.ndim == 1:
            frame[key] = arr
        else:
            for j in range(arr.shape[1]):
                frame[f"{key}_{j}"] = arr[:, j]
    return pd.DataFrame(frame)


def write_csv_atomic(df: pd.DataFrame, path: Path) -> None:
    """Write through a temporary file and rename, so a crash never leaves half a CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)


class PredictionWriter(BasePredictionWriter):
    """Save ``fm predict`` results as CSV.

    Args:
        output_path: CSV path; default ``<run dir>/predictions.csv``.
    """

    def __init__(self, output_path: str | None = None) -> None:
        super().__init__(write_interval="epoch")
        self.output_path = output_path
        self.written: Path | None = None

    def write_on_epoch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        predictions: Any,
        batch_indices: Any,
    ) -> None:
        if predictions and isinstance(predictions[0], list):  # several dataloaders
            predictions = [p for group in predictions for p in group]
        if not predictions:
            return
        dm = trainer.datamodule
        ids = getattr(dm, "ids", None)
        has_targets = getattr(dm, "attributes", None) is not None  # splits mean nothing otherwise
        labels = dm.split_labels() if has_targets and hasattr(dm, "split_labels") else None
        df = predictions_to_frame(predictions, ids, _class_names(pl_module), labels)
        root = Path(trainer.log_dir or trainer.default_root_dir)
        path = Path(self.output_path) if self.output_path else root / "predictions.csv"
        write_csv_atomic(df, path)
        self.written = path
        print(f"Predictions for {len(df)} rows written to {path}")
