"""Task contract: a :class:`TaskSpec` says what a task reads, how its targets are prepared,
what its head outputs, how it is scored and plotted. Adding a task type = adding one file.

Task specs are chosen in YAML with ``class_path``/``init_args`` and serialise to plain
dicts (``to_dict``/``from_dict``) so that a checkpoint rebuilds its tasks from itself.

Heads may come as an ensemble of ``K`` members; every model-space prediction handed to a
spec is stacked over members: ``(K, B)`` for scalars, ``(K, B, C)`` logits, ``(K, B, L)``
sequences.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from foundation_model.models.losses import REGRESSION_LOSSES
from foundation_model.utils.class_path import ClassPathSerializable

if TYPE_CHECKING:
    from foundation_model.data.batch import Batch
    from foundation_model.data.scalers import StandardScaler

TaskType = Literal["regression", "classification", "sequence"]


#: characters a task name cannot hold: ``.`` splits module names, slashes make folders
UNSAFE_NAME_CHARACTERS = (".", "/", "\\")


def safe_task_name(column: str) -> str:
    """``column`` with the characters a task name cannot hold replaced by ``_``."""
    for c in UNSAFE_NAME_CHARACTERS:
        column = column.replace(c, "_")
    return column


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

    def aux_loss(self, pred: Tensor, target: Tensor, mask: Tensor) -> Tensor | None:
        """A loss added to the total outside the task weighting (e.g. a noise head's
        likelihood, which can be negative); ``None`` when the head has none."""
        return None


@dataclass
class TaskData:
    """A task's prepared targets for every row of a table (numpy, raw units).

    Attributes:
        targets: ``(N,)`` float / int64, or ``(N, L)`` for sequences.
        masks: True where a label exists, same shape as ``targets``.
        seq_x: ``(N, L, 1)`` sequence points (sequence tasks only).
        seq_mask: ``(N, L)`` real (non-padding) points (sequence tasks only).
    """

    targets: np.ndarray
    masks: np.ndarray
    seq_x: np.ndarray | None = None
    seq_mask: np.ndarray | None = None


@dataclass
class TaskScalers:
    """What a spec needs from the model to turn model-space outputs into original units.

    Attributes:
        target: the task's target scaler (None for classification).
        seq_x: the sequence-point scaler (sequence tasks only).
        sigma_scale: recalibration factor of the ensemble spread (fitted on validation rows).
        sigma_floor: spread-independent part of the error, original units (fitted alike):
            ``std = sqrt((sigma_scale * spread)^2 + sigma_floor^2)``.
        distance: the batch's latent distance to the training rows ``(B,)``, or None (used by
            regression tasks only).
        distance_weight: its weight ``w`` (fitted alike; 0 = unused): the spread in the map
            above becomes ``hypot(spread, w * distance)``.
    """

    target: StandardScaler | None = None
    seq_x: StandardScaler | None = None
    sigma_scale: Tensor | float = 1.0
    sigma_floor: Tensor | float = 0.0
    distance: Tensor | None = None
    distance_weight: Tensor | float = 0.0


class TaskSpec(ClassPathSerializable, ABC):
    """Base class of every task definition.

    Args:
        name: task name; prefixes every output key (``<name>_value`` ...).
        loss_weight: fixed weight ``w_t`` of this task in the total loss.
    """

    task_type: ClassVar[TaskType]
    has_target_scaler: ClassVar[bool] = True
    is_sequence: ClassVar[bool] = False

    def __init__(self, name: str, loss_weight: float = 1.0) -> None:
        if not name or not isinstance(name, str):
            raise ValueError(f"Task name must be a non-empty string, got {name!r}.")
        bad = [c for c in UNSAFE_NAME_CHARACTERS if c in name]
        if bad:
            safe = safe_task_name(name)
            raise ValueError(
                f"Task name {name!r} cannot contain {' '.join(repr(c) for c in bad)} (it names "
                f"model parts, output columns and plot files): set init_args.name to e.g. "
                f"{safe!r}; the column keeps its name (init_args.column)."
            )
        self.name = name
        self.loss_weight = float(loss_weight)

    # ---------------------------------------------------------------- model side
    @abstractmethod
    def build_head(self, d_in: int) -> TaskHead:
        """Create this task's head for a deposit width ``d_in``."""

    @abstractmethod
    def target_columns(self) -> list[str]:
        """Columns of the attributes table this task reads."""

    def target_log10(self) -> bool:
        """Whether the target scaler works on ``log10(y)``."""
        return False

    def load_head_statistics(self, members: Any, scaler: StandardScaler) -> None:
        """Put constants that depend on the fitted target scaler into the heads (the
        members of this task's ensemble); nothing by default."""

    def combine(self, stacked: Tensor) -> Tensor:
        """Model-space ensemble prediction from member predictions ``(K, B, ...)``."""
        return stacked.mean(dim=0)

    # ---------------------------------------------------------------- data side
    def adopt_fitted(self, saved: TaskSpec) -> None:
        """Take over what a checkpoint's copy of this task learned from its training rows
        (called when a checkpoint is loaded into a model built from a config; default:
        nothing).

        Args:
            saved: the same task as the checkpoint stored it.
        """

    @abstractmethod
    def prepare(self, attrs: pd.DataFrame | None, n: int, train_rows: np.ndarray) -> TaskData:
        """Targets and masks for all ``n`` rows from the attributes table (None: unlabelled).

        Args:
            attrs: attributes aligned to the rows (index = row ids), or None.
            n: number of rows.
            train_rows: positions of the training rows (vocabularies come from them).
        """

    def target_statistics(self, data: TaskData, train_rows: np.ndarray) -> tuple[float, float]:
        """``(mean, std)`` of the (log-)target over labelled training rows."""
        from foundation_model.data.scalers import masked_mean_std

        y = data.targets[train_rows].astype(np.float64)
        m = data.masks[train_rows]
        if self.target_log10():
            y = np.log10(np.where(m, y, 1.0))
        mean, std = masked_mean_std(y.ravel(), m.ravel())
        return float(mean), float(std)

    # ---------------------------------------------------------------- outputs
    @abstractmethod
    def outputs(self, stacked: Tensor, batch: Batch, scalers: TaskScalers) -> dict[str, Tensor]:
        """Predictions in original units, keyed ``<name>_<output>``, from ``(K, B, ...)``."""

    @abstractmethod
    def eval_items(self, outputs: dict[str, Tensor], batch: Batch) -> dict[str, Tensor]:
        """Per-row arrays kept for whole-split metrics/plots: at least pred, target, mask."""

    @abstractmethod
    def metrics(self, arrays: dict[str, np.ndarray]) -> dict[str, float]:
        """Whole-split metrics from :meth:`eval_items` arrays (concatenated)."""

    @abstractmethod
    def task_error(self, arrays: dict[str, np.ndarray], scale: float) -> float:
        """A unitless error for model selection (``scale``: the target's train std)."""

    @abstractmethod
    def plot(self, arrays: dict[str, np.ndarray], title: str, out_dir: Path) -> list[Path]:
        """Write this task's evaluation plots; returns the files."""

    def frame_columns(self, outputs: dict[str, np.ndarray]) -> dict[str, Any]:
        """Columns of a prediction table from this task's (concatenated) outputs."""
        return {k: v for k, v in outputs.items() if k.startswith(self.name + "_")}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TaskSpec) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.name)


