"""Radius graphs over periodic cells and the autograd of energy for forces and stress.

Used by pure-torch backbones (:class:`~foundation_model.backbones.schnet.SchNetBackbone`);
adapters of external packages use their package's own graph code.
"""

from __future__ import annotations

from dataclasses import dataclass

import ase
import numpy as np
import torch
from ase.neighborlist import neighbor_list
from torch import Tensor


@dataclass
class RadiusGraph:
    """One structure, or a batch of them, as a radius graph.

    Attributes:
        positions: ``(N, 3)`` Cartesian positions in Å.
        numbers: ``(N,)`` atomic numbers.
        cell: ``(B, 3, 3)`` lattice vectors as rows (zeros for molecules).
        edge_index: ``(2, E)`` source and destination atom of every directed edge.
        shifts: ``(E, 3)`` integer cell offsets of the destination image.
        batch_index: ``(N,)`` structure index of every atom.
        volume: ``(B,)`` cell volume in Å³ (1 for non-periodic structures).
    """

    positions: Tensor
    numbers: Tensor
    cell: Tensor
    edge_index: Tensor
    shifts: Tensor
    batch_index: Tensor
    volume: Tensor

    @property
    def num_graphs(self) -> int:
        return int(self.cell.shape[0])

    def to(self, device: torch.device | str) -> RadiusGraph:
        return RadiusGraph(**{k: v.to(device) for k, v in self.__dict__.items()})

    def cast(self, dtype: torch.dtype) -> RadiusGraph:
        """Floating-point fields in ``dtype`` (graphs are built in float64)."""
        return RadiusGraph(
            **{k: v.to(dtype) if v.is_floating_point() else v for k, v in self.__dict__.items()}
        )

    @classmethod
    def from_atoms(cls, atoms: ase.Atoms, cutoff: float) -> RadiusGraph:
        """Build the graph of one structure with ASE's neighbour list."""
        src, dst, shifts = neighbor_list("ijS", atoms, cutoff)
        volume = atoms.cell.volume if atoms.pbc.any() and atoms.cell.rank == 3 else 1.0
        return cls(
            positions=torch.tensor(atoms.positions, dtype=torch.float64),
            numbers=torch.tensor(atoms.numbers, dtype=torch.long),
            cell=torch.tensor(np.asarray(atoms.cell), dtype=torch.float64)[None],
            edge_index=torch.tensor(np.stack([src, dst]), dtype=torch.long),
            shifts=torch.tensor(shifts, dtype=torch.float64),
            batch_index=torch.zeros(len(atoms), dtype=torch.long),
            volume=torch.tensor([volume], dtype=torch.float64),
        )

    @classmethod
    def collate(cls, graphs: list[RadiusGraph]) -> RadiusGraph:
        """Concatenate graphs, offsetting atom and structure indices."""
        offsets = np.cumsum([0] + [g.positions.shape[0] for g in graphs[:-1]])
        return cls(
            positions=torch.cat([g.positions for g in graphs]),
            numbers=torch.cat([g.numbers for g in graphs]),
            cell=torch.cat([g.cell for g in graphs]),
            edge_index=torch.cat(
                [g.edge_index + int(o) for g, o in zip(graphs, offsets, strict=True)], 1
            ),
            shifts=torch.cat([g.shifts for g in graphs]),
            batch_index=torch.cat(
                [torch.full_like(g.batch_index, i) for i, g in enumerate(graphs)]
            ),
            volume=torch.cat([g.volume for g in graphs]),
        )


def strained_geometry(
    graph: RadiusGraph, track_positions: bool, track_strain: bool
) -> tuple[Tensor, Tensor, Tensor]:
    """Positions, strain and edge vectors with autograd hooks for forces and stress.

    A symmetric strain ``eps (B, 3, 3)`` (zero-valued) deforms positions and cell, so
    ``dE/deps`` is the virial and ``(1/V) dE/deps`` the ASE stress.

    Returns:
        ``positions (N, 3)``, ``strain (B, 3, 3)`` and ``edge_vectors (E, 3)``.
    """
    pos = graph.positions.detach().requires_grad_(track_positions)
    strain = torch.zeros_like(graph.cell).requires_grad_(track_strain)  # (B, 3, 3)
    sym = 0.5 * (strain + strain.transpose(1, 2))
    deformed = pos + torch.einsum("ni,nij->nj", pos, sym[graph.batch_index])  # (N, 3)
    cell = graph.cell + torch.bmm(graph.cell, sym)  # (B, 3, 3)
    src, dst = graph.edge_index
    edge_graph = graph.batch_index[src]
    offsets = torch.einsum("ei,eij->ej", graph.shifts, cell[edge_graph])  # (E, 3)
    vectors = deformed[dst] - deformed[src] + offsets  # (E, 3)
    return pos, strain, vectors


def energy_gradients(
    energy: Tensor,
    positions: Tensor | None,
    strain: Tensor | None,
    volume: Tensor,
    create_graph: bool,
) -> tuple[Tensor | None, Tensor | None]:
    """Conservative ``forces = -dE/dx (N, 3)`` and ``stress = (1/V) dE/deps (B, 3, 3)``."""
    inputs = [t for t in (positions, strain) if t is not None]
    if not inputs:
        return None, None
    grads = torch.autograd.grad(
        energy.sum(),
        inputs,
        create_graph=create_graph,
        retain_graph=create_graph,
        allow_unused=True,
    )
    grads = [
        g if g is not None else torch.zeros_like(t) for g, t in zip(grads, inputs, strict=True)
    ]
    forces = -grads[0] if positions is not None else None
    stress = grads[-1] / volume.view(-1, 1, 1) if strain is not None else None
    return forces, stress
