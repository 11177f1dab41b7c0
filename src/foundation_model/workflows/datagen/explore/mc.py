"""Monte Carlo atom swaps with the Metropolis rule, with charge-swap prevention."""

from __future__ import annotations

from dataclasses import dataclass

import ase
import numpy as np
from ase import units


@dataclass
class SwapStats:
    """Counts of MC swap attempts."""

    attempted: int = 0
    accepted: int = 0

    @property
    def acceptance(self) -> float:
        return self.accepted / self.attempted if self.attempted else 0.0


def swappable(atoms: ase.Atoms, i: int, j: int, charge_rule: str = "sign") -> bool:
    """Whether atoms ``i`` and ``j`` may swap.

    They must be different elements. With initial charges (ionic systems) the rule
    prevents cation-anion swaps: ``sign`` needs charges of the same sign, ``equal`` the
    same charge, ``none`` allows every swap.
    """
    if atoms.numbers[i] == atoms.numbers[j]:
        return False
    q = atoms.get_initial_charges()
    if charge_rule == "none" or (q[i] == 0 and q[j] == 0):
        return True
    if charge_rule == "equal":
        return bool(np.isclose(q[i], q[j]))
    return bool(q[i] * q[j] > 0)


def choose_pair(
    atoms: ase.Atoms, rng: np.random.Generator, charge_rule: str = "sign", tries: int = 100
) -> tuple[int, int] | None:
    """A random swappable pair, or ``None`` when none was found in ``tries`` draws."""
    if len(set(atoms.numbers.tolist())) < 2:
        return None
    for _ in range(tries):
        i, j = (int(x) for x in rng.choice(len(atoms), 2, replace=False))
        if swappable(atoms, i, j, charge_rule):
            return i, j
    return None


def metropolis_accept(delta_e: float, temperature_K: float, u: float) -> bool:
    """Accept when ``delta_e <= 0`` or ``u < exp(-delta_e / kT)``."""
    if delta_e <= 0:
        return True
    return bool(u < np.exp(-delta_e / (units.kB * temperature_K)))


def attempt_swap(
    atoms: ase.Atoms, i: int, j: int, temperature_K: float, rng: np.random.Generator
) -> tuple[bool, float]:
    """Swap the positions of atoms ``i`` and ``j``; keep or undo it by Metropolis.

    Momenta and charges stay with their atoms. ``rng.random()`` is drawn only when the
    energy goes up. Returns ``(accepted, delta_e)``.
    """
    e0 = atoms.get_potential_energy()
    pos = atoms.get_positions()
    swapped = pos.copy()
    swapped[[i, j]] = pos[[j, i]]
    atoms.set_positions(swapped, apply_constraint=False)
    delta = float(atoms.get_potential_energy() - e0)
    u = float(rng.random()) if delta > 0 else 0.0
    if metropolis_accept(delta, temperature_K, u):
        return True, delta
    atoms.set_positions(pos, apply_constraint=False)
    return False, delta


def mc_sweep(
    atoms: ase.Atoms,
    n_attempts: int,
    temperature_K: float,
    rng: np.random.Generator,
    charge_rule: str = "sign",
) -> SwapStats:
    """``n_attempts`` swap attempts."""
    stats = SwapStats()
    for _ in range(n_attempts):
        pair = choose_pair(atoms, rng, charge_rule)
        if pair is None:
            break
        accepted, _ = attempt_swap(atoms, *pair, temperature_K, rng)
        stats.attempted += 1
        stats.accepted += int(accepted)
    return stats
