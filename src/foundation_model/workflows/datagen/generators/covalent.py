"""Covalent networks: diamond (or zincblende for two elements), graphite, graphene."""

from __future__ import annotations

from collections.abc import Sequence

import ase
import numpy as np
from ase.build import bulk, graphene

from foundation_model.workflows.datagen.generators.base import StructureGenerator, check_elements

STRUCTURES = ("diamond", "graphite", "graphene")


def graphite_cell(symbol: str, a: float, c: float) -> ase.Atoms:
    """AB-stacked (Bernal) graphite, 4 atoms, hexagonal cell."""
    cell = [[a, 0, 0], [-a / 2, a * np.sqrt(3) / 2, 0], [0, 0, c]]
    frac = [[0, 0, 0.25], [1 / 3, 2 / 3, 0.25], [0, 0, 0.75], [2 / 3, 1 / 3, 0.75]]
    return ase.Atoms(symbol * 4, scaled_positions=frac, cell=cell, pbc=True)


class CovalentGenerator(StructureGenerator):
    """Covalent crystals and sheets, optionally with random vacancies.

    Args:
        elements: one element (``[C]``, ``[Si]``) or two for an ordered zincblende ``diamond``
            (``[Si, C]``).
        structure: ``diamond``, ``graphite`` or ``graphene`` (a sheet with vacuum: a slab).
        lattice_constant: ``a`` in Å (default: the element's reference, 2.46 Å for graphitic C).
        interlayer: graphite interlayer distance (Å).
        supercell: repetitions (graphene: the third is ignored).
        vacuum: vacuum around a graphene sheet (Å).
        vacancies: atoms removed at random per structure (point defects).
        n_structures: number of structures.
    """

    def __init__(
        self,
        elements: Sequence[str] = ("C",),
        structure: str = "diamond",
        lattice_constant: float | None = None,
        interlayer: float = 3.35,
        supercell: Sequence[int] = (2, 2, 2),
        vacuum: float = 8.0,
        vacancies: int = 0,
        n_structures: int = 2,
    ) -> None:
        super().__init__(n_structures)
        if structure not in STRUCTURES:
            raise ValueError(f"CovalentGenerator: structure must be one of {STRUCTURES}.")
        self._elements = check_elements(list(elements), "CovalentGenerator")
        if len(self._elements) not in (1, 2) or (structure != "diamond" and len(elements) != 1):
            raise ValueError("CovalentGenerator: one element, or two for diamond (zincblende).")
        if vacancies < 0:
            raise ValueError("CovalentGenerator: vacancies must be >= 0.")
        self.structure = structure
        self.lattice_constant = lattice_constant
        self.interlayer = float(interlayer)
        self.supercell = tuple(int(x) for x in supercell)
        self.vacuum = float(vacuum)
        self.vacancies = int(vacancies)
        self.kind = "slab" if structure == "graphene" else "bulk"

    @property
    def elements(self) -> list[str]:
        return list(self._elements)

    def template(self) -> ase.Atoms:
        """The defect-free supercell."""
        el = self._elements
        if self.structure == "diamond":
            if len(el) == 1:
                a = self.lattice_constant or bulk(el[0]).cell.lengths()[0] * np.sqrt(2)
                return bulk(el[0], "diamond", a=a, cubic=True).repeat(self.supercell)
            a = self.lattice_constant or 4.36
            return bulk("".join(el), "zincblende", a=a, cubic=True).repeat(self.supercell)
        a = self.lattice_constant or 2.46
        if self.structure == "graphite":
            return graphite_cell(el[0], a, 2 * self.interlayer).repeat(self.supercell)
        sheet = graphene(formula=el[0] * 2, a=a, size=(*self.supercell[:2], 1), vacuum=self.vacuum)
        sheet.pbc = (True, True, False)
        return sheet

    def _build(self, rng: np.random.Generator) -> list[ase.Atoms]:
        template = self.template()
        if self.vacancies >= len(template):
            raise ValueError("CovalentGenerator: more vacancies than atoms.")
        out = []
        for _ in range(self.n_structures):
            atoms = template.copy()
            if self.vacancies:
                del atoms[list(rng.choice(len(atoms), self.vacancies, replace=False))]
            atoms.info["kind"] = self.kind
            out.append(atoms)
        return out
