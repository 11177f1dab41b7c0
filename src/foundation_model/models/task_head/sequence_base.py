"""Shared parts of sequence tasks: a property curve ``y(x)`` over per-row points ``x``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from foundation_model.models.losses import REGRESSION_LOSSES
from foundation_model.models.task_head.base import (
    TaskData,
    TaskHead,
    TaskScalers,
    TaskSpec,
    check_regression_loss,
    member_std,
    scaled_mae,
    to_original_std,
)

if TYPE_CHECKING:
    from foundation_model.data.batch import Batch


class PointEmbedding(nn.Module):
    """Embed scalar sequence points ``(B, L, 1)`` with fixed Fourier features + a linear map.

    Args:
        d_model: output width.
        n_frequencies: number of log-spaced frequencies (sin and cos each).
    """

    def __init__(self, d_model: int, n_frequencies: int = 8) -> None:
        super().__init__()
        freqs = math.pi * torch.logspace(-1, 1, n_frequencies)  # (K,)
        self.register_buffer("freqs", freqs, persistent=False)
        self.linear = nn.Linear(2 * n_frequencies + 1, d_model)

    def forward(self, x: Tensor) -> Tensor:  # (B, L, 1) -> (B, L, d_model)
        angles = x * self.freqs  # (B, L, K)
        return self.linear(torch.cat([x, torch.sin(angles), torch.cos(angles)], dim=-1))


class SequenceHead(TaskHead):
    """Base of sequence heads: output ``(B, L)`` predictions at each input point."""

    def __init__(self, loss: str) -> None:
        super().__init__()
        self.loss_fn = REGRESSION_LOSSES[loss]

    def loss(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        return self.loss_fn(pred, target, mask)


class SequenceTask(TaskSpec):
    """Base of sequence tasks. Each row holds a list of points and a list of values.

    In CSV files the lists are JSON-style strings (``"[300, 400, 500]"``); in Parquet or
    pickled DataFrames they may be real lists or arrays. Both columns of a row must have the
    same length; an empty or missing entry means the row has no curve.

    Args:
        name: task name (output column ``<name>_sequence``).
        x_column: column of per-row input points (e.g. temperatures).
        y_column: column of per-row target values.
        loss: ``mse``, ``l1`` or ``huber`` on standardised values.
        loss_weight: fixed weight ``w_t`` in the total loss.
    """

    task_type = "sequence"
    is_sequence = True

    def __init__(
        self,
        name: str,
        x_column: str,
        y_column: str,
        loss: Literal["mse", "l1", "huber"] = "mse",
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__(name, loss_weight)
        self.x_column = x_column
        self.y_column = y_column
        self.loss = check_regression_loss(loss)

    def target_columns(self) -> list[str]:
        return [self.x_column, self.y_column]

    # ---------------------------------------------------------------- data
    def _parse(self, attrs: pd.DataFrame, n: int) -> tuple[list, list]:
        from foundation_model.data.tables import parse_sequence

        xs: list[list[float] | None] = [None] * n
        ys: list[list[float] | None] = [None] * n
        cols = zip(attrs.index, attrs[self.x_column], attrs[self.y_column], strict=True)
        for i, (rid, xc, yc) in enumerate(cols):
            xs[i] = parse_sequence(xc, f"column {self.x_column!r}", rid)
            ys[i] = parse_sequence(yc, f"column {self.y_column!r}", rid)
            if ys[i] is not None and not xs[i]:
                raise ValueError(
                    f"Task {self.name!r}: row {rid!r} has {len(ys[i])} {self.y_column!r} "
                    f"values but no {self.x_column!r} points (an empty cell): give the points "
                    f"or leave {self.y_column!r} empty too."
                )
            if ys[i] is not None and len(xs[i]) != len(ys[i]):
                nx = len(xs[i])
                raise ValueError(
                    f"Task {self.name!r}: sequence length mismatch at row {rid!r}: "
                    f"{self.x_column!r} has {nx} points, {self.y_column!r} has {len(ys[i])}."
                )
        return xs, ys

    def prepare(self, attrs: pd.DataFrame | None, n: int, train_rows: np.ndarray) -> TaskData:
        xs, ys = self._parse(attrs, n) if attrs is not None else ([None] * n, [None] * n)
        length = max([len(x) for x in xs if x is not None] + [1])
        seq_x = np.zeros((n, length, 1), np.float32)
        seq_mask = np.zeros((n, length), bool)
        y = np.zeros((n, length), np.float32)
        y_mask = np.zeros((n, length), bool)
        for i, (xv, yv) in enumerate(zip(xs, ys, strict=True)):
            if xv is not None:
                seq_x[i, : len(xv), 0] = xv
                seq_mask[i, : len(xv)] = True
            if yv is not None:
                y[i, : len(yv)] = yv
                y_mask[i, : len(yv)] = True
        return TaskData(y, y_mask, seq_x, seq_mask)

    def point_statistics(self, data: TaskData, train_rows: np.ndarray) -> tuple[float, float]:
        """``(mean, std)`` of the sequence points over the training rows."""
        from foundation_model.data.scalers import masked_mean_std

        assert data.seq_x is not None and data.seq_mask is not None
        x = data.seq_x[train_rows, :, 0]
        mean, std = masked_mean_std(x.ravel(), data.seq_mask[train_rows].ravel())
        return float(mean), float(std)

    # ---------------------------------------------------------------- outputs
    def outputs(self, stacked: Tensor, batch: Batch, scalers: TaskScalers) -> dict[str, Tensor]:
        assert scalers.target is not None
        keep = batch.seq_mask[self.name]  # (B, L)
        seq = scalers.target.inverse(self.combine(stacked))  # (B, L)
        std, spread = to_original_std(member_std(stacked), seq, scalers, False)
        nan = torch.tensor(float("nan"), device=seq.device)
        return {
            f"{self.name}_sequence": torch.where(keep, seq, nan),
            f"{self.name}_sequence_std": torch.where(keep, std, nan),
            f"{self.name}_spread": torch.where(keep, spread, nan),
            f"{self.name}_sequence_x": torch.where(keep, batch.seq_x[self.name][..., 0], nan),
        }

    def eval_items(self, outputs: dict[str, Tensor], batch: Batch) -> dict[str, Tensor]:
        return {
            "pred": outputs[f"{self.name}_sequence"],
            "std": outputs[f"{self.name}_sequence_std"],
            "spread": outputs[f"{self.name}_spread"],
            "x": outputs[f"{self.name}_sequence_x"],
            "target": batch.targets[self.name],
            "mask": batch.masks[self.name],
        }

    def metrics(self, arrays: dict[str, np.ndarray]) -> dict[str, float]:
        from foundation_model.models.metrics import point_metrics

        return point_metrics(arrays)

    def task_error(self, arrays: dict[str, np.ndarray], scale: float) -> float:
        return scaled_mae(arrays["pred"], arrays["target"], arrays["mask"], scale)

    def plot(self, arrays: dict[str, np.ndarray], title: str, out_dir: Path) -> list[Path]:
        from foundation_model.plotting.parity import parity_plot
        from foundation_model.plotting.sequence import sequence_plot

        m = arrays["mask"]
        curves = sequence_plot(
            arrays["x"],
            arrays["target"],
            arrays["pred"],
            m,
            title,
            out_dir / f"sequence_{title}.png",
            xlabel=self.x_column,
            ylabel=self.y_column,
        )
        ok = m & np.isfinite(arrays["pred"])
        parity = parity_plot(
            arrays["target"][ok], arrays["pred"][ok], title, out_dir / f"parity_{title}.png"
        )
        return [curves, parity]

    def frame_columns(self, outputs: dict[str, np.ndarray]) -> dict[str, object]:
        def as_json(arr: np.ndarray) -> list[str]:
            # the shortest text that reads back to the same float32 (298.15, not 298.149994)
            return [
                json.dumps([float(str(np.float32(v))) for v in row[np.isfinite(row)]])
                for row in arr
            ]

        return {
            k: as_json(v)
            for k, v in outputs.items()
            if k.startswith(self.name + "_sequence") and v.ndim == 2
        }
