"""Shared parts of sequence tasks: a property curve ``y(x)`` over per-row points ``x``."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from foundation_model.models.losses import REGRESSION_LOSSES
from foundation_model.models.task_head.base import TaskHead, TaskSpec, check_regression_loss


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
