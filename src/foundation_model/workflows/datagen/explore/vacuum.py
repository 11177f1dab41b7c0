"""Vacuum detection: a slab (NVT) or a bulk crystal (NPT)?"""

from __future__ import annotations

import ase
import numpy as np


def vacuum_axes(atoms: ase.Atoms, min_gap: float = 4.0) -> list[int]:
    """Cell axes along which the structure has a vacuum layer.

    An axis has vacuum when it is not periodic, or when the largest empty gap between
    atomic planes (projected on the axis's perpendicular direction, periodic wrap included)
    is wider than ``min_gap`` Å.

    Args:
        atoms: the structure.
        min_gap: smallest empty layer counted as vacuum (Å).
    """
    if atoms.cell.rank < 3:
        return [i for i in range(3) if not atoms.pbc[i] or not np.any(atoms.cell[i])]
    cell = np.asarray(atoms.cell)
    recip = np.linalg.inv(cell).T  # rows: reciprocal vectors / 2 pi
    axes = []
    for i in range(3):
        if not atoms.pbc[i]:
            axes.append(i)
            continue
        height = 1.0 / np.linalg.norm(recip[i])  # distance between the two cell faces
        frac = np.sort(np.mod(atoms.get_scaled_positions(wrap=False)[:, i], 1.0))
        gaps = np.diff(np.concatenate([frac, [frac[0] + 1.0]]))
        if gaps.max() * height > min_gap:
            axes.append(i)
    return axes


def has_vacuum(atoms: ase.Atoms, min_gap: float = 4.0) -> bool:
    """True for slabs, wires, clusters and molecules."""
    return bool(vacuum_axes(atoms, min_gap))


def choose_ensemble(atoms: ase.Atoms, min_gap: float = 4.0) -> str:
    """``nvt`` when the structure has vacuum (a cell change would collapse it), else ``npt``."""
    return "nvt" if has_vacuum(atoms, min_gap) else "npt"
