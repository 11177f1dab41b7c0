"""One batch contract for fine-tuning: the backbone's native batch plus labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor


@dataclass
class MLIPSample:
    """One structure: the backbone's sample, its atomic numbers and its labels."""

    data: Any
    numbers: np.ndarray
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    index: int = -1


@dataclass
class MLIPBatch:
    """A batch of structures.

    Attributes:
        graph: the backbone's collated batch.
        numbers: ``(N,)`` atomic numbers of all atoms.
        batch_index: ``(N,)`` structure index of every atom.
        num_atoms: ``(B,)`` atoms per structure.
        labels: ``energy (B,)``, ``forces (N, 3)``, ``stress (B, 3, 3)``, graph properties ``(B,)``.
        index: ``(B,)`` position of every structure in its split (-1 when unknown).
    """

    graph: Any
    numbers: Tensor
    batch_index: Tensor
    num_atoms: Tensor
    labels: dict[str, Tensor]
    index: Tensor | None = None

    def __len__(self) -> int:
        return int(self.num_atoms.shape[0])

    def to(self, device: torch.device | str, backbone: Any = None) -> MLIPBatch:
        graph = (
            backbone.batch_to_device(self.graph, device)
            if backbone is not None
            else self.graph.to(device)
        )
        return MLIPBatch(
            graph=graph,
            numbers=self.numbers.to(device),
            batch_index=self.batch_index.to(device),
            num_atoms=self.num_atoms.to(device),
            labels={k: v.to(device) for k, v in self.labels.items()},
            index=None if self.index is None else self.index.to(device),
        )


def collate_samples(samples: list[MLIPSample], collate_graph: Any) -> MLIPBatch:
    """Batch samples with the backbone's ``collate`` for the native part."""
    dtype = torch.get_default_dtype()
    num_atoms = torch.tensor([len(s.numbers) for s in samples], dtype=torch.long)
    labels: dict[str, Tensor] = {}
    for name in samples[0].labels:
        values = [np.asarray(s.labels[name]) for s in samples]
        if name == "forces":
            labels[name] = torch.tensor(np.concatenate(values), dtype=dtype)  # (N, 3)
        else:
            labels[name] = torch.tensor(np.stack(values), dtype=dtype)  # (B,) or (B, 3, 3)
    return MLIPBatch(
        graph=collate_graph([s.data for s in samples]),
        numbers=torch.tensor(np.concatenate([s.numbers for s in samples]), dtype=torch.long),
        batch_index=torch.repeat_interleave(torch.arange(len(samples)), num_atoms),
        num_atoms=num_atoms,
        labels=labels,
        index=torch.tensor([s.index for s in samples], dtype=torch.long),
    )
