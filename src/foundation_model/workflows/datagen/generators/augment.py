"""Strain and rattle augmentation of seed structures."""

from __future__ import annotations

import ase
import numpy as np

from foundation_model.utils.class_path import ClassPathSerializable


class Augmentation(ClassPathSerializable):
    """Adds strained and rattled copies of each seed (the seed itself is kept; a molecule
    without periodic directions gets rattled copies only).

    Strain is a random symmetric matrix with entries in ``[-max_strain, max_strain]``,
    applied to periodic directions only (a slab keeps its vacuum). Rattle adds Gaussian
    displacements of standard deviation ``rattle_std`` Å.

    Args:
        n_strained: strained copies per seed.
        max_strain: largest strain component (e.g. 0.03 = 3 %).
        n_rattled: rattled copies per seed.
        rattle_std: displacement standard deviation (Å).
    """

    def __init__(
        self,
        n_strained: int = 1,
        max_strain: float = 0.03,
        n_rattled: int = 1,
        rattle_std: float = 0.05,
    ) -> None:
        if min(n_strained, n_rattled) < 0 or max_strain < 0 or rattle_std < 0:
            raise ValueError("Augmentation: counts, max_strain and rattle_std must be >= 0.")
        if max_strain >= 0.5:
            raise ValueError(f"Augmentation: max_strain {max_strain} is unphysical (< 0.5).")
        self.n_strained = int(n_strained)
        self.max_strain = float(max_strain)
        self.n_rattled = int(n_rattled)
        self.rattle_std = float(rattle_std)

    def strain(self, atoms: ase.Atoms, rng: np.random.Generator) -> ase.Atoms:
        """A randomly strained copy (positions follow the cell)."""
        eps = rng.uniform(-self.max_strain, self.max_strain, (3, 3))
        eps = 0.5 * (eps + eps.T)
        periodic = np.asarray(atoms.pbc, dtype=bool)
        eps[~periodic, :] = 0.0
        eps[:, ~periodic] = 0.0
        out = atoms.copy()
        out.set_cell(atoms.cell @ (np.eye(3) + eps), scale_atoms=True)
        out.info["augmentation"] = f"strain{np.abs(eps).max():.3f}"
        return out

    def rattle(self, atoms: ase.Atoms, rng: np.random.Generator) -> ase.Atoms:
        """A copy with Gaussian displacements."""
        out = atoms.copy()
        out.positions += rng.normal(0.0, self.rattle_std, out.positions.shape)
        out.info["augmentation"] = f"rattle{self.rattle_std:.3f}"
        return out

    def apply(self, structures: list[ase.Atoms], seed: int) -> list[ase.Atoms]:
        """Seeds followed by their augmented copies (``info["parent_id"]`` names the seed)."""
        rng = np.random.default_rng(seed)
        out = []
        for atoms in structures:
            atoms.info.setdefault("augmentation", "none")
            out.append(atoms)
            # a molecule (no periodic direction) has no cell to strain: a copy would repeat it
            n_strained = self.n_strained if np.asarray(atoms.pbc).any() else 0
            copies = [self.strain(atoms, rng) for _ in range(n_strained)]
            copies += [self.rattle(atoms, rng) for _ in range(self.n_rattled)]
            for c in copies:
                c.info["parent_id"] = atoms.info.get("seed_id", "")
            out.extend(copies)
        return out
