"""Dataset over pre-stacked tensors: a whole batch is sliced at once (no per-row dicts)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from foundation_model.data.batch import Batch


@dataclass
class CompoundTensors:
    """Every row of a data module as tensors (see :class:`Batch` for shapes)."""

    x_formula: Tensor  # (N, F)
    x_structure: Tensor | None  # (N, S)
    has_structure: Tensor  # (N,)
    targets: dict[str, Tensor] = field(default_factory=dict)  # (N,) or (N, L)
    masks: dict[str, Tensor] = field(default_factory=dict)  # (N,) or (N, L)
    seq_x: dict[str, Tensor] = field(default_factory=dict)  # (N, L, 1)
    seq_mask: dict[str, Tensor] = field(default_factory=dict)  # (N, L)

    def __len__(self) -> int:
        return int(self.x_formula.shape[0])


class CompoundDataset(Dataset[Batch]):
    """A view of :class:`CompoundTensors` restricted to ``rows``.

    ``DataLoader`` calls :meth:`__getitems__` with all indices of a batch, which slices
    each tensor once; pass :func:`identity_collate` as ``collate_fn``.

    Args:
        tensors: the full table as tensors.
        rows: positions (into ``tensors``) that belong to this dataset.
    """

    def __init__(self, tensors: CompoundTensors, rows: Sequence[int] | np.ndarray) -> None:
        self.tensors = tensors
        self.rows = torch.as_tensor(np.asarray(rows, dtype=np.int64))

    def __len__(self) -> int:
        return int(self.rows.numel())

    def __getitem__(self, i: int) -> Batch:
        return self.__getitems__([i])

    def __getitems__(self, positions: Sequence[int]) -> Batch:
        idx = self.rows[torch.as_tensor(positions, dtype=torch.long)]  # (B,)
        t = self.tensors
        batch = Batch(
            x_formula=t.x_formula[idx],
            x_structure=None if t.x_structure is None else t.x_structure[idx],
            has_structure=t.has_structure[idx],
            index=idx,
        )
        for name, target in t.targets.items():
            if name in t.seq_mask:
                seq_mask = t.seq_mask[name][idx]  # (B, Lmax)
                length = max(int(seq_mask.sum(dim=1).max()), 1)  # trim padding to the batch
                batch.seq_mask[name] = seq_mask[:, :length]
                batch.seq_x[name] = t.seq_x[name][idx, :length]
                batch.targets[name] = target[idx, :length]
                batch.masks[name] = t.masks[name][idx, :length]
            else:
                batch.targets[name] = target[idx]
                batch.masks[name] = t.masks[name][idx]
        return batch


def identity_collate(batch: Batch) -> Batch:
    """Collate for :class:`CompoundDataset`: the dataset already returns a stacked batch."""
    return batch
