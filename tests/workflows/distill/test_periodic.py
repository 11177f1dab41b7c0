"""Slabs and wires for the ACE student: periodic equivalents, rows that never fail silently."""

from __future__ import annotations

import ase
import numpy as np
import pandas as pd
import pytest
from ase.build import bulk, fcc111
from ase.calculators.emt import EMT

from foundation_model.workflows.distill.ace_basis import ACEBasisSpec, design_rows
from foundation_model.workflows.distill.periodic import ace_structure, vacuum_gap
from foundation_model.workflows.distill.student import ACEStudentTrainer, student_calculator

pytest.importorskip("pyace")
SPEC = ACEBasisSpec(cutoff=4.5, nradmax_by_orders=[4, 2], lmax_by_orders=[0, 1])


def _labelled(atoms: ase.Atoms) -> ase.Atoms:
    atoms = atoms.copy()
    atoms.calc = EMT()
    atoms.info["energy"] = atoms.get_potential_energy()
    atoms.arrays["forces"] = atoms.get_forces()
    atoms.calc = None
    return atoms


def _slab(seed: int = 0, vacuum: float = 5.0) -> ase.Atoms:
    slab = fcc111("Pt", (2, 2, 3), vacuum=vacuum)
    slab.rattle(0.05, seed=seed)
    return _labelled(slab)


def _same_slab_other_cells(slab: ase.Atoms) -> dict[str, ase.Atoms]:
    """The slab with a wider vacuum, without an open cell vector, with a too thin one."""
    wider = slab.copy()
    wider.cell[2] = [0.0, 0.0, slab.cell[2, 2] + 8.0]
    missing = slab.copy()
    missing.cell[2] = [0.0, 0.0, 0.0]
    thin = slab.copy()
    thin.cell[2] = [0.0, 0.0, 6.0]  # 4.5 Å of atoms: images 1.5 Å apart if taken literally
    return {"wider": wider, "missing": missing, "thin": thin}


def test_a_slab_has_the_rows_of_the_same_slab_with_more_vacuum() -> None:
    basis = SPEC.build(["Pt"])
    slab = _slab()
    reference = design_rows(basis, [slab], ["Pt"]).matrix
    assert np.all(np.abs(reference).sum(1) > 0)  # no zero row: every structure was evaluated
    for name, other in _same_slab_other_cells(slab).items():
        rows = design_rows(basis, [other], ["Pt"]).matrix
        assert np.allclose(rows, reference, rtol=0, atol=1e-10), name
    # the padding is what makes the thin cell right: taken literally it is another structure
    thin = _same_slab_other_cells(slab)["thin"]
    assert vacuum_gap(thin.cell.array, thin.positions, 2) < SPEC.cutoff
    literal = thin.copy()
    literal.pbc = True
    assert not np.allclose(design_rows(basis, [literal], ["Pt"]).matrix, reference, atol=1e-6)


def test_a_wire_is_padded_perpendicular_to_its_axis() -> None:
    wire = ase.Atoms("Pt4", positions=[[0.4 + 2.6 * i, 0.1 * i, 0.0] for i in range(4)])
    wire.set_cell([10.4, 0.0, 0.0])  # periodic along x only, no other cell vector
    wire.pbc = [True, False, False]
    wire = _labelled(wire)
    wide = wire.copy()
    wide.set_cell([[10.4, 0, 0], [0, 30.0, 0], [0, 0, 30.0]])
    periodic = ace_structure(wire, SPEC.cutoff)
    assert periodic.pbc.all() and np.allclose(periodic.positions, wire.positions)
    assert min(vacuum_gap(periodic.cell.array, periodic.positions, d) for d in (1, 2)) > 4.5
    basis = SPEC.build(["Pt"])
    rows = design_rows(basis, [wire, wide], ["Pt"])
    assert np.all(np.abs(rows.matrix[:2]).sum(1) > 0)
    assert np.allclose(rows.matrix[0], rows.matrix[1], atol=1e-10)


