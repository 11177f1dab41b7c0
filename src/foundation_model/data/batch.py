"""The one batch contract shared by the dataset, the model and the losses."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class Batch:
    """A stacked batch of ``B`` rows.

    Attributes:
        x_formula: ``(B, F)`` formula descriptors (raw units; the model standardises).
        x_structure: ``(B, S)`` structure descriptors or None.
        has_structure: ``(B,)`` bool, rows that have a structure descriptor.
        targets: per task: regression ``(B,)`` float, classification ``(B,)`` long,
            sequence ``(B, L)`` float; raw units, arbitrary values where unlabelled.
        masks: per task, True where a label exists: ``(B,)`` or ``(B, L)``.
        seq_x: per sequence task, the points ``(B, L, 1)`` (raw units).
        seq_mask: per sequence task, ``(B, L)`` True for real (non-padding) points.
        index: ``(B,)`` positions of the rows in the data module's table.
    """

    x_formula: Tensor
    x_structure: Tensor | None
    has_structure: Tensor
    index: Tensor
    targets: dict[str, Tensor] = field(default_factory=dict)
    masks: dict[str, Tensor] = field(default_factory=dict)
    seq_x: dict[str, Tensor] = field(default_factory=dict)
    seq_mask: dict[str, Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.x_formula.shape[0])

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """This batch on ``device`` (itself when already there; no generic tree walk)."""
        device = torch.device(device)
        if self.x_formula.device == device:
            return self

        def move(t: Tensor) -> Tensor:
            return t.to(device, non_blocking=non_blocking)

        return Batch(
            x_formula=move(self.x_formula),
            x_structure=None if self.x_structure is None else move(self.x_structure),
            has_structure=move(self.has_structure),
            index=move(self.index),
            targets={k: move(v) for k, v in self.targets.items()},
            masks={k: move(v) for k, v in self.masks.items()},
            seq_x={k: move(v) for k, v in self.seq_x.items()},
            seq_mask={k: move(v) for k, v in self.seq_mask.items()},
        )
