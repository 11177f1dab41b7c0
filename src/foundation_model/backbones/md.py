"""Molecular dynamics with any ASE calculator, with guards against exploding runs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import ase
import numpy as np
from ase import units
from ase.calculators.calculator import Calculator


@dataclass
class MDResult:
    """Outcome of :func:`run_md`.

    Attributes:
        frames: snapshots every ``sample_interval`` steps (energy in ``info``, forces in
            ``arrays``).
        steps: steps completed.
        stopped: why the run stopped early (``""`` when it finished).
        seconds: wall time of the dynamics.
    """

    frames: list[ase.Atoms] = field(default_factory=list)
    steps: int = 0
    stopped: str = ""
    seconds: float = 0.0

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else float("nan")


def _unphysical(atoms: ase.Atoms, max_force: float, min_distance: float) -> str:
    forces = atoms.get_forces()
    if not np.isfinite(forces).all() or np.abs(forces).max() > max_force:
        return f"force above {max_force} eV/Å"
    if len(atoms) > 1:
        d = atoms.get_all_distances(mic=bool(atoms.pbc.any()))
        np.fill_diagonal(d, np.inf)
        if d.min() < min_distance:
            return f"atoms closer than {min_distance} Å"
    return ""


def run_md(
    atoms: ase.Atoms,
    calculator: Calculator,
    ensemble: str = "langevin",
    temperature_K: float = 300.0,
    timestep_fs: float = 1.0,
    steps: int = 100,
    friction_per_fs: float = 0.01,
    sample_interval: int = 10,
    max_force: float = 50.0,
    min_distance: float = 0.5,
    seed: int = 0,
    max_energy_jump: float | None = None,
) -> MDResult:
    """Run NVT (Langevin) or NVE (velocity Verlet) dynamics, sampling frames.

    Stops early (``MDResult.stopped``) when forces blow up, atoms collide or the energy
    jumps.

    Args:
        atoms: starting structure (copied).
        calculator: e.g. :class:`foundation_model.backbones.MLIPCalculator`.
        ensemble: ``langevin`` (NVT) or ``nve``.
        temperature_K: target / initial temperature.
        timestep_fs: time step in fs.
        steps: number of steps.
        friction_per_fs: Langevin friction.
        sample_interval: keep a frame every this many steps.
        max_force: largest allowed force component (eV/Å).
        min_distance: smallest allowed interatomic distance (Å).
        seed: seed of initial velocities and the thermostat noise.
        max_energy_jump: largest allowed change of the potential energy per atom between
            two steps (eV/atom; ``None``: no check).
    """
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet

    atoms = atoms.copy()
    atoms.calc = calculator
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=rng)
    if ensemble == "langevin":
        dyn = Langevin(
            atoms,
            timestep_fs * units.fs,
            temperature_K=temperature_K,
            friction=friction_per_fs / units.fs,
            fixcm=False,
            rng=rng,
        )
    elif ensemble == "nve":
        dyn = VelocityVerlet(atoms, timestep_fs * units.fs)
    else:
        raise ValueError(f"Unknown ensemble {ensemble!r}: choose langevin or nve.")
    result = MDResult()
    start = time.perf_counter()
    previous = atoms.get_potential_energy() if max_energy_jump is not None else 0.0
    for step in range(1, steps + 1):
        dyn.run(1)
        result.steps = step
        reason = _unphysical(atoms, max_force, min_distance)
        if not reason and max_energy_jump is not None:
            energy = atoms.get_potential_energy()
            if not np.isfinite(energy) or abs(energy - previous) / len(atoms) > max_energy_jump:
                reason = f"energy jump above {max_energy_jump} eV/atom"
            previous = energy
        if reason:
            result.stopped = f"step {step}: {reason}"
            break
        if step % sample_interval == 0:
            frame = atoms.copy()
            frame.info["energy"] = atoms.get_potential_energy()
            frame.arrays["forces"] = atoms.get_forces()
            frame.info["md_step"] = step
            result.frames.append(frame)
    result.seconds = time.perf_counter() - start
    return result
