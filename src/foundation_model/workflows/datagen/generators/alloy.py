"""Random substitutional alloys on fcc/bcc/hcp lattices, binary to multi-principal."""

from __future__ import annotations

from collections.abc import Sequence

import ase
import numpy as np
from ase.build import bulk

from foundation_model.workflows.datagen.generators.base import (
    StructureGenerator,
    check_elements,
    check_fractions,
    exact_counts,
    vegard_lattice,
)


def shell_pairs(atoms: ase.Atoms, n_shells: int = 2) -> list[tuple[np.ndarray, np.ndarray]]:
    """Neighbour pairs ``(i, j)`` of the first ``n_shells`` coordination shells."""
    from ase.neighborlist import neighbor_list

    i, j, d = neighbor_list("ijd", atoms, cutoff=_shell_cutoff(atoms, n_shells))
    shells = np.unique(np.round(d, 2))[:n_shells]
    return [(i[np.isclose(d, r, atol=0.02)], j[np.isclose(d, r, atol=0.02)]) for r in shells]


def _shell_cutoff(atoms: ase.Atoms, n_shells: int) -> float:
    d = atoms.get_all_distances(mic=True)
    nearest = d[d > 1e-6].min()
    return nearest * (1.2 + 0.45 * n_shells)


def warren_cowley(
    species: np.ndarray, pairs: list[tuple[np.ndarray, np.ndarray]], n_species: int
) -> np.ndarray:
    """Warren-Cowley short-range order ``alpha[shell, a, b] = 1 - P(b | a) / c_b``.

    Zero for every pair and shell in an ideal random alloy.
    """
    conc = np.bincount(species, minlength=n_species) / len(species)
    alpha = np.zeros((len(pairs), n_species, n_species))
    for s, (i, j) in enumerate(pairs):
        counts = np.zeros((n_species, n_species))
        np.add.at(counts, (species[i], species[j]), 1.0)
        row = counts.sum(axis=1, keepdims=True)
        cond = np.divide(counts, row, out=np.zeros_like(counts), where=row > 0)
        alpha[s] = 1.0 - np.divide(cond, conc[None, :], out=np.ones_like(cond), where=conc > 0)
    return alpha


class AlloyGenerator(StructureGenerator):
    """Random solid solutions with an exact composition on a lattice supercell.

    Args:
        elements: chemical symbols, e.g. ``[Cu, Al]`` or five elements for an HEA.
        fractions: site fractions (sum to 1; default equimolar).
        lattice: ``fcc``, ``bcc`` or ``hcp``.
        lattice_constant: ``a`` in Å (default: Vegard's law over the elements' reference
            atomic volumes).
        supercell: repetitions of the conventional (fcc/bcc cubic) or primitive (hcp) cell.
        n_structures: number of random configurations.
        sqs: pick, out of ``sqs_trials`` random shuffles, the one whose first two shells'
            Warren-Cowley parameters are closest to zero (a special-quasirandom-like cell).
        sqs_trials: shuffles tried per structure when ``sqs``.
    """

    def __init__(
        self,
        elements: Sequence[str],
        fractions: Sequence[float] | None = None,
        lattice: str = "fcc",
        lattice_constant: float | None = None,
        supercell: Sequence[int] = (2, 2, 2),
        n_structures: int = 4,
        sqs: bool = False,
        sqs_trials: int = 200,
    ) -> None:
        super().__init__(n_structures)
        self.elements_ = check_elements(list(elements), "AlloyGenerator")
        if lattice not in ("fcc", "bcc", "hcp"):
            raise ValueError(f"AlloyGenerator: lattice must be fcc, bcc or hcp, got {lattice!r}.")
        if len(supercell) != 3 or min(supercell) < 1:
            raise ValueError(f"AlloyGenerator: supercell must be 3 positive ints: {supercell}.")
        n = len(self.elements_)
        self.fractions = list(fractions) if fractions is not None else [1.0 / n] * n
        self._frac = check_fractions(self.fractions, n, "AlloyGenerator")
        self.lattice = lattice
        self.lattice_constant = lattice_constant
        self.supercell = tuple(int(x) for x in supercell)
        self.sqs = sqs
        self.sqs_trials = int(sqs_trials)

    @property
    def elements(self) -> list[str]:
        return list(self.elements_)

    def template(self) -> ase.Atoms:
        """The empty lattice supercell (all sites the first element)."""
        a = self.lattice_constant or vegard_lattice(self.elements_, self._frac, self.lattice)
        cubic = self.lattice != "hcp"
        cell = bulk(self.elements_[0], self.lattice, a=a, cubic=cubic) if cubic else None
        if cell is None:
            cell = bulk(self.elements_[0], "hcp", a=a, c=a * 1.633)
        return cell.repeat(self.supercell)

    def _build(self, rng: np.random.Generator) -> list[ase.Atoms]:
        template = self.template()
        counts = exact_counts(self._frac, len(template))
        base = np.repeat(np.arange(len(self.elements_)), counts)
        pairs = shell_pairs(template) if self.sqs else []
        out = []
        for _ in range(self.n_structures):
            species = rng.permutation(base)
            score = np.inf
            if self.sqs:
                for _trial in range(self.sqs_trials):
                    trial = rng.permutation(base)
                    s = float(np.abs(warren_cowley(trial, pairs, len(self.elements_))).sum())
                    if s < score:
                        species, score = trial, s
            atoms = template.copy()
            atoms.set_chemical_symbols([self.elements_[k] for k in species])
            if self.sqs:
                atoms.info["sro_score"] = score
            out.append(atoms)
        return out
