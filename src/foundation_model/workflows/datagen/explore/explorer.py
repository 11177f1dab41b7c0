"""``MDExplorer``: Langevin NVT / NPT molecular dynamics with optional MC swaps.

The explorer is a picklable configuration. :meth:`MDExplorer.tasks` turns seeds into
:class:`TrajectoryTask` objects; :func:`run_trajectory` runs one of them in a worker,
building the calculator there from its spec (late binding), and returns a
:class:`TrajectoryResult` with labelled, calculator-free frames.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import ase
import numpy as np
from ase import units

from foundation_model.utils.class_path import ClassPathSerializable
from foundation_model.workflows.datagen.calculators import CalculatorSpec, cached_calculator
from foundation_model.workflows.datagen.explore.guards import ExplosionGuard
from foundation_model.workflows.datagen.explore.mc import SwapStats, mc_sweep
from foundation_model.workflows.datagen.explore.vacuum import choose_ensemble
from foundation_model.workflows.datagen.labelling import attach_labels


@dataclass
class TrajectoryTask:
    """One trajectory: a seed at a temperature.

    Attributes:
        traj_id: unique id (file name of the trajectory).
        atoms: seed structure, no calculator attached.
        temperature_K: target temperature.
        seed: seed of velocities, thermostat noise and MC moves.
        explorer: the explorer settings (carries the calculator spec).
    """

    traj_id: str
    atoms: ase.Atoms
    temperature_K: float  # noqa: N815 - ASE spelling of temperatures
    seed: int
    explorer: MDExplorer


@dataclass
class TrajectoryResult:
    """What a worker sends back for one trajectory.

    Attributes:
        traj_id: id of the task.
        frames: sampled snapshots with ``energy``/``forces``/``stress`` and MD provenance.
        ensemble: ``nvt`` or ``npt``.
        dynamics: class name of the ASE integrator actually used.
        steps: MD steps completed.
        stopped: reason the explosion guard stopped the run (``""`` when it finished).
        crashed: the offending structure when stopped (for debugging).
        mc_attempted: MC swap attempts.
        mc_accepted: accepted MC swaps.
        seconds: wall time.
    """

    traj_id: str
    frames: list[ase.Atoms] = field(default_factory=list)
    ensemble: str = ""
    dynamics: str = ""
    steps: int = 0
    stopped: str = ""
    crashed: ase.Atoms | None = None
    mc_attempted: int = 0
    mc_accepted: int = 0
    seconds: float = 0.0


class MDExplorer(ClassPathSerializable):
    """Molecular dynamics (and hybrid MD/MC) exploration of each seed.

    Args:
        calculator: spec of the calculator that drives the dynamics (built in the worker).
        temperatures: target temperatures (K); one trajectory per seed and temperature.
        steps: MD steps per trajectory.
        timestep_fs: time step (fs).
        sample_interval: keep a frame every this many steps.
        ensemble: ``auto`` (vacuum detection: slab -> ``nvt``, bulk -> ``npt``), ``nvt`` or
            ``npt``.
        friction_per_fs: Langevin friction of the thermostat (1/fs).
        pressure_GPa: target pressure of NPT.
        barostat_time_fs: cell relaxation time of NPT (fs).
        hydrostatic: NPT changes only the volume, not the cell shape.
        vacuum_gap: smallest empty layer counted as vacuum (Å).
        mc_interval: MD steps between MC swap rounds (0: pure MD).
        mc_attempts: swap attempts per round.
        charge_rule: ionic swap rule: ``sign`` (no cation-anion swaps), ``equal`` or ``none``.
        guard: explosion guard thresholds.
    """

    def __init__(
        self,
        calculator: CalculatorSpec,
        temperatures: Sequence[float] = (300.0,),
        steps: int = 100,
        timestep_fs: float = 1.0,
        sample_interval: int = 10,
        ensemble: Literal["auto", "nvt", "npt"] = "auto",
        friction_per_fs: float = 0.01,
        pressure_GPa: float = 0.0,
        barostat_time_fs: float = 500.0,
        hydrostatic: bool = False,
        vacuum_gap: float = 4.0,
        mc_interval: int = 0,
        mc_attempts: int = 5,
        charge_rule: Literal["sign", "equal", "none"] = "sign",
        guard: ExplosionGuard | None = None,
    ) -> None:
        self.calculator = calculator
        self.temperatures = [float(t) for t in temperatures]
        if not self.temperatures or min(self.temperatures) <= 0:
            raise ValueError(f"MDExplorer: temperatures must be > 0 K, got {self.temperatures}.")
        if steps < 1 or sample_interval < 1 or sample_interval > steps:
            raise ValueError("MDExplorer: need steps >= 1 and 1 <= sample_interval <= steps.")
        if timestep_fs <= 0 or timestep_fs > 10:
            raise ValueError(f"MDExplorer: timestep_fs must be in (0, 10], got {timestep_fs}.")
        if ensemble not in ("auto", "nvt", "npt"):
            raise ValueError(f"MDExplorer: ensemble must be auto, nvt or npt: {ensemble!r}.")
        if charge_rule not in ("sign", "equal", "none"):
            raise ValueError(f"MDExplorer: charge_rule must be sign, equal or none: {charge_rule}")
        self.steps, self.timestep_fs = int(steps), float(timestep_fs)
        self.sample_interval = int(sample_interval)
        self.ensemble = ensemble
        self.friction_per_fs = float(friction_per_fs)
        self.pressure_GPa = float(pressure_GPa)
        self.barostat_time_fs = float(barostat_time_fs)
        self.hydrostatic = hydrostatic
        self.vacuum_gap = float(vacuum_gap)
        self.mc_interval, self.mc_attempts = int(mc_interval), int(mc_attempts)
        self.charge_rule = charge_rule
        self.guard = guard or ExplosionGuard()

    def tasks(self, seeds: Sequence[ase.Atoms], seed: int) -> list[TrajectoryTask]:
        """One task per seed structure and temperature, seeded from ``seed``."""
        out = []
        for i, atoms in enumerate(seeds):
            clean = atoms.copy()
            clean.calc = None
            seed_id = str(atoms.info.get("seed_id", f"s{i:04d}"))
            for k, temperature in enumerate(self.temperatures):
                traj_seed = int(np.random.SeedSequence([seed, i, k]).generate_state(1)[0])
                out.append(
                    TrajectoryTask(
                        f"{seed_id}_T{temperature:g}", clean, temperature, traj_seed, self
                    )
                )
        return out

    def ensemble_for(self, atoms: ase.Atoms) -> str:
        """The ensemble used for ``atoms``."""
        if self.ensemble != "auto":
            return self.ensemble
        return choose_ensemble(atoms, self.vacuum_gap)

    def make_dynamics(
        self, atoms: ase.Atoms, ensemble: str, temperature_K: float, rng: np.random.Generator
    ) -> Any:
        """Langevin (NVT) or Langevin-BAOAB with a Langevin-Hoover barostat (NPT)."""
        dt = self.timestep_fs * units.fs
        if ensemble == "nvt":
            from ase.md.langevin import Langevin

            friction = self.friction_per_fs / units.fs
            return Langevin(
                atoms, dt, temperature_K=temperature_K, friction=friction, fixcm=False, rng=rng
            )
        import warnings

        from ase.md.langevinbaoab import LangevinBAOAB

        if not atoms.pbc.all():
            raise ValueError("NPT needs a cell periodic in all three directions.")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*heuristic P_mass.*")
            return LangevinBAOAB(
                atoms,
                dt,
                temperature_K=temperature_K,
                externalstress=-self.pressure_GPa * units.GPa,  # ASE stress = -pressure
                hydrostatic=self.hydrostatic,
                T_tau=units.fs / self.friction_per_fs,
                P_tau=self.barostat_time_fs * units.fs,
                rng=rng,
            )


def _frame(atoms: ase.Atoms, task: TrajectoryTask, step: int, ensemble: str) -> ase.Atoms:
    frame = attach_labels(atoms)
    frame.set_velocities(atoms.get_velocities())
    frame.info.update(
        traj_id=task.traj_id,
        md_step=step,
        temperature_K=float(task.temperature_K),
        instant_temperature_K=float(atoms.get_temperature()),
        ensemble=ensemble,
    )
    return frame


def run_trajectory(task: TrajectoryTask) -> TrajectoryResult:
    """Run one trajectory (in a worker): MD steps, MC rounds, guards, sampled frames."""
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

    ex = task.explorer
    start = time.perf_counter()
    rng = np.random.default_rng(task.seed)
    atoms = task.atoms.copy()
    atoms.calc = cached_calculator(ex.calculator)
    ensemble = ex.ensemble_for(atoms)
    MaxwellBoltzmannDistribution(atoms, temperature_K=task.temperature_K, rng=rng)
    Stationary(atoms)
    dyn = ex.make_dynamics(atoms, ensemble, task.temperature_K, rng)
    result = TrajectoryResult(task.traj_id, ensemble=ensemble, dynamics=type(dyn).__name__)
    stats = SwapStats()
    previous = float(atoms.get_potential_energy())
    for step in range(1, ex.steps + 1):
        dyn.run(1)
        if ex.mc_interval and step % ex.mc_interval == 0:
            round_stats = mc_sweep(atoms, ex.mc_attempts, task.temperature_K, rng, ex.charge_rule)
            stats.attempted += round_stats.attempted
            stats.accepted += round_stats.accepted
        energy = float(atoms.get_potential_energy())
        reason = ex.guard.check(atoms, energy, previous, step)
        result.steps = step
        if reason:
            result.stopped = f"step {step}: {reason}"
            result.crashed = atoms.copy()
            result.crashed.calc = None
            result.crashed.info.update(traj_id=task.traj_id, md_step=step, stopped=reason)
            break
        previous = energy
        if step % ex.sample_interval == 0:
            result.frames.append(_frame(atoms, task, step, ensemble))
    for frame in result.frames:
        frame.info["dynamics"] = result.dynamics
    result.mc_attempted, result.mc_accepted = stats.attempted, stats.accepted
    result.seconds = time.perf_counter() - start
    return result
