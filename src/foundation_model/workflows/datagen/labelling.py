"""Label structures with a calculator spec: energy, forces and stress in ASE units.

:func:`label_structure` is the worker function of :meth:`TaskExecutor.map` for a
:class:`LabelTask`; the calculator is built in the worker from its spec (late binding).
Labels go to ``atoms.info["energy"]``, ``atoms.info["stress"]`` (Voigt, eV/Å³) and
``atoms.arrays["forces"]`` (eV/Å), the keys ``MLIPDataModule`` reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import ase
import numpy as np

from foundation_model.workflows.datagen.calculators import (
    CalculatorSpec,
    cached_calculator,
    forget_calculator,
)


@dataclass
class LabelTask:
    """One structure to label.

    Attributes:
        atoms: the structure, without a calculator attached.
        calculator: spec of the labelling calculator.
        stress: also compute the stress (only for 3D-periodic cells).
    """

    atoms: ase.Atoms
    calculator: CalculatorSpec
    stress: bool = True


def attach_labels(atoms: ase.Atoms, stress: bool = True) -> ase.Atoms:
    """Evaluate the attached calculator and store its labels on a detached copy.

    Args:
        atoms: a structure with a calculator attached.
        stress: compute the stress when the cell is 3D periodic.

    Returns:
        A copy without calculator, labels in ``info``/``arrays``.
    """
    out = atoms.copy()
    out.calc = None
    out.info["energy"] = float(atoms.get_potential_energy())
    out.arrays["forces"] = np.asarray(atoms.get_forces(), dtype=float)
    if stress and bool(atoms.pbc.all()) and atoms.cell.rank == 3:
        out.info["stress"] = np.asarray(atoms.get_stress(voigt=True), dtype=float)  # eV/Å³
    return out


def label_structure(task: LabelTask) -> ase.Atoms:
    """Label one structure (runs in a worker)."""
    atoms = task.atoms.copy()
    atoms.calc = cached_calculator(task.calculator)
    try:
        labelled = attach_labels(atoms, stress=task.stress)
    except Exception:
        forget_calculator(task.calculator)  # a retry gets a fresh calculator
        raise
    labelled.info["label_calculator"] = task.calculator.label
    return labelled
