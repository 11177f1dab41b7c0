"""Slabs and wires as fully periodic cells, the only mixed case ``pyace`` cannot read.

``pyace`` builds neighbour lists for fully periodic or fully non-periodic structures only
("Only fully periodic or non-periodic cell are supported"). A structure periodic in some
directions but not others (a slab from ``ase.build.fcc111(..., vacuum=...)`` or the datagen
``SurfaceGenerator``, a wire) has the same ACE energy, forces and descriptors as the fully
periodic structure whose periodic images along the open directions lie beyond the cutoff:
no atom then sees an image across the vacuum. :func:`ace_structure` returns that periodic
equivalent:

* the cell is kept when every open direction already has a cell vector and the vacuum
  (the spacing of the lattice planes minus the thickness of the atoms, measured along the
  plane normal) is wider than the cutoff;
* otherwise (a missing, coplanar or too short open cell vector) every open cell vector is
  replaced by one perpendicular to the periodic vectors (and to each other), as long as
  the atoms' thickness along it plus the cutoff plus :data:`PADDING`. The Cartesian
  positions never change.
"""

from __future__ import annotations

import ase
import numpy as np

#: extra vacuum (Å) beyond the cutoff when an open cell vector has to be replaced
PADDING = 1.0
_EPS = 1e-9


def vacuum_gap(cell: np.ndarray, positions: np.ndarray, direction: int) -> float:
    """Shortest distance (Å) between the atoms and their images along cell vector
    ``direction``, measured along the normal of the plane of the other two vectors.

    Args:
        cell: ``(3, 3)`` cell vectors (rows).
        positions: ``(N, 3)`` Cartesian positions.
        direction: the open direction (0, 1 or 2).

    Returns:
        The lattice plane spacing minus the thickness of the atoms; ``-inf`` when the
        vector is missing or lies in the plane of the other two (no spacing at all).
    """
    others = [cell[k] for k in range(3) if k != direction]
    normal = np.cross(others[0], others[1])
    if np.linalg.norm(normal) < _EPS:
        return float("-inf")
    normal /= np.linalg.norm(normal)
    spacing = abs(float(cell[direction] @ normal))
    if spacing < _EPS:
        return float("-inf")
    return spacing - float(np.ptp(positions @ normal))


def _padded_cell(atoms: ase.Atoms, cutoff: float) -> np.ndarray:
    """The cell with every open vector replaced by a perpendicular, long enough one."""
    pbc = np.asarray(atoms.pbc, dtype=bool)
    cell = atoms.cell.array.copy()
    periodic = cell[pbc]  # (k, 3)
    if np.linalg.matrix_rank(periodic, tol=1e-6) < len(periodic):
        raise ValueError(
            f"{atoms.get_chemical_formula()} has pbc={pbc.tolist()} but its periodic cell "
            "vectors are missing or parallel: give every periodic direction its own cell vector."
        )
    _, _, vt = np.linalg.svd(periodic)
    complement = vt[len(periodic) :]  # (3 - k, 3) orthonormal, perpendicular to `periodic`
    for normal, direction in zip(complement, np.flatnonzero(~pbc), strict=True):
        cell[direction] = normal * (np.ptp(atoms.positions @ normal) + cutoff + PADDING)
    if np.linalg.det(cell) < 0:  # keep the cell right-handed
        cell[np.flatnonzero(~pbc)[-1]] *= -1.0
    return cell


def ace_structure(atoms: ase.Atoms, cutoff: float) -> ase.Atoms:
    """A bare copy of ``atoms`` that ``pyace`` accepts, with identical ACE results.

    Fully periodic and fully non-periodic structures are copied as they are; a structure
    with mixed ``pbc`` becomes fully periodic (see the module docstring).

    Args:
        atoms: the structure (labels and calculator are not copied).
        cutoff: the ACE cutoff (Å).
    """
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if pbc.all() or not pbc.any():
        return ase.Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    cell = atoms.cell.array
    gaps = [vacuum_gap(cell, atoms.positions, int(d)) for d in np.flatnonzero(~pbc)]
    if min(gaps) <= cutoff:
        cell = _padded_cell(atoms, cutoff)
    return ase.Atoms(atoms.numbers, atoms.positions, cell=cell, pbc=True)
