"""Task contract: a :class:`TaskSpec` says what a task reads and builds its :class:`TaskHead`.

Task specs are chosen in YAML with ``class_path``/``init_args`` and serialise to plain
dicts (``to_dict``/``from_dict``) so that a checkpoint rebuilds its tasks from itself.
"""

from __future__ import annotations

import importlib
import inspect
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal

from torch import Tensor, nn

from foundation_model.models.losses import REGRESSION_LOSSES

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


class TaskSpec(ABC):
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

    # ------------------------------------------------------------------ serialisation
    def init_args(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this spec."""
        params = inspect.signature(type(self).__init__).parameters
        return {p: getattr(self, p) for p in params if p != "self"}

    def to_dict(self) -> dict[str, Any]:
        """``{"class_path", "init_args"}``, the same shape as the YAML config."""
        cls = type(self)
        return {"class_path": f"{cls.__module__}.{cls.__qualname__}", "init_args": self.init_args()}

    @staticmethod
    def from_dict(data: dict[str, Any] | TaskSpec) -> TaskSpec:
        """Rebuild a spec from :meth:`to_dict` output (specs pass through unchanged)."""
        if isinstance(data, TaskSpec):
            return data
        if not isinstance(data, dict) or "class_path" not in data:
            raise ValueError(
                f"A task must be given as {{class_path: ..., init_args: {{...}}}}, got {data!r}."
            )
        module_name, _, cls_name = data["class_path"].rpartition(".")
        try:
            cls = getattr(importlib.import_module(module_name), cls_name)
        except (ImportError, AttributeError) as err:
            raise ValueError(f"Unknown task class {data['class_path']!r}: {err}") from err
        if not (isinstance(cls, type) and issubclass(cls, TaskSpec)):
            raise ValueError(f"{data['class_path']!r} is not a TaskSpec subclass.")
        return cls(**dict(data.get("init_args") or {}))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TaskSpec) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.init_args().items())
        return f"{type(self).__name__}({args})"


def check_regression_loss(loss: str) -> str:
    """Validate a regression loss name."""
    if loss not in REGRESSION_LOSSES:
        raise ValueError(f"Unknown loss {loss!r}: choose one of {sorted(REGRESSION_LOSSES)}.")
    return loss
