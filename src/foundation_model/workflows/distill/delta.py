"""Step 7: delta learning, correcting the base student with the oracle-labelled structures.

The surrogate data set is large but carries the teacher's systematic error; the oracle set
is small and exact. The corrected student is refitted on both with oracle rows weighted far
above surrogate rows, and the per-element reference energies are moved by the part of the
oracle-minus-student energy residual that is linear in the composition (a constant shift
per element, which the ACE basis cannot represent). A ridge term pulls the coefficients
towards the base student so that few oracle rows do not destabilise unrelated parts.
"""

from __future__ import annotations

from typing import Any

import ase
import numpy as np

from foundation_model.utils.class_path import ClassPathSerializable
from foundation_model.workflows.distill.ace_basis import (
    DesignRows,
    fit_reference_energies,
    predict_rows,
    weighted_solve,
)
from foundation_model.workflows.distill.student import ACEStudent


class DeltaLearner(ClassPathSerializable):
    """Refits the student on surrogate plus oracle rows (oracle rows weighted up).

    Args:
        oracle_weight: weight of an oracle row relative to a surrogate row (e.g. 100).
        surrogate_weight: weight of a surrogate row.
        energy_weight: extra weight of energy-per-atom rows (as in the student fit).
        ridge: pull towards the base student's coefficients (relative strength).
        shift_reference: move the per-element reference energies to the oracle's.
    """

    def __init__(
        self,
        oracle_weight: float = 100.0,
        surrogate_weight: float = 1.0,
        energy_weight: float = 10.0,
        ridge: float = 1e-6,
        shift_reference: bool = True,
    ) -> None:
        if oracle_weight <= 0 or surrogate_weight < 0:
            raise ValueError("oracle_weight must be > 0 and surrogate_weight >= 0.")
        self.oracle_weight = float(oracle_weight)
        self.surrogate_weight = float(surrogate_weight)
        self.energy_weight = float(energy_weight)
        self.ridge = float(ridge)
        self.shift_reference = bool(shift_reference)

    def reference_shift(self, base: ACEStudent, oracle_rows: DesignRows) -> np.ndarray:
        """Per-element energy shift (eV) fitted on oracle minus base-student energies."""
        if not self.shift_reference:
            return np.zeros(len(base.elements))
        predicted, _ = predict_rows(oracle_rows, base.coefficients, base.reference)
        return fit_reference_energies(oracle_rows.composition, oracle_rows.energies - predicted)

    def fit(
        self, base: ACEStudent, surrogate_rows: DesignRows, oracle_rows: DesignRows
    ) -> ACEStudent:
        """The corrected student.

        Args:
            base: the base student (fitted on ``surrogate_rows``).
            surrogate_rows: rows of the surrogate-labelled structures.
            oracle_rows: rows of the oracle-labelled structures.
        """
        shift = self.reference_shift(base, oracle_rows)
        reference = base.reference + shift
        # the surrogate's per-element offset is the part the oracle corrects
        surrogate = surrogate_rows.with_reference(reference - shift)
        oracle = oracle_rows.with_reference(reference)
        blocks = [(oracle, self.oracle_weight * self.energy_weight, self.oracle_weight)]
        if self.surrogate_weight > 0:
            blocks.append(
                (surrogate, self.surrogate_weight * self.energy_weight, self.surrogate_weight)
            )
        coefficients = weighted_solve(blocks, self.ridge, prior=base.coefficients)
        return base.with_coefficients(coefficients, reference)


def force_mae(student: ACEStudent, rows: DesignRows) -> float:
    """Mean absolute force-component error (eV/Å) of ``student`` on labelled ``rows``."""
    _, forces = predict_rows(rows, student.coefficients, student.reference)
    target = rows.target[rows.n_structures :].reshape(-1, 3)
    return float(np.abs(forces - target).mean())


def energy_mae_per_atom(student: ACEStudent, rows: DesignRows) -> float:
    """Mean absolute energy error per atom (eV/atom) of ``student`` on labelled ``rows``."""
    energies, _ = predict_rows(rows, student.coefficients, student.reference)
    return float(np.abs((energies - rows.energies) / rows.n_atoms).mean())


def structures_summary(structures: list[ase.Atoms]) -> dict[str, Any]:
    """Count and atoms of a structure list (for reports)."""
    return {"structures": len(structures), "atoms": int(sum(len(a) for a in structures))}
