"""Physical validation of structures, with the reason of every rejection recorded."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import ase
import numpy as np
from ase.data import covalent_radii

from foundation_model.utils.class_path import ClassPathSerializable


@dataclass
class Rejection:
    """A structure refused by validation.

    Attributes:
        structure_id: id of the structure (``seed_id`` or trajectory frame).
        stage: pipeline stage that rejected it (``generate``, ``explore``...).
        reason: short code: ``too_close``, ``cell_too_small``, ``not_neutral``,
            ``too_many_atoms``.
        detail: one-line human explanation.
    """

    structure_id: str
    stage: str
    reason: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def perpendicular_widths(atoms: ase.Atoms) -> np.ndarray:
    """Distance between opposite faces of the cell along each axis (Å)."""
    cell = np.asarray(atoms.cell)
    volume = abs(np.linalg.det(cell))
    widths = np.empty(3)
    for i in range(3):
        j, k = (i + 1) % 3, (i + 2) % 3
        widths[i] = volume / np.linalg.norm(np.cross(cell[j], cell[k]))
    return widths


def closest_pair(atoms: ase.Atoms, factor: float) -> tuple[float, int, int] | None:
    """The pair with the smallest ``d / (r_i + r_j)`` below ``factor`` (covalent radii)."""
    from ase.neighborlist import neighbor_list

    if len(atoms) < 2:
        return None
    radii = covalent_radii[atoms.numbers]
    i, j, d = neighbor_list("ijd", atoms, cutoff=float(2 * radii.max() * factor))
    if len(d) == 0:
        return None
    ratio = d / (radii[i] + radii[j])
    k = int(np.argmin(ratio))
    return (float(d[k]), int(i[k]), int(j[k])) if ratio[k] < factor else None


class StructureValidator(ClassPathSerializable):
    """Checks distances, cell size against the calculator cutoff, and charge neutrality.

    Args:
        min_distance_factor: reject when two atoms are closer than this fraction of the
            sum of their covalent radii.
        min_width_factor: periodic cells must be at least ``min_width_factor * cutoff`` wide
            (perpendicular width) so an atom never sees its own image.
        replicate: replicate a too-small cell instead of rejecting it.
        max_atoms: reject structures larger than this (after replication).
        charge_tolerance: largest allowed total of the initial charges (ionic systems).
    """

    def __init__(
        self,
        min_distance_factor: float = 0.5,
        min_width_factor: float = 1.0,
        replicate: bool = True,
        max_atoms: int = 2000,
        charge_tolerance: float = 1e-6,
    ) -> None:
        if not 0 < min_distance_factor < 2:
            raise ValueError("StructureValidator: min_distance_factor must be in (0, 2).")
        if min_width_factor <= 0:
            raise ValueError("StructureValidator: min_width_factor must be > 0.")
        self.min_distance_factor = float(min_distance_factor)
        self.min_width_factor = float(min_width_factor)
        self.replicate = replicate
        self.max_atoms = int(max_atoms)
        self.charge_tolerance = float(charge_tolerance)

    def repeats_needed(self, atoms: ase.Atoms, cutoff: float) -> tuple[int, int, int]:
        """Repetitions along each periodic axis that make the cell wide enough."""
        widths = perpendicular_widths(atoms) if atoms.cell.rank == 3 else np.full(3, np.inf)
        need = self.min_width_factor * cutoff
        return tuple(
            int(np.ceil(need / w)) if periodic and w < need else 1
            for periodic, w in zip(atoms.pbc, widths, strict=True)
        )

    def check(self, atoms: ase.Atoms, cutoff: float) -> tuple[ase.Atoms | None, str, str]:
        """``(structure or None, reason code, detail)``; the structure may be replicated."""
        charges = atoms.get_initial_charges()
        if np.any(charges != 0) and abs(charges.sum()) > self.charge_tolerance:
            return None, "not_neutral", f"total charge {charges.sum():+.3f} e"
        pair = closest_pair(atoms, self.min_distance_factor)
        if pair is not None:
            d, i, j = pair
            sym = atoms.get_chemical_symbols()
            return (
                None,
                "too_close",
                (
                    f"{sym[i]}{i}-{sym[j]}{j} at {d:.2f} Å < {self.min_distance_factor} x covalent "
                    "radii sum"
                ),
            )
        reps = self.repeats_needed(atoms, cutoff)
        if reps != (1, 1, 1):
            if not self.replicate:
                width = perpendicular_widths(atoms)[atoms.pbc].min()
                return (
                    None,
                    "cell_too_small",
                    (f"cell width {width:.2f} Å < {self.min_width_factor} x cutoff {cutoff} Å"),
                )
            info = dict(atoms.info)
            atoms = atoms.repeat(reps)
            atoms.info.update(info, replicated="x".join(map(str, reps)))
        if len(atoms) > self.max_atoms:
            return None, "too_many_atoms", f"{len(atoms)} atoms > max_atoms {self.max_atoms}"
        return atoms, "", ""