def check_regression_loss(loss: str) -> str:
    """Validate a regression loss name."""
    if loss not in REGRESSION_LOSSES:
        raise ValueError(f"Unknown loss {loss!r}: choose one of {sorted(REGRESSION_LOSSES)}.")
    return loss


def scaled_mae(pred: np.ndarray, target: np.ndarray, mask: np.ndarray, scale: float) -> float:
    """MAE over labelled, finite predictions divided by ``scale`` (NaN with none)."""
    m = mask & np.isfinite(pred)
    if not m.any():
        return float("nan")
    return float(np.abs(pred[m] - target[m]).mean() / max(scale, 1e-12))


def member_std(stacked: Tensor) -> Tensor:
    """Spread of ensemble members ``(K, B, ...) -> (B, ...)``; NaN for a single member."""
    if stacked.shape[0] < 2:
        return torch.full_like(stacked[0], float("nan"))
    return stacked.std(dim=0)


def to_original_std(
    std_model: Tensor,
    value: Tensor,
    scalers: TaskScalers,
    log10: bool,
    distance: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Member spread in model space -> ``(calibrated std, raw spread)`` in original units
    (delta method through ``10**x`` for log targets). With ``distance`` and a positive
    ``scalers.distance_weight``, the spread entering the σ map is
    ``hypot(spread, w * distance)`` (a NaN spread, from a single member, counts as 0)."""
    assert scalers.target is not None
    spread = std_model * scalers.target.std
    if log10:
        spread = spread * float(np.log(10.0)) * value.abs()
    scale = torch.as_tensor(scalers.sigma_scale, device=spread.device)
    floor = torch.as_tensor(scalers.sigma_floor, device=spread.device)
    first = spread
    if distance is not None:
        w = torch.as_tensor(scalers.distance_weight, device=spread.device)
        with_distance = torch.hypot(torch.nan_to_num(spread, nan=0.0), w * distance)
        first = torch.where(w > 0, with_distance, spread)
    return torch.sqrt((scale * first) ** 2 + floor**2), spread
