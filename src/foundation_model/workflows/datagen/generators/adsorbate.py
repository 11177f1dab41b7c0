"""Adsorbates (atoms or small molecules) placed on random sites of a slab."""

from __future__ import annotations

from collections.abc import Sequence

import ase
import numpy as np
from ase.build import molecule
from ase.data import atomic_numbers, covalent_radii

from foundation_model.workflows.datagen.generators.base import StructureGenerator
from foundation_model.workflows.datagen.generators.surface import SurfaceGenerator


def adsorbate_atoms(name: str) -> ase.Atoms:
    """An adsorbate by name: an element symbol or a molecule of ``ase.build.molecule``."""
    if name in atomic_numbers:
        return ase.Atoms(name)
    try:
        return molecule(name)
    except KeyError as err:
        raise ValueError(f"AdsorbateGenerator: unknown adsorbate {name!r}.") from err


def oriented(ads: ase.Atoms, name: str) -> ase.Atoms:
    """The adsorbate with its binding atom at the origin and the rest pointing up (+z).

    The binding atom is the first non-hydrogen element of ``name`` (C of CO, O of OH/H2O).
    """
    import re

    symbols = [s for s in re.findall(r"[A-Z][a-z]?", name) if s != "H"] or ["H"]
    k = ads.get_chemical_symbols().index(symbols[0])
    ads.positions -= ads.positions[k]
    if len(ads) > 1:
        rest = np.delete(ads.positions, k, axis=0).mean(axis=0)
        if np.linalg.norm(rest) > 1e-8:
            ads.rotate(rest, "z")
    return ads


class AdsorbateGenerator(StructureGenerator):
    """A slab from a :class:`SurfaceGenerator` with adsorbates on random surface positions.

    Each adsorbate is placed above a random point of the top layer (its lowest atom at
    ``height`` plus the covalent radii sum above the nearest surface atom), keeping at least
    ``min_separation`` Å from adsorbates already placed. Molecules keep their gas-phase
    geometry, the first atom (e.g. C of CO) pointing to the surface.

    Args:
        surface: the slab generator.
        adsorbates: names (``H``, ``O``, ``CO``, ``OH``, ``H2O``, ...), one placed per name.
        height: extra height above contact distance (Å).
        min_separation: minimum distance between adsorbate atoms of different adsorbates (Å).
        n_structures: number of structures.
        max_attempts: random placements tried per adsorbate.
    """

    kind = "slab"

    def __init__(
        self,
        surface: SurfaceGenerator,
        adsorbates: Sequence[str] = ("CO",),
        height: float = 0.2,
        min_separation: float = 2.5,
        n_structures: int = 2,
        max_attempts: int = 200,
    ) -> None:
        super().__init__(n_structures)
        self.surface = surface
        self.adsorbates = list(adsorbates)
        for name in self.adsorbates:
            adsorbate_atoms(name)
        self.height = float(height)
        self.min_separation = float(min_separation)
        self.max_attempts = int(max_attempts)

    @property
    def elements(self) -> list[str]:
        symbols = set(self.surface.elements)
        for name in self.adsorbates:
            symbols.update(adsorbate_atoms(name).get_chemical_symbols())
        return sorted(symbols)

    def _place(self, slab: ase.Atoms, name: str, rng: np.random.Generator, placed: list) -> None:
        ads = oriented(adsorbate_atoms(name), name)
        top = slab.positions[:, 2].max()
        surface_atoms = slab[slab.positions[:, 2] > top - 0.5]
        r_ads = covalent_radii[ads.numbers[int(np.argmin(ads.positions[:, 2]))]]
        for _ in range(self.max_attempts):
            xy = rng.random(2) @ slab.cell[:2, :2]
            probe = ase.Atoms("X", positions=[[*xy, top]], cell=slab.cell, pbc=slab.pbc)
            both = surface_atoms + probe
            d = both.get_distances(len(both) - 1, range(len(surface_atoms)), mic=True)
            k = int(np.argmin(d))
            contact = covalent_radii[surface_atoms.numbers[k]] + r_ads + self.height
            z = top + np.sqrt(max(contact**2 - min(d[k], contact) ** 2, 0.0))
            candidate = ads.copy()
            candidate.positions += [*xy, z]
            if all(self._far(candidate, other, slab) for other in placed):
                placed.append(candidate)
                return
        raise ValueError(
            f"AdsorbateGenerator: no room for {name} after {self.max_attempts} tries; "
            "use a larger surface size or fewer adsorbates."
        )

    def _far(self, a: ase.Atoms, b: ase.Atoms, slab: ase.Atoms) -> bool:
        both = a + b
        both.cell, both.pbc = slab.cell, slab.pbc
        d = both.get_all_distances(mic=True)[: len(a), len(a) :]
        return bool(d.min() >= self.min_separation)

    def _build(self, rng: np.random.Generator) -> list[ase.Atoms]:
        slabs = self.surface.generate(int(rng.integers(2**31)))
        out = []
        for i in range(self.n_structures):
            slab = slabs[i % len(slabs)].copy()
            placed: list[ase.Atoms] = []
            for name in self.adsorbates:
                self._place(slab, name, rng, placed)
            for ads in placed:
                slab += ads
            slab.info["adsorbates"] = ",".join(self.adsorbates)
            out.append(slab)
        return out
