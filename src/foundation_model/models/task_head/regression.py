"""Regression task: one scalar target per row."""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from foundation_model.models.components.mlp import MLP
from foundation_model.models.losses import REGRESSION_LOSSES
from foundation_model.models.task_head.base import TaskHead, TaskSpec, check_regression_loss


class RegressionHead(TaskHead):
    """MLP ``d_in -> hidden_dims -> 1``; outputs ``(B,)`` in standardised target units."""

    def __init__(
        self, d_in: int, hidden_dims: list[int], dropout: float, activation: str, loss: str
    ) -> None:
        super().__init__()
        self.mlp = MLP([d_in, *hidden_dims, 1], "none", activation, dropout, plain_last=True)
        self.loss_fn = REGRESSION_LOSSES[loss]

    def forward(
        self, h_task: Tensor, seq_x: Tensor | None = None, seq_mask: Tensor | None = None
    ) -> Tensor:
        return self.mlp(h_task).squeeze(-1)  # (B,)

    def loss(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        return self.loss_fn(pred, target, mask)


class RegressionTask(TaskSpec):
    """A scalar property (band gap, yield strength, ...).

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
    ) -> None:
        super().__init__(name, loss_weight)
        self.column = column or name
        self.hidden_dims = list(hidden_dims) if hidden_dims is not None else [64]
        self.dropout = dropout
        self.activation = activation
        self.loss = check_regression_loss(loss)
        self.standardize = standardize
        self.log_transform = log_transform

    def target_columns(self) -> list[str]:
        return [self.column]

    def build_head(self, d_in: int) -> RegressionHead:
        return RegressionHead(d_in, self.hidden_dims, self.dropout, self.activation, self.loss)
