"""Regression task: one scalar target per row."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from foundation_model.models.components.mlp import MLP
from foundation_model.models.losses import REGRESSION_LOSSES, masked_noise_nll
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


class RegressionHead(TaskHead):
    """MLP ``d_in -> hidden_dims -> 1``; outputs ``(B,)`` in standardised target units, or
    ``(B, 2)`` (mean, log noise scale) with ``noise=True``.

    The noise scale comes from its own MLP on the detached shared features and the detached
    mean (errors often depend on the predicted value, e.g. near-zero band gaps) and learns
    from :meth:`aux_loss` only, in which the mean is detached too: a noise head leaves the
    training of the mean and of the encoder unchanged.
    """

    #: bounds of the predicted log noise scale (standardised units), for stable training
    LOG_SCALE_RANGE = (-7.0, 3.0)

    def __init__(
        self,
        d_in: int,
        hidden_dims: list[int],
        dropout: float,
        activation: str,
        loss: str,
        noise: bool = False,
    ) -> None:
        super().__init__()
        self.mlp = MLP([d_in, *hidden_dims, 1], "none", activation, dropout, plain_last=True)
        self.loss_fn = REGRESSION_LOSSES[loss]
        self.noise_mlp = (
            MLP([d_in + 1, *hidden_dims, 1], "none", activation, dropout, plain_last=True)
            if noise
            else None
        )
        self.family = "laplace" if loss == "l1" else "gaussian"

    def forward(
        self, h_task: Tensor, seq_x: Tensor | None = None, seq_mask: Tensor | None = None
    ) -> Tensor:
        mean = self.mlp(h_task).squeeze(-1)  # (B,)
        if self.noise_mlp is None:
            return mean
        features = torch.cat([h_task.detach(), mean.detach().unsqueeze(-1)], dim=-1)
        log_scale = self.noise_mlp(features).squeeze(-1).clamp(*self.LOG_SCALE_RANGE)
        return torch.stack([mean, log_scale], dim=-1)  # (B, 2)

    def loss(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        mean = pred[..., 0] if self.noise_mlp is not None else pred
        return self.loss_fn(mean, target, mask)

    def aux_loss(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor | None:
        """Likelihood of the detached mean's residuals under the predicted noise scale."""
        if self.noise_mlp is None:
            return None
        detached = torch.stack([pred[..., 0].detach(), pred[..., 1]], dim=-1)
        return masked_noise_nll(detached, target, mask, self.family)


def numeric_column(attrs: pd.DataFrame, column: str, task: str) -> np.ndarray:
    """A numeric attributes column as float64 (NaN = no label); one-line errors otherwise."""
    col = pd.to_numeric(attrs[column], errors="coerce")
    bad = attrs[column].notna() & col.isna()
    if bad.any():
        raise ValueError(
            f"attributes_source: column {column!r} (task {task!r}) has non-numeric "
            f"value(s) such as {attrs[column][bad].iloc[0]!r} at row {bad.idxmax()!r}."
        )
    y = col.to_numpy(np.float64)
    if np.isinf(y).any():
        raise ValueError(
            f"attributes_source: column {column!r} holds inf values; fix or blank them."
        )
    return y


