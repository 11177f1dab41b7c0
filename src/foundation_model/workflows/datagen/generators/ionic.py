"""Ionic crystals on binary prototypes with charge neutrality from pymatgen oxidation states."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ase
import numpy as np
from ase.build import bulk

from foundation_model.workflows.datagen.generators.base import (
    StructureGenerator,
    check_elements,
    check_fractions,
    exact_counts,
)

# prototype -> (ASE crystal structure, placeholder formula, a / (r_cation + r_anion))
PROTOTYPES: dict[str, tuple[str, str, float]] = {
    "rocksalt": ("rocksalt", "NaCl", 2.0),
    "cesiumchloride": ("cesiumchloride", "CsCl", 2.0 / np.sqrt(3.0)),
    "zincblende": ("zincblende", "ZnS", 4.0 / np.sqrt(3.0)),
    "fluorite": ("fluorite", "CaF2", 4.0 / np.sqrt(3.0)),
}


def oxidation_states(counts: Mapping[str, int]) -> dict[str, float]:
    """Most likely oxidation states making ``counts`` neutral (pymatgen), or raise."""
    from pymatgen.core import Composition

    guesses = Composition(dict(counts)).oxi_state_guesses()
    if not guesses:
        formula = "".join(f"{k}{v}" for k, v in counts.items())
        raise ValueError(
            f"IonicGenerator: {formula} cannot be charge-neutral with common oxidation states."
        )
    return {k: float(v) for k, v in guesses[0].items()}


def ionic_radius(symbol: str, charge: float) -> float:
    """Shannon ionic radius (Å) from pymatgen, falling back to the atomic radius."""
    from pymatgen.core import Element, Species

    radius = Species(symbol, int(round(charge))).ionic_radius
    return float(radius if radius is not None else Element(symbol).atomic_radius)


class IonicGenerator(StructureGenerator):
    """Ionic crystals: cations and anions on the two sublattices of a prototype.

    Several cations (or anions) share their sublattice at random with exact fractions. The
    cell's composition must be neutral for pymatgen's oxidation-state guesses, else the
    generator refuses the configuration; each atom's oxidation state is stored as its
    initial charge (``atoms.get_initial_charges()``), which the explorer uses to prevent
    cation-anion swaps.

    Args:
        cations: ``{symbol: fraction}`` on the cation sublattice (fractions sum to 1).
        anions: ``{symbol: fraction}`` on the anion sublattice.
        prototype: ``rocksalt``, ``cesiumchloride``, ``zincblende`` or ``fluorite``.
        lattice_constant: conventional ``a`` (Å); default from Shannon ionic radii.
        supercell: repetitions of the conventional cell.
        n_structures: number of random configurations.
    """

    def __init__(
        self,
        cations: Mapping[str, float],
        anions: Mapping[str, float],
        prototype: str = "rocksalt",
        lattice_constant: float | None = None,
        supercell: Sequence[int] = (1, 1, 1),
        n_structures: int = 2,
    ) -> None:
        super().__init__(n_structures)
        if prototype not in PROTOTYPES:
            raise ValueError(f"IonicGenerator: prototype must be one of {sorted(PROTOTYPES)}.")
        self.cations = dict(cations)
        self.anions = dict(anions)
        for name, group in (("cations", self.cations), ("anions", self.anions)):
            if not group:
                raise ValueError(f"IonicGenerator: no {name} given.")
            check_elements(list(group), f"IonicGenerator {name}")
            check_fractions(list(group.values()), len(group), f"IonicGenerator {name}")
        self.prototype = prototype
        self.lattice_constant = lattice_constant
        self.supercell = tuple(int(x) for x in supercell)
        template = self._template(1.0)
        self._counts = self._sublattice_counts(template)
        total: dict[str, int] = {}
        for group in self._counts.values():
            for sym, n in group.items():
                total[sym] = total.get(sym, 0) + int(n)
        self.oxidation = oxidation_states(total)
        signs = (
            [np.sign(self.oxidation[s]) for s in self.cations],
            [np.sign(self.oxidation[s]) for s in self.anions],
        )
        if min(signs[0]) <= 0 or max(signs[1]) >= 0:
            raise ValueError(
                f"IonicGenerator: oxidation states {self.oxidation} do not make the cations "
                "positive and the anions negative."
            )

    @property
    def elements(self) -> list[str]:
        return list(self.cations) + list(self.anions)

    def _template(self, a: float) -> ase.Atoms:
        structure, formula, _ = PROTOTYPES[self.prototype]
        cell = bulk(formula, structure, a=a, cubic=True)
        return cell.repeat(self.supercell)

    def _sublattice_counts(self, template: ase.Atoms) -> dict[str, dict[str, int]]:
        placeholder = PROTOTYPES[self.prototype][1]
        cation_site = placeholder[:2] if placeholder[1].islower() else placeholder[0]
        symbols = np.array(template.get_chemical_symbols())
        n_cat = int((symbols == cation_site).sum())
        n_an = len(symbols) - n_cat
        out = {}
        for key, group, n in (("cation", self.cations, n_cat), ("anion", self.anions, n_an)):
            counts = exact_counts(np.array(list(group.values())), n)
            out[key] = dict(zip(group, counts.tolist(), strict=True))
        self._cation_site = cation_site
        return out

    def default_lattice_constant(self) -> float:
        """``a`` from composition-weighted Shannon radii of the two sublattices."""
        r = 0.0
        for group in (self.cations, self.anions):
            r += sum(f * ionic_radius(s, self.oxidation[s]) for s, f in group.items())
        return float(PROTOTYPES[self.prototype][2] * r)

    def _build(self, rng: np.random.Generator) -> list[ase.Atoms]:
        a = self.lattice_constant or self.default_lattice_constant()
        template = self._template(a)
        is_cation = np.array(template.get_chemical_symbols()) == self._cation_site
        out = []
        for _ in range(self.n_structures):
            symbols = np.empty(len(template), dtype=object)
            for key, mask in (("cation", is_cation), ("anion", ~is_cation)):
                pool = np.repeat(list(self._counts[key]), list(self._counts[key].values()))
                symbols[mask] = rng.permutation(pool)
            atoms = template.copy()
            atoms.set_chemical_symbols(list(symbols))
            atoms.set_initial_charges([self.oxidation[s] for s in symbols])
            atoms.info["ionic"] = True
            out.append(atoms)
        return out
