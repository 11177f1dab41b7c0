"""Explosion guards: stop a trajectory that became unphysical."""

from __future__ import annotations

import ase
import numpy as np

from foundation_model.utils.class_path import ClassPathSerializable
from foundation_model.workflows.datagen.validation import closest_pair


class ExplosionGuard(ClassPathSerializable):
    """Checks each MD step for runaway forces, collapsing atoms and energy jumps.

    Args:
        max_force: largest allowed force component (eV/Å).
        min_distance_factor: atoms closer than this fraction of their covalent radii sum
            stop the run.
        max_energy_jump: largest allowed change of the potential energy per atom between two
            consecutive checks (eV/atom).
        distance_interval: check distances every this many calls (a neighbour list per step
            costs as much as a cheap potential); forces and energy are checked every call.
    """

    def __init__(
        self,
        max_force: float = 50.0,
        min_distance_factor: float = 0.4,
        max_energy_jump: float = 1.0,
        distance_interval: int = 5,
    ) -> None:
        if max_force <= 0 or min_distance_factor <= 0 or max_energy_jump <= 0:
            raise ValueError("ExplosionGuard: all thresholds must be > 0.")
        if distance_interval < 1:
            raise ValueError("ExplosionGuard: distance_interval must be >= 1.")
        self.max_force = float(max_force)
        self.min_distance_factor = float(min_distance_factor)
        self.max_energy_jump = float(max_energy_jump)
        self.distance_interval = int(distance_interval)

    def check(
        self, atoms: ase.Atoms, energy: float, previous_energy: float | None, step: int = 0
    ) -> str:
        """``""`` when the state is sane, else the reason to stop.

        Args:
            atoms: the structure (calculator attached).
            energy: its potential energy.
            previous_energy: energy at the previous check (``None`` at the start).
            step: MD step; distances are checked when it is a multiple of
                ``distance_interval``.
        """
        forces = atoms.get_forces()
        if not np.isfinite(forces).all() or not np.isfinite(energy):
            return "non-finite energy or forces"
        fmax = float(np.abs(forces).max()) if len(forces) else 0.0
        if fmax > self.max_force:
            return f"force {fmax:.1f} eV/Å > max_force {self.max_force}"
        if previous_energy is not None:
            jump = abs(energy - previous_energy) / len(atoms)
            if jump > self.max_energy_jump:
                return f"energy jump {jump:.3f} eV/atom > max_energy_jump {self.max_energy_jump}"
        if step % self.distance_interval:
            return ""
        pair = closest_pair(atoms, self.min_distance_factor)
        if pair is not None:
            return f"atoms {pair[1]} and {pair[2]} at {pair[0]:.2f} Å (collapse)"
        return ""
