"""Fixtures of the distillation tests: small EMT-labelled Cu-Al cells."""

from __future__ import annotations

import ase
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT


def emt_cells(n: int, seed: int, rattle: float = 0.08, size: int = 2) -> list[ase.Atoms]:
    """``n`` rattled fcc Cu cells with half of the atoms swapped to Al, EMT-labelled."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        atoms = bulk("Cu", "fcc", 3.65, cubic=True) * (size, size, 1)
        symbols = atoms.get_chemical_symbols()
        for j in rng.choice(len(atoms), len(atoms) // 2, replace=False):
            symbols[j] = "Al"
        atoms.set_chemical_symbols(symbols)
        atoms.rattle(rattle, seed=int(rng.integers(1 << 30)))
        atoms.calc = EMT()
        atoms.info["energy"] = atoms.get_potential_energy()
        atoms.arrays["forces"] = atoms.get_forces()
        atoms.calc = None
        out.append(atoms)
    return out


@pytest.fixture(scope="session")
def emt_train() -> list[ase.Atoms]:
    return emt_cells(40, seed=1)


@pytest.fixture(scope="session")
def emt_test() -> list[ase.Atoms]:
    return emt_cells(6, seed=2)
