"""ACE student (linear pyace fit) and delta learning."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones
from ase.calculators.mixing import SumCalculator

from foundation_model.workflows.distill.ace_basis import ACEBasisSpec
from foundation_model.workflows.distill.delta import DeltaLearner, force_mae
from foundation_model.workflows.distill.student import (
    ACEStudent,
    ACEStudentTrainer,
    student_calculator,
)

pytest.importorskip("pyace")
SMALL = ACEBasisSpec(cutoff=4.5, nradmax_by_orders=[6, 3, 2], lmax_by_orders=[0, 2, 1])


def test_ace_fit_beats_constant_and_runs_in_ase(emt_train, emt_test, tmp_path) -> None:
    student = ACEStudentTrainer(SMALL).fit(emt_train)
    directory = tmp_path / "student"
    student.save(directory, active_set_structures=emt_train)
    assert {p.name for p in directory.iterdir()} >= {"student.yace", "student.asi"}
    target = np.concatenate([a.arrays["forces"] for a in emt_test])
    constant = np.abs(target - target.mean(0)).mean()  # best constant force predictor
    for graded in (False, True):
        calc = student_calculator(directory, active_set=graded)
        pred, e_err = [], []
        for atoms in emt_test:
            atoms = atoms.copy()
            atoms.calc = calc
            pred.append(atoms.get_forces())
            e_err.append(abs(atoms.get_potential_energy() - atoms.info["energy"]) / len(atoms))
            if graded:
                gamma = calc.results["gamma"]
                assert gamma.shape == (len(atoms),) and np.all(gamma >= 0)
        mae = np.abs(np.concatenate(pred) - target).mean()
        assert mae < 0.3 * constant, (mae, constant)
        assert np.mean(e_err) < 0.01  # reference energies are part of the potential
    # a squeezed cell lies outside the training data: a larger extrapolation grade
    calc = student_calculator(directory)
    squeezed = emt_test[0].copy()
    squeezed.set_cell(squeezed.cell * 0.85, scale_atoms=True)
    squeezed.calc = calc
    squeezed.get_potential_energy()
    assert calc.results["gamma"].max() > 1.5
    reloaded = ACEStudent.load(directory)
    assert np.allclose(reloaded.coefficients, student.coefficients)
    foreign = emt_test[0].copy()
    foreign[0].symbol = "Ni"  # not in the student's basis
    for graded in (False, True):
        foreign.calc = student_calculator(directory, active_set=graded)
        with pytest.raises(ValueError, match=r"knows only \['Al', 'Cu'\].*\['Ni'\]"):
            foreign.get_potential_energy()


def _shifted(structures, shift_per_atom=0.05):
    """A 'different reference method': EMT plus a weak Lennard-Jones term plus a shift."""
    out = []
    for atoms in structures:
        atoms = atoms.copy()
        atoms.calc = SumCalculator([EMT(), LennardJones(sigma=2.3, epsilon=0.02, rc=4.5)])
        atoms.info["energy"] = atoms.get_potential_energy() + shift_per_atom * len(atoms)
        atoms.arrays["forces"] = atoms.get_forces()
        atoms.calc = None
        out.append(atoms)
    return out


def test_delta_learning_moves_towards_shifted_reference(emt_train, emt_test) -> None:
    trainer = ACEStudentTrainer(SMALL)
    base = trainer.fit(emt_train)  # the 'surrogate' data
    oracle = _shifted(emt_train[:6])
    held_out = _shifted(emt_test)
    surrogate_rows = trainer.rows(base, emt_train)
    oracle_rows = trainer.rows(base, oracle)
    test_rows = trainer.rows(base, held_out)
    corrected = DeltaLearner(oracle_weight=100.0).fit(base, surrogate_rows, oracle_rows)
    assert force_mae(corrected, test_rows) < 0.8 * force_mae(base, test_rows)
    e_base = np.abs(base.reference - corrected.reference)
    assert np.allclose(e_base, 0.05, atol=0.02)  # the shift went into the reference energies
