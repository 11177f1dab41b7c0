"""Step 4: guarded surrogate MD with the fine-tuned teacher, many trajectories in parallel.

Each trajectory is a task of the ``fm datagen`` executor carrying a calculator *spec*
(``MLIPSpec(checkpoint=...)``): the worker loads the teacher once (late binding) and runs
:func:`foundation_model.backbones.run_md`, whose guards stop a trajectory when atoms come
too close, a force exceeds a bound or the energy jumps. A stopped trajectory is pruned:
only its frames before the last ``prune_frames`` samples are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ase
import numpy as np

from foundation_model.utils.class_path import ClassPathSerializable
from foundation_model.workflows.datagen.calculators import CalculatorSpec, cached_calculator
from foundation_model.workflows.datagen.executor import TaskExecutor


@dataclass
class MDTask:
    """One trajectory.

    Attributes:
        atoms: start structure (no calculator).
        calculator: spec of the MD calculator.
        params: keyword arguments of ``run_md``.
        trajectory: index of the trajectory (provenance).
    """

    atoms: ase.Atoms
    calculator: CalculatorSpec
    params: dict[str, Any]
    trajectory: int = 0


@dataclass
class TrajectoryOutcome:
    """What a trajectory produced.

    Attributes:
        frames: sampled structures (positions only, no labels; detached).
        steps: steps completed.
        stopped: why a guard stopped it (``""``: finished).
        steps_per_second: MD speed.
        trajectory: index of the trajectory.
    """

    frames: list[ase.Atoms] = field(default_factory=list)
    steps: int = 0
    stopped: str = ""
    steps_per_second: float = 0.0
    trajectory: int = 0


def run_md_task(task: MDTask) -> TrajectoryOutcome:
    """Run one trajectory (in a worker); frames keep positions and cell only."""
    from foundation_model.backbones.md import run_md

    result = run_md(task.atoms, cached_calculator(task.calculator), **task.params)
    frames = []
    for frame in result.frames:
        clean = ase.Atoms(frame.numbers, frame.positions, cell=frame.cell, pbc=frame.pbc)
        clean.info.update(md_step=int(frame.info["md_step"]), trajectory=task.trajectory)
        frames.append(clean)
    return TrajectoryOutcome(
        frames, result.steps, result.stopped, result.steps_per_second, task.trajectory
    )


class SurrogateMD(ClassPathSerializable):
    """Guarded MD runs with the teacher that fill the surrogate pool.

    Args:
        n_trajectories: trajectories (start structures are drawn from the labelled set).
        temperatures: temperatures (K), cycled over the trajectories.
        steps: MD steps per trajectory.
        timestep_fs: time step (fs).
        sample_interval: keep a frame every this many steps.
        ensemble: ``langevin`` (NVT) or ``nve``.
        friction_per_fs: Langevin friction.
        max_force: guard: largest force component (eV/Å).
        min_distance: guard: smallest interatomic distance (Å).
        max_energy_jump: guard: largest energy change per step (eV/atom).
        prune_frames: frames dropped before the point where a guard fired.
    """

    def __init__(
        self,
        n_trajectories: int = 4,
        temperatures: list[float] | None = None,
        steps: int = 200,
        timestep_fs: float = 1.0,
        sample_interval: int = 10,
        ensemble: str = "langevin",
        friction_per_fs: float = 0.01,
        max_force: float = 20.0,
        min_distance: float = 0.6,
        max_energy_jump: float = 0.5,
        prune_frames: int = 1,
    ) -> None:
        self.n_trajectories = int(n_trajectories)
        self.temperatures = list(temperatures or [300.0])
        self.steps = int(steps)
        self.timestep_fs = float(timestep_fs)
        self.sample_interval = int(sample_interval)
        self.ensemble = ensemble
        self.friction_per_fs = float(friction_per_fs)
        self.max_force = float(max_force)
        self.min_distance = float(min_distance)
        self.max_energy_jump = float(max_energy_jump)
        self.prune_frames = int(prune_frames)

    def tasks(self, starts: list[ase.Atoms], calculator: CalculatorSpec, seed: int) -> list[MDTask]:
        """One task per trajectory, start structures drawn (seeded) from ``starts``."""
        if not starts:
            raise ValueError("Surrogate MD needs at least one start structure.")
        rng = np.random.default_rng(seed)
        picks = rng.choice(
            len(starts), self.n_trajectories, replace=len(starts) < self.n_trajectories
        )
        out = []
        for t, i in enumerate(picks):
            atoms = ase.Atoms(
                starts[i].numbers, starts[i].positions, cell=starts[i].cell, pbc=starts[i].pbc
            )
            params = {
                "ensemble": self.ensemble,
                "temperature_K": self.temperatures[t % len(self.temperatures)],
                "timestep_fs": self.timestep_fs,
                "steps": self.steps,
                "friction_per_fs": self.friction_per_fs,
                "sample_interval": self.sample_interval,
                "max_force": self.max_force,
                "min_distance": self.min_distance,
                "max_energy_jump": self.max_energy_jump,
                "seed": int(rng.integers(1 << 31)),
            }
            out.append(MDTask(atoms, calculator, params, t))
        return out

    def run(
        self,
        starts: list[ase.Atoms],
        calculator: CalculatorSpec,
        executor: TaskExecutor,
        seed: int = 0,
    ) -> tuple[list[ase.Atoms], list[dict[str, Any]]]:
        """Run every trajectory; returns the kept frames and one summary per trajectory."""
        results = executor.map(run_md_task, self.tasks(starts, calculator, seed), "surrogate MD")
        frames: list[ase.Atoms] = []
        summaries: list[dict[str, Any]] = []
        for result in results:
            if not result.ok:
                summaries.append({"trajectory": result.index, "error": result.error})
                continue
            outcome: TrajectoryOutcome = result.value
            kept = outcome.frames
            if outcome.stopped:
                kept = kept[: max(len(kept) - self.prune_frames, 0)]
            frames.extend(kept)
            summaries.append(
                {
                    "trajectory": outcome.trajectory,
                    "steps": outcome.steps,
                    "stopped": outcome.stopped,
                    "frames": len(kept),
                    "steps_per_second": outcome.steps_per_second,
                }
            )
        return frames, summaries