def test_rows_pyace_cannot_build_raise_naming_the_structure() -> None:
    basis = SPEC.build(["Pt"])
    good = _labelled(bulk("Pt", "fcc", a=3.92, cubic=True))
    flat = good.copy()  # "periodic" along z without a z cell vector
    flat.cell[2] = [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match=r"pyace could not evaluate structure 1 \(Pt4") as err:
        design_rows(basis, [good, flat], ["Pt"])
    assert "\n" not in str(err.value) and "fix or remove that structure" in str(err.value)
    no_plane = _slab()
    no_plane.cell[1] = no_plane.cell[0]  # two parallel periodic vectors
    with pytest.raises(ValueError, match=r"structure 0: .*own cell vector\.$"):
        design_rows(basis, [no_plane], ["Pt"])


def test_rows_are_those_of_pyace_linear_dataset() -> None:
    """The in-process rows equal pyace's own (multiprocess) design matrix on bulk cells."""
    from pyace.linearacefit import LinearACEDataset

    cells = []
    for i in range(3):
        atoms = bulk("Cu", "fcc", 3.65, cubic=True) * (2, 1, 1)
        atoms.symbols[[i, 4]] = "Al"
        atoms.rattle(0.05, seed=i)
        cells.append(_labelled(atoms))
    basis = SPEC.build(["Al", "Cu"])
    ours = design_rows(basis, cells, ["Al", "Cu"])
    frame = pd.DataFrame(
        {
            "ase_atoms": [ase.Atoms(a.numbers, a.positions, cell=a.cell, pbc=True) for a in cells],
            "energy": [a.info["energy"] for a in cells],
            "forces": [a.arrays["forces"] for a in cells],
        }
    )
    theirs = LinearACEDataset(basis, frame)
    assert np.allclose(ours.matrix, theirs.get_design_matrix(max_workers=1), atol=1e-12)
    assert np.allclose(ours.target[3:], theirs.get_target_vector()[3:])


def test_the_student_runs_on_slabs(tmp_path) -> None:
    data = [_slab(seed) for seed in range(6)]
    data += [_labelled(bulk("Pt", "fcc", a=3.92, cubic=True) * (2, 1, 1)) for _ in range(2)]
    for i, atoms in enumerate(data[6:]):
        atoms.rattle(0.05, seed=100 + i)
        data[6 + i] = _labelled(atoms)
    student = ACEStudentTrainer(SPEC).fit(data)
    student.save(tmp_path, active_set_structures=data)
    assert (tmp_path / "student.asi").is_file()
    slab = _slab(seed=42)
    results = {}
    for name, atoms in {"slab": slab, **_same_slab_other_cells(slab)}.items():
        atoms = atoms.copy()
        atoms.calc = student_calculator(tmp_path)
        results[name] = (atoms.get_potential_energy(), atoms.get_forces())
        gamma = atoms.calc.results["gamma"]
        assert gamma.shape == (len(atoms),) and np.all(np.isfinite(gamma)) and gamma.max() > 0
    for name, (energy, forces) in results.items():
        assert energy == pytest.approx(results["slab"][0], abs=1e-9), name
        assert np.allclose(forces, results["slab"][1], atol=1e-9), name
    # the fit is meaningful on a slab: much closer to EMT than the constant predictor
    err = np.abs(results["slab"][1] - slab.arrays["forces"]).mean()
    assert err < 0.5 * np.abs(slab.arrays["forces"]).mean()


def test_gamma_is_nan_without_an_active_set(emt_train, tmp_path) -> None:
    student = ACEStudentTrainer(SPEC).fit(emt_train[:10])
    student.save(tmp_path)  # no active set structures: no student.asi
    atoms = emt_train[0].copy()
    for graded in (True, False):
        atoms.calc = student_calculator(tmp_path, active_set=graded)
        atoms.get_potential_energy()
        gamma = atoms.calc.results["gamma"]
        assert gamma.shape == (len(atoms),) and np.all(np.isnan(gamma))
