"""Classification task: binary or multi-class labels."""

from __future__ import annotations

import torch
from torch import Tensor

from foundation_model.models.components.mlp import MLP
from foundation_model.models.losses import masked_cross_entropy
from foundation_model.models.task_head.base import TaskHead, TaskSpec


class ClassificationHead(TaskHead):
    """MLP ``d_in -> hidden_dims -> num_classes``; outputs logits ``(B, C)``."""

    def __init__(
        self,
        d_in: int,
        num_classes: int,
        hidden_dims: list[int],
        dropout: float,
        activation: str,
        class_weights: list[float] | None,
        label_smoothing: float,
    ) -> None:
        super().__init__()
        self.mlp = MLP(
            [d_in, *hidden_dims, num_classes], "none", activation, dropout, plain_last=True
        )
        weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
        self.register_buffer("class_weights", weights, persistent=False)
        self.label_smoothing = label_smoothing

    def forward(
        self, h_task: Tensor, seq_x: Tensor | None = None, seq_mask: Tensor | None = None
    ) -> Tensor:
        return self.mlp(h_task)  # (B, C)

    def loss(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        return masked_cross_entropy(pred, target, mask, self.class_weights, self.label_smoothing)


class ClassificationTask(TaskSpec):
    """A categorical property (metal / non-metal, crystal system, ...).

    Labels may be integers ``0..C-1`` or strings; string labels are mapped to indices in
    ``class_names`` order (sorted unique training labels when not given). Outputs are
    ``<name>_probabilities`` (one column per class) and ``<name>_label``.

    Args:
        name: task name.
        column: attributes column holding the label (default: ``name``).
        num_classes: number of classes (inferred from the data when omitted).
        class_names: label of each class index (inferred from string labels when omitted).
        hidden_dims: hidden widths of the head MLP.
        dropout: dropout in the head.
        activation: ``torch.nn`` activation name.
        class_weights: optional per-class loss weights.
        label_smoothing: cross-entropy label smoothing.
        loss_weight: fixed weight ``w_t`` in the total loss.
    """

    task_type = "classification"

    def __init__(
        self,
        name: str,
        column: str | None = None,
        num_classes: int | None = None,
        class_names: list[str] | None = None,
        hidden_dims: list[int] | None = None,
        dropout: float = 0.0,
        activation: str = "SiLU",
        class_weights: list[float] | None = None,
        label_smoothing: float = 0.0,
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__(name, loss_weight)
        self.column = column or name
        self.class_names = [str(c) for c in class_names] if class_names else None
        if num_classes is None and self.class_names:
            num_classes = len(self.class_names)
        if num_classes is not None and num_classes < 2:
            raise ValueError(f"Task {name!r}: num_classes must be at least 2, got {num_classes}.")
        if self.class_names and num_classes != len(self.class_names):
            raise ValueError(
                f"Task {name!r}: num_classes={num_classes} but {len(self.class_names)} class_names."
            )
        self.num_classes = num_classes
        self.hidden_dims = list(hidden_dims) if hidden_dims is not None else [64]
        self.dropout = dropout
        self.activation = activation
        self.class_weights = list(class_weights) if class_weights else None
        self.label_smoothing = label_smoothing

    def target_columns(self) -> list[str]:
        return [self.column]

    def build_head(self, d_in: int) -> ClassificationHead:
        if self.num_classes is None:
            raise ValueError(
                f"Task {self.name!r}: num_classes is unknown (no labels to infer it from); "
                "set num_classes (and class_names) in the task config."
            )
        return ClassificationHead(
            d_in,
            self.num_classes,
            self.hidden_dims,
            self.dropout,
            self.activation,
            self.class_weights,
            self.label_smoothing,
        )
