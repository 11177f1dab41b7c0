"""One batch contract for fine-tuning: the backbone's native batch plus labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor


@dataclass
class MLIPSample:
    """One structure: the backbone's sample, its atomic numbers and its labels.

    ``labels`` holds only the labels the structure has; a property it lacks is masked.
    ``index`` is the structure's position in its source file (-1 when unknown).
    ``periodic`` says whether the structure is 3D-periodic (pbc in all three directions and
    a cell of rank 3): only those have a stress.
    """

    data: Any
    numbers: np.ndarray
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    index: int = -1
    periodic: bool = True


@dataclass
class MLIPBatch:
    """A batch of structures.

    Attributes:
        graph: the backbone's collated batch.
        numbers: ``(N,)`` atomic numbers of all atoms.
        batch_index: ``(N,)`` structure index of every atom.
        num_atoms: ``(B,)`` atoms per structure.
        labels: ``energy (B,)``, ``forces (N, 3)``, ``stress (B, 3, 3)``, graph properties ``(B,)``;
            zeros where a structure has no label (see ``label_mask``).
        index: ``(B,)`` position of every structure in its source file (-1 when unknown).
        label_mask: ``(B,)`` bool per label name: which structures have that label.
        periodic: ``(B,)`` bool: which structures are 3D-periodic (``None``: all are).
    """

    graph: Any
    numbers: Tensor
    batch_index: Tensor
    num_atoms: Tensor
    labels: dict[str, Tensor]
    index: Tensor | None = None
    label_mask: dict[str, Tensor] = field(default_factory=dict)
    periodic: Tensor | None = None

    def __len__(self) -> int:
        return int(self.num_atoms.shape[0])

    def has_label(self, name: str) -> Tensor:
        """``(B,)`` bool: structures labelled for ``name`` (all False when none is)."""
        if name not in self.labels:
            return torch.zeros(len(self), dtype=torch.bool, device=self.num_atoms.device)
        mask = self.label_mask.get(name)
        return mask if mask is not None else torch.ones_like(self.num_atoms, dtype=torch.bool)

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
            label_mask={k: v.to(device) for k, v in self.label_mask.items()},
            periodic=None if self.periodic is None else self.periodic.to(device),
        )

    def periodic_mask(self) -> Tensor:
        """``(B,)`` bool: the 3D-periodic structures (all when unknown)."""
        if self.periodic is None:
            return torch.ones_like(self.num_atoms, dtype=torch.bool)
        return self.periodic


def _label_names(samples: list[MLIPSample]) -> list[str]:
    """Every label name present in at least one sample, in first-seen order."""
    return list(dict.fromkeys(name for s in samples for name in s.labels))


def _filled(sample: MLIPSample, name: str, like: np.ndarray) -> np.ndarray:
    """The sample's label, or zeros of the right shape when it has none."""
    if name in sample.labels:
        return np.asarray(sample.labels[name])
    shape = (len(sample.numbers), 3) if name == "forces" else like.shape
    return np.zeros(shape)


def collate_samples(samples: list[MLIPSample], collate_graph: Any) -> MLIPBatch:
    """Batch samples with the backbone's ``collate`` for the native part.

    A label that some samples lack is zero-filled for them and masked in ``label_mask``.
    """
    dtype = torch.get_default_dtype()
    num_atoms = torch.tensor([len(s.numbers) for s in samples], dtype=torch.long)
    labels: dict[str, Tensor] = {}
    masks: dict[str, Tensor] = {}
    for name in _label_names(samples):
        like = np.asarray(next(s.labels[name] for s in samples if name in s.labels))
        values = [_filled(s, name, like) for s in samples]
        if name == "forces":
            labels[name] = torch.tensor(np.concatenate(values), dtype=dtype)  # (N, 3)
        else:
            labels[name] = torch.tensor(np.stack(values), dtype=dtype)  # (B,) or (B, 3, 3)
        masks[name] = torch.tensor([name in s.labels for s in samples], dtype=torch.bool)
    return MLIPBatch(
        graph=collate_graph([s.data for s in samples]),
        numbers=torch.tensor(np.concatenate([s.numbers for s in samples]), dtype=torch.long),
        batch_index=torch.repeat_interleave(torch.arange(len(samples)), num_atoms),
        num_atoms=num_atoms,
        labels=labels,
        index=torch.tensor([s.index for s in samples], dtype=torch.long),
        label_mask=masks,
        periodic=torch.tensor([s.periodic for s in samples], dtype=torch.bool),
    )
