"""Property schema: what a fine-tuning run predicts, how it is computed and weighted.

Each property is chosen in YAML with ``class_path``/``init_args`` and serialises to the
same dict (``to_dict``/``from_dict``), so a checkpoint rebuilds its schema from itself.
Labels are read from ``atoms.info``, ``atoms.arrays`` or attached calculator results under
``key`` (default: the property name).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from foundation_model.utils.class_path import ClassPathSerializable

LossName = Literal["mae", "mse", "huber"]
Reduction = Literal["mean", "sum", "max"]


def regression_loss(pred: Tensor, target: Tensor, loss: LossName, huber_delta: float) -> Tensor:
    """Scalar MAE/MSE/Huber loss over all elements."""
    if loss == "mae":
        return F.l1_loss(pred, target)
    if loss == "mse":
        return F.mse_loss(pred, target)
    if loss == "huber":
        return F.huber_loss(pred, target, delta=huber_delta)
    raise ValueError(f"Unknown loss {loss!r}: choose mae, mse or huber.")


class PropertyConfig(ClassPathSerializable):
    """Base of every property.

    Args:
        name: property name; output key in predictions and calculator results.
        loss: ``mae``, ``mse`` or ``huber``.
        loss_coefficient: weight of this property in the total loss.
        huber_delta: Huber transition point (in the loss's units).
        key: label key in the structures (default: ``name``).
    """

    def __init__(
        self,
        name: str,
        loss: LossName = "mae",
        loss_coefficient: float = 1.0,
        huber_delta: float = 0.01,
        key: str | None = None,
    ) -> None:
        if loss not in ("mae", "mse", "huber"):
            raise ValueError(
                f"Unknown loss {loss!r} for property {name!r}: choose mae, mse or huber."
            )
        self.name = name
        self.loss = loss
        self.loss_coefficient = float(loss_coefficient)
        self.huber_delta = float(huber_delta)
        self.key = key

    @property
    def label_key(self) -> str:
        return self.key or self.name

    def compute_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        return regression_loss(pred, target, self.loss, self.huber_delta)


class EnergyProperty(PropertyConfig):
    """Total energy (eV). The loss compares energies per atom when ``per_atom``.

    Args:
        loss: ``mae``, ``mse`` or ``huber``.
        loss_coefficient: weight in the total loss.
        huber_delta: Huber transition point (eV/atom with ``per_atom``).
        per_atom: compute the loss on energy per atom.
        key: label key (default ``energy``).
    """

    def __init__(
        self,
        loss: LossName = "mae",
        loss_coefficient: float = 1.0,
        huber_delta: float = 0.01,
        per_atom: bool = True,
        key: str | None = None,
    ) -> None:
        super().__init__("energy", loss, loss_coefficient, huber_delta, key)
        self.per_atom = per_atom


class ForcesProperty(PropertyConfig):
    """Atomic forces (eV/Å), ``-dE/dx`` when ``conservative``, else a direct output.

    Args:
        loss: ``mae``, ``mse`` or ``huber``.
        loss_coefficient: weight in the total loss.
        huber_delta: Huber transition point (eV/Å).
        conservative: forces as the negative energy gradient (needed for energy-conserving MD).
        key: label key (default ``forces``).
    """

    def __init__(
        self,
        loss: LossName = "mae",
        loss_coefficient: float = 10.0,
        huber_delta: float = 0.01,
        conservative: bool = True,
        key: str | None = None,
    ) -> None:
        super().__init__("forces", loss, loss_coefficient, huber_delta, key)
        self.conservative = conservative


class StressProperty(PropertyConfig):
    """Stress (eV/Å³, ASE sign), the strain derivative when ``conservative``.

    Labels may be Voigt ``(6,)`` (xx yy zz yz xz xy) or ``(3, 3)``.

    Args:
        loss: ``mae``, ``mse`` or ``huber``.
        loss_coefficient: weight in the total loss.
        huber_delta: Huber transition point (eV/Å³).
        conservative: stress as ``(1/V) dE/dstrain``.
        key: label key (default ``stress``).
    """

    def __init__(
        self,
        loss: LossName = "mae",
        loss_coefficient: float = 10.0,
        huber_delta: float = 0.01,
        conservative: bool = True,
        key: str | None = None,
    ) -> None:
        super().__init__("stress", loss, loss_coefficient, huber_delta, key)
        self.conservative = conservative


class GraphProperty(PropertyConfig):
    """Any per-structure target predicted from the backbone's atom features.

    Regression targets are standardised with train-split mean/std (undone at prediction);
    classification targets are integer labels ``0..num_classes-1`` with a cross-entropy loss.

    Args:
        name: property name (label key unless ``key`` is given).
        reduction: how atom contributions are pooled: ``mean``, ``sum`` or ``max``.
        task_type: ``regression`` or ``classification``.
        num_classes: number of classes (classification only).
        loss: regression loss: ``mae``, ``mse`` or ``huber``.
        loss_coefficient: weight in the total loss.
        huber_delta: Huber transition point (standardised units).
        hidden: width of the property's head.
        key: label key (default ``name``).
    """

    def __init__(
        self,
        name: str,
        reduction: Reduction = "mean",
        task_type: Literal["regression", "classification"] = "regression",
        num_classes: int = 2,
        loss: LossName = "mae",
        loss_coefficient: float = 1.0,
        huber_delta: float = 1.0,
        hidden: int = 64,
        key: str | None = None,
    ) -> None:
        if name in ("energy", "forces", "stress", "free_energy"):
            raise ValueError(f"GraphProperty name {name!r} is reserved; use EnergyProperty etc.")
        if reduction not in ("mean", "sum", "max"):
            raise ValueError(f"Unknown reduction {reduction!r}: choose mean, sum or max.")
        super().__init__(name, loss, loss_coefficient, huber_delta, key)
        self.reduction = reduction
        self.task_type = task_type
        self.num_classes = int(num_classes)
        self.hidden = hidden

    @property
    def out_dim(self) -> int:
        return self.num_classes if self.task_type == "classification" else 1

    def compute_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        if self.task_type == "classification":
            return F.cross_entropy(pred, target.long())
        return regression_loss(pred, target, self.loss, self.huber_delta)


def default_properties() -> list[PropertyConfig]:
    """Energy, conservative forces and stress with the default losses."""
    return [EnergyProperty(), ForcesProperty(), StressProperty()]


def check_properties(props: list[PropertyConfig]) -> None:
    """Reject duplicated names and a schema without any property."""
    names = [p.name for p in props]
    if not names:
        raise ValueError(
            "model.properties is empty: name at least one property (e.g. EnergyProperty)."
        )
    if len(set(names)) != len(names):
        raise ValueError(f"Property names must be unique, got {names}.")


def as_tensor_label(value: Any) -> Tensor:
    return torch.as_tensor(value, dtype=torch.get_default_dtype())
