"""Surface slabs with vacuum (pure or random-alloy), any Miller index."""

from __future__ import annotations

from collections.abc import Sequence

import ase
import numpy as np
from ase.build import bulk, surface

from foundation_model.workflows.datagen.generators.base import (
    StructureGenerator,
    check_elements,
    check_fractions,
    exact_counts,
    vegard_lattice,
)


def make_slab(
    symbol: str,
    lattice: str,
    a: float,
    miller: Sequence[int],
    layers: int,
    size: Sequence[int],
    vacuum: float,
) -> ase.Atoms:
    """A slab of ``layers`` layers, ``size`` in-plane repetitions, vacuum on both sides.

    The surface normal is along z; the cell is periodic in x, y only.
    """
    if lattice == "hcp":
        crystal = bulk(symbol, "hcp", a=a, c=1.633 * a)
    else:
        crystal = bulk(symbol, lattice, a=a)
    slab = surface(crystal, tuple(miller), layers, vacuum=vacuum, periodic=False)
    slab = slab.repeat((int(size[0]), int(size[1]), 1))
    slab.pbc = (True, True, False)
    slab.center(vacuum=vacuum, axis=2)
    return slab


class SurfaceGenerator(StructureGenerator):
    """Slabs cut from an fcc/bcc/hcp crystal, with random site occupation for alloys.

    Args:
        elements: one or more chemical symbols.
        fractions: site fractions of ``elements`` (default equimolar).
        lattice: ``fcc``, ``bcc`` or ``hcp``.
        lattice_constant: ``a`` in Å (default: Vegard's law).
        miller: Miller indices of the surface.
        layers: atomic layers.
        size: in-plane repetitions.
        vacuum: vacuum on each side (Å).
        n_structures: number of slabs (random occupations).
    """

    kind = "slab"

    def __init__(
        self,
        elements: Sequence[str] = ("Cu",),
        fractions: Sequence[float] | None = None,
        lattice: str = "fcc",
        lattice_constant: float | None = None,
        miller: Sequence[int] = (1, 1, 1),
        layers: int = 4,
        size: Sequence[int] = (3, 3),
        vacuum: float = 7.5,
        n_structures: int = 1,
    ) -> None:
        super().__init__(n_structures)
        self._elements = check_elements(list(elements), "SurfaceGenerator")
        n = len(self._elements)
        self.fractions = list(fractions) if fractions is not None else [1.0 / n] * n
        self._frac = check_fractions(self.fractions, n, "SurfaceGenerator")
        if lattice not in ("fcc", "bcc", "hcp"):
            raise ValueError(f"SurfaceGenerator: lattice must be fcc, bcc or hcp: {lattice!r}.")
        if layers < 2 or vacuum <= 0:
            raise ValueError("SurfaceGenerator: need layers >= 2 and vacuum > 0 Å.")
        self.lattice = lattice
        self.lattice_constant = lattice_constant
        self.miller = tuple(int(x) for x in miller)
        self.layers = int(layers)
        self.size = tuple(int(x) for x in size)
        self.vacuum = float(vacuum)

    @property
    def elements(self) -> list[str]:
        return list(self._elements)

    def template(self) -> ase.Atoms:
        """The slab with every site the first element."""
        a = self.lattice_constant or vegard_lattice(self._elements, self._frac, self.lattice)
        return make_slab(
            self._elements[0], self.lattice, a, self.miller, self.layers, self.size, self.vacuum
        )

    def _build(self, rng: np.random.Generator) -> list[ase.Atoms]:
        template = self.template()
        counts = exact_counts(self._frac, len(template))
        pool = np.repeat(np.arange(len(self._elements)), counts)
        out = []
        for _ in range(self.n_structures):
            atoms = template.copy()
            atoms.set_chemical_symbols([self._elements[k] for k in rng.permutation(pool)])
            atoms.info["miller"] = "".join(str(x) for x in self.miller)
            out.append(atoms)
        return out
