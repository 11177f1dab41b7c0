"""Evaluation of the distilled potentials against the oracle test set, and student MD.

* :func:`model_errors` / :func:`calculator_errors` - energy MAE per atom and force MAE of a
  fine-tuned module or any ASE calculator on labelled structures.
* :meth:`Evaluation.student_md` - NVT with the student (guards on), the extrapolation grade
  ``gamma`` of every sampled frame and the MD speed.
"""

from __future__ import annotations

from typing import Any

import ase
import numpy as np

from foundation_model.utils.class_path import ClassPathSerializable


def _errors(pred_e, pred_f, structures) -> dict[str, Any]:
    n = np.array([len(a) for a in structures])
    target_e = np.array([float(a.info["energy"]) for a in structures])
    target_f = np.concatenate([a.arrays["forces"] for a in structures])
    forces = np.concatenate(pred_f)
    return {
        "energy_mae_per_atom": float(np.abs((np.asarray(pred_e) - target_e) / n).mean()),
        "force_mae": float(np.abs(forces - target_f).mean()),
        "n_structures": len(structures),
        "forces_pred": forces.reshape(-1).tolist(),
        "forces_true": target_f.reshape(-1).tolist(),
    }


def model_errors(module: Any, structures: list[ase.Atoms]) -> dict[str, Any]:
    """Errors of a fine-tuned ``MLIPFineTuneModule`` (eV/atom, eV/Å) with parity data."""
    from foundation_model.workflows.distill.teacher import predict

    energies, forces = predict(module, structures)
    return _errors(energies, forces, structures)


def calculator_errors(calc: Any, structures: list[ase.Atoms]) -> dict[str, Any]:
    """Errors of an ASE calculator (eV/atom, eV/Å) with parity data."""
    energies, forces = [], []
    for atoms in structures:
        atoms = ase.Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        atoms.calc = calc
        energies.append(atoms.get_potential_energy())
        forces.append(atoms.get_forces())
    return _errors(energies, forces, structures)


class Evaluation(ClassPathSerializable):
    """Settings of the final evaluation.

    Args:
        md_steps: NVT steps with the student (stability check).
        temperature_K: MD temperature.
        timestep_fs: MD time step.
        repeat: supercell of the MD start structure (a test structure) per axis.
        speed_steps: steps timed for the teacher-vs-student MD speed.
        max_force: MD guard (eV/Å).
        min_distance: MD guard (Å).
        max_energy_jump: MD guard (eV/atom per step).
    """

    def __init__(
        self,
        md_steps: int = 200,
        temperature_K: float = 600.0,
        timestep_fs: float = 1.0,
        repeat: list[int] | None = None,
        speed_steps: int = 10,
        max_force: float = 20.0,
        min_distance: float = 0.6,
        max_energy_jump: float = 0.5,
    ) -> None:
        self.md_steps = int(md_steps)
        self.temperature_K = float(temperature_K)
        self.timestep_fs = float(timestep_fs)
        self.repeat = list(repeat or [1, 1, 1])
        self.speed_steps = int(speed_steps)
        self.max_force = float(max_force)
        self.min_distance = float(min_distance)
        self.max_energy_jump = float(max_energy_jump)

    def start_structure(self, structures: list[ase.Atoms]) -> ase.Atoms:
        """The MD start: the largest test structure, repeated when periodic."""
        atoms = max(structures, key=len)
        atoms = ase.Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        return atoms * tuple(self.repeat) if atoms.pbc.all() else atoms

    def student_md(self, calc: Any, start: ase.Atoms, seed: int) -> dict[str, Any]:
        """NVT with the student; guard outcome, temperature and ``gamma`` per frame."""
        from foundation_model.backbones.md import run_md

        interval = max(self.md_steps // 50, 1)
        result = run_md(
            start,
            calc,
            "langevin",
            temperature_K=self.temperature_K,
            timestep_fs=self.timestep_fs,
            steps=self.md_steps,
            sample_interval=interval,
            max_force=self.max_force,
            min_distance=self.min_distance,
            max_energy_jump=self.max_energy_jump,
            seed=seed,
        )
        gamma, energy = [], []
        for frame in result.frames:
            frame = frame.copy()
            frame.calc = calc
            energy.append(float(frame.get_potential_energy()) / len(frame))
            grade = calc.results.get("gamma")
            gamma.append(float(np.max(grade)) if grade is not None else float("nan"))
        return {
            "atoms": len(start),
            "steps": result.steps,
            "requested_steps": self.md_steps,
            "time_ps": result.steps * self.timestep_fs / 1000.0,
            "stopped": result.stopped,
            "steps_per_second": result.steps_per_second,
            "frame_steps": [int(f.info["md_step"]) for f in result.frames],
            "max_gamma": gamma,
            "energy_per_atom": energy,
        }

    def md_speed(self, calc: Any, start: ase.Atoms, seed: int) -> float:
        """MD steps per second of ``calc`` on ``start`` (after one warm-up step)."""
        from foundation_model.backbones.md import run_md

        run_md(start, calc, steps=1, sample_interval=1, seed=seed)
        result = run_md(
            start,
            calc,
            temperature_K=self.temperature_K,
            steps=self.speed_steps,
            sample_interval=self.speed_steps,
            max_force=1e9,
            seed=seed,
        )
        return result.steps_per_second
