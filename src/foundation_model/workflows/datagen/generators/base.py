"""The generator interface and helpers shared by the generators."""

from __future__ import annotations

from collections.abc import Sequence

import ase
import numpy as np
from ase.data import atomic_numbers, reference_states

from foundation_model.utils.class_path import ClassPathSerializable


class StructureGenerator(ClassPathSerializable):
    """Base class of seed-structure generators.

    A subclass implements :meth:`_build` (``n_structures`` structures from a seeded
    generator); :meth:`generate` tags each structure with ``info["generator"]`` and
    ``info["kind"]`` (``bulk``, ``slab``, ``interface``, ``molecule``).

    Args:
        n_structures: how many structures to make.
    """

    kind = "bulk"

    def __init__(self, n_structures: int = 1) -> None:
        if n_structures < 1:
            raise ValueError(f"{type(self).__name__}: n_structures must be >= 1.")
        self.n_structures = int(n_structures)

    def generate(self, seed: int) -> list[ase.Atoms]:
        """``n_structures`` structures from ``seed`` (same seed, same structures)."""
        rng = np.random.default_rng(seed)
        out = []
        for i, atoms in enumerate(self._build(rng)):
            atoms.calc = None
            atoms.info["generator"] = type(self).__name__
            atoms.info.setdefault("kind", self.kind)
            atoms.info["generator_index"] = i
            out.append(atoms)
        return out

    def _build(self, rng: np.random.Generator) -> list[ase.Atoms]:
        raise NotImplementedError

    @property
    def elements(self) -> list[str]:
        """Chemical elements this generator can emit (for descriptor species)."""
        raise NotImplementedError


def check_elements(symbols: Sequence[str], where: str) -> list[str]:
    """Raise a one-line error on unknown chemical symbols."""
    bad = [s for s in symbols if s not in atomic_numbers or s == "X"]
    if bad:
        raise ValueError(f"{where}: unknown element(s) {bad}.")
    return list(symbols)


def check_fractions(fractions: Sequence[float], n: int, where: str) -> np.ndarray:
    """Fractions as an array; they must be ``n`` non-negative numbers summing to 1."""
    frac = np.asarray(fractions, dtype=float)
    if frac.shape != (n,):
        raise ValueError(f"{where}: {len(frac)} fractions for {n} elements.")
    if (frac < 0).any() or abs(frac.sum() - 1.0) > 1e-6:
        raise ValueError(f"{where}: fractions must be >= 0 and sum to 1, got {list(fractions)}.")
    return frac


def exact_counts(fractions: np.ndarray, n_sites: int) -> np.ndarray:
    """Integer counts summing to ``n_sites`` closest to ``fractions * n_sites``."""
    raw = fractions * n_sites
    counts = np.floor(raw).astype(int)
    remainder = raw - counts
    for i in np.argsort(-remainder, kind="stable")[: n_sites - counts.sum()]:
        counts[i] += 1
    return counts


def reference_lattice(symbol: str) -> tuple[str, float, float | None]:
    """(structure, a, c/a) of an element's reference state in ASE."""
    state = reference_states[atomic_numbers[symbol]] or {}
    a = state.get("a")
    if a is None:
        raise ValueError(f"No reference lattice constant for {symbol}: give lattice_constant.")
    return state.get("symmetry", "fcc"), float(a), state.get("c/a")


def vegard_lattice(symbols: Sequence[str], fractions: np.ndarray, lattice: str) -> float:
    """Composition-weighted lattice constant, from atomic volumes of the reference states."""
    per_atom = {"fcc": 4, "bcc": 2, "hcp": 2, "sc": 1, "diamond": 8}
    volumes = []
    for s in symbols:
        structure, a, covera = reference_lattice(s)
        n = per_atom.get(structure, 4)
        vol = a**3 / n
        if structure == "hcp":
            vol = (np.sqrt(3) / 2 * a * a * a * (covera or 1.633)) / 2
        volumes.append(vol)
    v = float(np.dot(fractions, volumes))
    if lattice == "hcp":
        return float((2 * v / (np.sqrt(3) / 2 * 1.633)) ** (1 / 3))
    return float((v * per_atom[lattice]) ** (1 / 3))