class RegressionTask(TaskSpec):
    """A scalar property (band gap, yield strength, ...).

    Outputs ``<name>_value`` and ``<name>_std`` (original units) when the model gives a
    spread: an ensemble of heads, a noise head, or both (their variances add).

    Args:
        name: task name (output column ``<name>_value``).
        column: attributes column holding the target (default: ``name``).
        hidden_dims: hidden widths of the head MLP.
        dropout: dropout in the head.
        activation: ``torch.nn`` activation name.
        loss: ``mse``, ``l1`` or ``huber`` (on standardised targets).
        standardize: standardise the target with train-split mean/std.
        log_transform: fit on ``log10(y)`` (targets must be positive); predictions are
            returned in original units.
        loss_weight: fixed weight ``w_t`` in the total loss.
        noise_head: also predict each row's noise scale (heteroscedastic regression): the head
            outputs a mean, trained by ``loss`` as without a noise head, and a log scale from
            its own MLP on the detached shared features and predicted mean, trained by the
            likelihood that matches
            ``loss`` (Laplace for ``l1``, Gaussian otherwise) of the mean's residuals,
            outside the task weighting. ``<name>_std`` is then the predicted noise combined
            with the ensemble spread, recalibrated on validation rows.
    """

    task_type = "regression"

    def __init__(
        self,
        name: str,
        column: str | None = None,
        hidden_dims: list[int] | None = None,
        dropout: float = 0.0,
        activation: str = "SiLU",
        loss: Literal["mse", "l1", "huber"] = "mse",
        standardize: bool = True,
        log_transform: bool = False,
        loss_weight: float = 1.0,
        noise_head: bool = False,
    ) -> None:
        super().__init__(name, loss_weight)
        self.column = column or name
        self.hidden_dims = list(hidden_dims) if hidden_dims is not None else [64]
        self.dropout = dropout
        self.activation = activation
        self.loss = check_regression_loss(loss)
        self.standardize = standardize
        self.log_transform = log_transform
        self.noise_head = bool(noise_head)

    def target_columns(self) -> list[str]:
        return [self.column]

    def target_log10(self) -> bool:
        return self.log_transform

    def build_head(self, d_in: int) -> RegressionHead:
        return RegressionHead(
            d_in, self.hidden_dims, self.dropout, self.activation, self.loss, self.noise_head
        )

    def combine(self, stacked: Tensor) -> Tensor:
        """Mean over members of the predicted means, ``(K, B[, 2]) -> (B,)``."""
        return (stacked[..., 0] if self.noise_head else stacked).mean(dim=0)

    def model_std(self, stacked: Tensor) -> Tensor:
        """Model-space predictive std: member spread, plus the mean predicted noise variance
        with a noise head (Laplace scale ``b`` has variance ``2 b^2``)."""
        if not self.noise_head:
            return member_std(stacked)
        spread = torch.nan_to_num(member_std(stacked[..., 0]), nan=0.0)
        scale = stacked[..., 1].exp()
        noise_var = (2.0 * scale**2 if self.loss == "l1" else scale**2).mean(dim=0)
        return torch.sqrt(spread**2 + noise_var)

    def prepare(self, attrs: pd.DataFrame | None, n: int, train_rows: np.ndarray) -> TaskData:
        if attrs is None:
            return TaskData(np.zeros(n, np.float32), np.zeros(n, bool))
        y = numeric_column(attrs, self.column, self.name)
        mask = ~np.isnan(y)
        if self.log_transform and (y[mask] <= 0).any():
            raise ValueError(
                f"Task {self.name!r}: log_transform needs positive targets; "
                f"{self.column!r} has values <= 0."
            )
        return TaskData(np.where(mask, y, 0.0).astype(np.float32), mask)

    def target_statistics(self, data: TaskData, train_rows: np.ndarray) -> tuple[float, float]:
        if not self.standardize:
            return 0.0, 1.0
        return super().target_statistics(data, train_rows)

    def outputs(self, stacked: Tensor, batch: Batch, scalers: TaskScalers) -> dict[str, Tensor]:
        assert scalers.target is not None
        value = scalers.target.inverse(self.combine(stacked))  # (B,)
        std, spread = to_original_std(self.model_std(stacked), value, scalers, self.log_transform)
        return {f"{self.name}_value": value, f"{self.name}_std": std, f"{self.name}_spread": spread}

    def eval_items(self, outputs: dict[str, Tensor], batch: Batch) -> dict[str, Tensor]:
        return {
            "pred": outputs[f"{self.name}_value"],
            "std": outputs[f"{self.name}_std"],
            "spread": outputs[f"{self.name}_spread"],
            "target": batch.targets[self.name],
            "mask": batch.masks[self.name],
        }

    def metrics(self, arrays: dict[str, np.ndarray]) -> dict[str, float]:
        from foundation_model.models.metrics import point_metrics

        return point_metrics(arrays)

    def task_error(self, arrays: dict[str, np.ndarray], scale: float) -> float:
        pred, target = arrays["pred"], arrays["target"]
        if self.log_transform:  # compare in the space the model standardises
            pred, target = (np.log10(np.clip(a, 1e-30, None)) for a in (pred, target))
        return scaled_mae(pred, target, arrays["mask"], scale)

    def frame_columns(self, outputs: dict[str, np.ndarray]) -> dict[str, object]:
        return {f"{self.name}_{k}": outputs[f"{self.name}_{k}"] for k in ("value", "std")}

    def plot(self, arrays: dict[str, np.ndarray], title: str, out_dir: Path) -> list[Path]:
        from foundation_model.plotting.parity import parity_plot

        m = arrays["mask"]
        return [
            parity_plot(
                arrays["target"][m], arrays["pred"][m], title, out_dir / f"parity_{title}.png"
            )
        ]
