"""Task contract: a :class:`TaskSpec` says what a task reads and builds its :class:`TaskHead`.

Task specs are chosen in YAML with ``class_path``/``init_args`` and serialise to plain
dicts (``to_dict``/``from_dict``) so that a checkpoint rebuilds its tasks from itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Literal

from torch import Tensor, nn

from foundation_model.models.losses import REGRESSION_LOSSES
from foundation_model.utils.class_path import ClassPathSerializable

TaskType = Literal["regression", "classification", "sequence"]


class TaskHead(nn.Module, ABC):
    """A per-task prediction head fed with ``h_task (B, D)``."""

    @abstractmethod
    def forward(
        self, h_task: Tensor, seq_x: Tensor | None = None, seq_mask: Tensor | None = None
    ) -> Tensor:
        """Raw prediction in model space (scaled units, logits for classification)."""

    @abstractmethod
    def loss(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        """Masked scalar loss on model-space targets."""


class TaskSpec(ClassPathSerializable, ABC):
    """Base class of every task definition.

    Args:
        name: task name; prefixes every output key (``<name>_value`` ...).
        loss_weight: fixed weight ``w_t`` of this task in the total loss.
    """

    task_type: ClassVar[TaskType]

    def __init__(self, name: str, loss_weight: float = 1.0) -> None:
        if not name or not isinstance(name, str):
            raise ValueError(f"Task name must be a non-empty string, got {name!r}.")
        self.name = name
        self.loss_weight = float(loss_weight)

    @abstractmethod
    def build_head(self, d_in: int) -> TaskHead:
        """Create this task's head for a deposit width ``d_in``."""

    @abstractmethod
    def target_columns(self) -> list[str]:
        """Columns of the attributes table this task reads."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TaskSpec) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.name)


def check_regression_loss(loss: str) -> str:
    """Validate a regression loss name."""
    if loss not in REGRESSION_LOSSES:
        raise ValueError(f"Unknown loss {loss!r}: choose one of {sorted(REGRESSION_LOSSES)}.")
    return loss
