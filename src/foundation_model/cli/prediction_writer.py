"""Callback writing ``predict`` outputs to a CSV: ids + every ``<task>_*`` column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import BasePredictionWriter

from foundation_model.utils.atomic import write_dataframe


def _concat(parts: list[torch.Tensor]) -> torch.Tensor:
    """Concatenate batches; ``(B, L)`` parts of different ``L`` are NaN-padded to the widest."""
    if parts[0].ndim == 2 and parts[0].is_floating_point():
        width = max(p.shape[1] for p in parts)
        pad = torch.nn.functional.pad
        parts = [pad(p, (0, width - p.shape[1]), value=float("nan")) for p in parts]
    return torch.cat(parts)


def predictions_to_frame(
    predictions: list[dict[str, torch.Tensor]],
    task_specs: list[Any],
    ids: pd.Index | None = None,
    split_labels: np.ndarray | None = None,
) -> pd.DataFrame:
    """Merge per-batch prediction dicts into one table.

    Each task spec turns its own outputs into columns (``<task>_value``, ``<task>_std``,
    ``<task>_probabilities_<class>``, ``<task>_label``, ``<task>_entropy``,
    ``<task>_sequence`` as JSON lists, ...); ``structure_used`` says whether a row's
    structure descriptors were used.
    """
    merged = {k: _concat([p[k].detach().cpu() for p in predictions]) for k in predictions[0]}
    arrays = {
        k: v.float().numpy() if v.is_floating_point() else v.numpy() for k, v in merged.items()
    }
    rows = arrays.pop("row_index", None)
    frame: dict[str, Any] = {}
    if rows is not None:
        frame["id"] = ids[rows] if ids is not None else rows
        if split_labels is not None:
            frame["split"] = split_labels[rows]
    if "structure_used" in arrays:
        frame["structure_used"] = arrays.pop("structure_used").astype(bool)
    claimed: set[str] = set()
    for spec in task_specs:
        own = {k: v for k, v in arrays.items() if k.startswith(spec.name + "_")}
        claimed |= set(own)
        frame |= spec.frame_columns(own)
    for key, arr in arrays.items():  # outputs of modules without task specs (e.g. MLIP)
        if key in claimed:
            continue
        if arr.ndim == 1:
            frame[key] = arr
        else:
            for j in range(arr.reshape(len(arr), -1).shape[1]):
                frame[f"{key}_{j}"] = arr.reshape(len(arr), -1)[:, j]
    return pd.DataFrame(frame)


def _gather_on_rank_zero(
    trainer: pl.Trainer, predictions: list[dict[str, torch.Tensor]]
) -> list[dict[str, torch.Tensor]] | None:
    """Every process's prediction batches (on the CPU) on rank 0; None on the other ranks,
    which write nothing (each would otherwise write its share to the same file)."""
    import torch.distributed as dist

    local = [{k: v.detach().cpu() for k, v in batch.items()} for batch in predictions]
    shares: list[Any] = [None] * trainer.world_size
    dist.all_gather_object(shares, local)
    if trainer.global_rank != 0:
        return None
    return [batch for share in shares for batch in share]


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
        # trainer.log_dir is a collective call under DDP: every process asks, before rank 0
        # alone goes on
        root = Path(trainer.log_dir or trainer.default_root_dir)
        if trainer.world_size > 1:  # each process predicted its share of the rows
            predictions = _gather_on_rank_zero(trainer, predictions)
            if predictions is None:
                return
        if not predictions:
            return
        dm = trainer.datamodule
        ids = getattr(dm, "ids", None)
        has_targets = getattr(dm, "attributes", None) is not None  # splits mean nothing otherwise
        labels = dm.split_labels() if has_targets and hasattr(dm, "split_labels") else None
        specs = getattr(pl_module, "task_specs", [])
        df = predictions_to_frame(predictions, specs, ids, labels)
        if trainer.world_size > 1 and "row_index" in predictions[0]:
            # rows in their input order, once each (the distributed sampler pads the last
            # share with rows of the first)
            rows = torch.cat([p["row_index"].reshape(-1) for p in predictions]).numpy()
            _, first = np.unique(rows, return_index=True)
            df = df.iloc[first].reset_index(drop=True)
        path = Path(self.output_path) if self.output_path else root / "predictions.csv"
        write_dataframe(df, path, index=False)
        self.written = path
        print(f"Predictions for {len(df)} rows written to {path}")
