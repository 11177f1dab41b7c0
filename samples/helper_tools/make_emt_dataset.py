"""Make a small labelled MLIP data set with ASE's EMT potential (seeded, ~1 minute on CPU).

Rattled, strained, alloyed and MD-sampled fcc Cu/Al/Ni cells, bulk with vacancies and
(111) surfaces, labelled with energy (eV), forces (eV/Å) and stress (eV/Å³, Voigt) and
written to extended XYZ. ``atoms.info["config_type"]`` names how each was made.

Usage:
    uv run python samples/helper_tools/make_emt_dataset.py --out data/emt_cu_al.extxyz
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import ase
import ase.io
import numpy as np
from ase import units
from ase.build import bulk, fcc111
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

LATTICE = {"Cu": 3.61, "Al": 4.05, "Ni": 3.52}
ELEMENTS = tuple(LATTICE)


def _cell(rng: np.random.Generator, element: str, repeat: tuple[int, int, int]) -> ase.Atoms:
    return bulk(element, "fcc", a=LATTICE[element] * rng.uniform(0.98, 1.03), cubic=True) * repeat


def rattled(rng: np.random.Generator) -> ase.Atoms:
    atoms = _cell(rng, str(rng.choice(ELEMENTS)), (2, 1, 1))
    atoms.rattle(rng.uniform(0.02, 0.12), seed=int(rng.integers(1 << 30)))
    return atoms


def strained(rng: np.random.Generator) -> ase.Atoms:
    atoms = _cell(rng, str(rng.choice(ELEMENTS)), (1, 1, 1))
    eps = rng.uniform(-0.03, 0.03, (3, 3))
    atoms.set_cell(atoms.cell @ (np.eye(3) + 0.5 * (eps + eps.T)), scale_atoms=True)
    atoms.rattle(0.03, seed=int(rng.integers(1 << 30)))
    return atoms


def alloy(rng: np.random.Generator) -> ase.Atoms:
    host = str(rng.choice(ELEMENTS))
    atoms = _cell(rng, host, (2, 1, 1))
    atoms.symbols = [str(s) for s in rng.choice(ELEMENTS, len(atoms))]
    atoms.rattle(0.05, seed=int(rng.integers(1 << 30)))
    return atoms


def vacancy(rng: np.random.Generator) -> ase.Atoms:
    atoms = _cell(rng, str(rng.choice(ELEMENTS)), (2, 2, 1))
    del atoms[int(rng.integers(len(atoms)))]
    atoms.rattle(0.04, seed=int(rng.integers(1 << 30)))
    return atoms


def surface(rng: np.random.Generator) -> ase.Atoms:
    element = str(rng.choice(ELEMENTS))
    atoms = fcc111(element, size=(2, 2, 3), a=LATTICE[element], vacuum=5.0, periodic=True)
    atoms.info.pop("adsorbate_info", None)
    atoms.rattle(0.05, seed=int(rng.integers(1 << 30)))
    return atoms


def md_frames(rng: np.random.Generator, count: int, interval: int = 10) -> list[ase.Atoms]:
    """Langevin MD with EMT at 300-1200 K from small bulk cells."""
    frames: list[ase.Atoms] = []
    while len(frames) < count:
        atoms = _cell(rng, str(rng.choice(ELEMENTS)), (2, 1, 1))
        atoms.calc = EMT()
        temperature = float(rng.uniform(300, 1200))
        MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=rng)
        dyn = Langevin(
            atoms, 2 * units.fs, temperature_K=temperature, friction=0.02, fixcm=False, rng=rng
        )
        for _ in range(min(10, count - len(frames))):
            dyn.run(interval)
            frame = atoms.copy()
            frame.info["config_type"] = "md"
            frames.append(frame)
    return frames


def label(atoms: ase.Atoms) -> ase.Atoms:
    """Attach EMT energy, forces and stress as stored results."""
    atoms.calc = EMT()
    results = {
        "energy": atoms.get_potential_energy(),
        "forces": atoms.get_forces(),
        "stress": atoms.get_stress(),
    }
    atoms.calc = SinglePointCalculator(atoms, **results)
    return atoms


def make_dataset(n_per_kind: int = 50, seed: int = 0) -> list[ase.Atoms]:
    """``6 * n_per_kind`` labelled structures."""
    rng = np.random.default_rng(seed)
    makers: dict[str, Callable[[np.random.Generator], ase.Atoms]] = {
        "rattled": rattled,
        "strained": strained,
        "alloy": alloy,
        "vacancy": vacancy,
        "surface": surface,
    }
    structures: list[ase.Atoms] = []
    for kind, make in makers.items():
        for _ in range(n_per_kind):
            atoms = make(rng)
            atoms.info["config_type"] = kind
            structures.append(atoms)
    structures += md_frames(rng, n_per_kind)
    return [label(a) for a in structures]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="data/emt_cu_al.extxyz", help="output extxyz file")
    parser.add_argument("--n-per-kind", type=int, default=50, help="structures per kind (6 kinds)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args(argv)
    structures = make_dataset(args.n_per_kind, args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ase.io.write(out, structures, format="extxyz")
    sizes = [len(a) for a in structures]
    print(f"wrote {len(structures)} structures ({min(sizes)}-{max(sizes)} atoms) to {out}")


if __name__ == "__main__":
    main()
