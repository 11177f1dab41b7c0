"""Covalent networks: diamond (or zincblende for two elements), graphite, graphene."""

from __future__ import annotations

from collections.abc import Sequence

import ase
import numpy as np
from ase.build import bulk, graphene
from ase.data import atomic_numbers, covalent_radii, reference_states

from foundation_model.workflows.datagen.generators.base import StructureGenerator, check_elements

STRUCTURES = ("diamond", "graphite", "graphene")
#: measured lattice constants (Å): 3C-SiC (zincblende) and graphene/graphite in-plane C-C
SIC_A = 4.36
GRAPHITIC_C_A = 2.46


def _bond(symbols: Sequence[str]) -> float:
    """Nearest-neighbour bond estimate (Å): the sum of the covalent radii of two atoms."""
    radii = [covalent_radii[atomic_numbers[s]] for s in symbols]
    return float(radii[0] + radii[-1])


def diamond_lattice_constant(elements: Sequence[str]) -> float:
    """Cubic ``a`` (Å) of diamond (one element) or zincblende (two elements).

    The element's reference ``a`` when its reference state is diamond (C, Si, Ge), 4.36 Å
    for SiC, otherwise the ``a`` whose bond (``a * sqrt(3) / 4``) is the sum of the covalent
    radii (e.g. 6.10 Å for Cu instead of its fcc 3.61 Å, which would give 1.56 Å bonds).
    """
    if len(elements) == 1:
        state = reference_states[atomic_numbers[elements[0]]] or {}
        if state.get("symmetry") == "diamond":
            return float(bulk(elements[0]).cell.lengths()[0] * np.sqrt(2))
    elif set(elements) == {"Si", "C"}:
        return SIC_A
    return 4.0 * _bond(elements) / np.sqrt(3.0)


def sheet_lattice_constant(symbol: str) -> float:
    """In-plane ``a`` (Å) of a honeycomb sheet: 2.46 Å for carbon, otherwise the ``a`` whose
    bond (``a / sqrt(3)``) is twice the covalent radius."""
    if symbol == "C":
        return GRAPHITIC_C_A
    return float(np.sqrt(3.0) * _bond([symbol]))


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
        lattice_constant: ``a`` in Å. Default: diamond uses the element's reference ``a``
            when that is diamond (C, Si, Ge) and 4.36 Å for SiC; graphite/graphene carbon
            2.46 Å; any other element or pair gets the ``a`` whose bonds are the sum of the
            covalent radii (:func:`diamond_lattice_constant`, :func:`sheet_lattice_constant`).
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
            a = self.lattice_constant or diamond_lattice_constant(el)
            if len(el) == 1:
                return bulk(el[0], "diamond", a=a, cubic=True).repeat(self.supercell)
            return bulk("".join(el), "zincblende", a=a, cubic=True).repeat(self.supercell)
        a = self.lattice_constant or sheet_lattice_constant(el[0])
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
