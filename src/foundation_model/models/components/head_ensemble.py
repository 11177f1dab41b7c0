"""``HeadEnsemble``: ``K`` independently initialised copies of a task head.

Each member trains on its own fixed random subset of the labelled rows (a subsample chosen
by hashing the row's position, so a row stays in or out of a member's subset across
epochs). The spread of the members is the model's per-sample uncertainty; their mean is
the prediction.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from foundation_model.models.task_head.base import TaskHead


def member_keep(index: Tensor, n_members: int, fraction: float, seed: int) -> Tensor:
    """``(K, B)`` bool: which rows each member trains on (deterministic in ``index``)."""
    if n_members < 2 or fraction >= 1.0:
        return torch.ones(n_members, index.shape[0], dtype=torch.bool, device=index.device)
    k = torch.arange(n_members, device=index.device, dtype=torch.int64)[:, None]  # (K, 1)
    h = (index.to(torch.int64)[None, :] + 1) * 0x9E3779B1 + (k + 1) * 0x85EBCA77 + seed
    h = (h ^ (h >> 15)) * 0x2C1B3C6D  # mix, then keep 24 bits
    u = ((h >> 7) & 0xFFFFFF).to(torch.float32) / float(0x1000000)  # (K, B) in [0, 1)
    return u < fraction


class HeadEnsemble(nn.Module):
    """Stack of ``K`` heads of one task.

    Args:
        members: the heads (built by the task spec, each with its own initialisation).
        subsample: fraction of labelled rows each member trains on (1.0 = all rows).
        seed: salt of the row-to-member assignment.
    """

    def __init__(self, members: list[TaskHead], subsample: float = 0.8, seed: int = 0) -> None:
        super().__init__()
        if not members:
            raise ValueError("HeadEnsemble needs at least one member.")
        if not 0.0 < subsample <= 1.0:
            raise ValueError(f"ensemble_subsample must be in (0, 1], got {subsample}.")
        self.members = nn.ModuleList(members)
        self.subsample = subsample
        self.seed = seed

    def __len__(self) -> int:
        return len(self.members)

    def forward(
        self, h_task: Tensor, seq_x: Tensor | None = None, seq_mask: Tensor | None = None
    ) -> Tensor:
        """Member predictions stacked: ``(K, B)``, ``(K, B, C)`` or ``(K, B, L)``."""
        if len(self.members) == 1:  # a view, no copy: the single-head path costs nothing extra
            return self.members[0](h_task, seq_x, seq_mask).unsqueeze(0)
        return torch.stack([m(h_task, seq_x, seq_mask) for m in self.members])

    def member_masks(self, mask: Tensor, index: Tensor) -> list[Tensor]:
        """Each member's label mask: ``mask`` restricted to the rows of its subsample."""
        if len(self.members) == 1 or self.subsample >= 1.0:
            return [mask] * len(self.members)
        keep = member_keep(index, len(self.members), self.subsample, self.seed)  # (K, B)
        return [mask & keep[k].view(-1, *([1] * (mask.dim() - 1))) for k in range(len(keep))]

    def loss(self, stacked: Tensor, target: Tensor, mask: Tensor, index: Tensor) -> Tensor:
        """Mean over members of each member's masked loss on its own rows."""
        masks = self.member_masks(mask, index)
        total = sum(m.loss(stacked[k], target, masks[k]) for k, m in enumerate(self.members))
        return total / len(self.members)

    def aux_loss(
        self, stacked: Tensor, target: Tensor, mask: Tensor, index: Tensor
    ) -> Tensor | None:
        """Mean over members of each member's auxiliary loss on its own rows (``None`` when
        the heads have none)."""
        masks = self.member_masks(mask, index)
        losses = []
        for k, member in enumerate(self.members):
            aux = member.aux_loss(stacked[k], target, masks[k])
            if aux is None:  # all members are alike: none of them has one
                return None
            losses.append(aux)
        return torch.stack(losses).mean()

    def extra_repr(self) -> str:
        return f"members={len(self.members)}, subsample={self.subsample}"
