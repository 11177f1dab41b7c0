"""MLIPCalculator through ASE, and MD with it."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress

from foundation_model.backbones import MLIPCalculator, MLIPFineTuneModule, SchNetBackbone, run_md


@pytest.fixture()
def calc() -> MLIPCalculator:
    module = MLIPFineTuneModule(
        SchNetBackbone(cutoff=4.0, hidden=16, num_interactions=2, num_rbf=12)
    )
    module.reference.set(np.where(np.arange(119) == 29, -3.5, 0.0))
    return MLIPCalculator(module.double(), device="cpu")


@pytest.fixture()
def cell() -> Atoms:
    atoms = bulk("Cu", "fcc", 3.6, cubic=True) * (2, 1, 1)
    atoms.rattle(0.05, seed=0)
    return atoms


def test_results_match_numerical_derivatives(calc, cell):
    cell.calc = calc
    energy = cell.get_potential_energy()
    assert calc.results["free_energy"] == energy
    assert cell.get_forces().shape == (8, 3)
    np.testing.assert_allclose(cell.get_forces(), calculate_numerical_forces(cell, 1e-4), atol=1e-6)
    stress = cell.get_stress()
    assert stress.shape == (6,)  # Voigt xx yy zz yz xz xy, eV/Å³
    np.testing.assert_allclose(stress, calculate_numerical_stress(cell, 1e-5), atol=1e-7)


def test_reference_energy_is_added(calc, cell):
    cell.calc = calc
    raw = calc.module.backbone_energies([cell])[0]
    assert cell.get_potential_energy() == pytest.approx(raw - 3.5 * 8, abs=1e-8)


def test_molecule_without_cell_has_no_stress(calc):
    dimer = Atoms("Cu2", positions=[[0, 0, 0], [0, 0, 2.3]])
    dimer.calc = calc
    forces = dimer.get_forces()
    np.testing.assert_allclose(forces.sum(0), 0.0, atol=1e-10)
    assert "stress" not in calc.results


def test_langevin_and_nve_md(calc, cell):
    nvt = run_md(cell, calc, "langevin", temperature_K=300, steps=12, sample_interval=4, seed=1)
    assert nvt.steps == 12 and not nvt.stopped and len(nvt.frames) == 3
    assert nvt.frames[0].arrays["forces"].shape == (8, 3)
    nve = run_md(cell, calc, "nve", temperature_K=300, steps=20, sample_interval=1, seed=1)
    totals = [f.info["energy"] + f.get_kinetic_energy() for f in nve.frames]
    assert np.ptp(totals) < 1e-3 * len(cell)  # energy conservation with conservative forces
    assert nve.steps_per_second > 0


def test_md_stops_on_collisions(calc):
    atoms = bulk("Cu", "fcc", 3.6, cubic=True)
    atoms.positions[1] = atoms.positions[0] + [0.3, 0, 0]
    result = run_md(atoms, calc, steps=5, min_distance=0.5)
    assert result.stopped.startswith("step 1: atoms closer")


def test_bad_constructor_and_checkpoint(tmp_path):
    with pytest.raises(TypeError, match="MLIPFineTuneModule or MLIPBackbone"):
        MLIPCalculator(object())
    with pytest.raises(FileNotFoundError):
        MLIPCalculator.from_checkpoint(tmp_path / "nope.ckpt")


def test_checkpoint_that_is_not_a_checkpoint_is_one_clear_error(tmp_path, cell):
    """A structure file, an empty file or a truncated checkpoint given as the checkpoint."""
    import torch
    from ase.io import write

    from foundation_model.utils.checkpoint import CheckpointError

    text = tmp_path / "cell.extxyz"
    write(text, cell, format="extxyz")
    empty = tmp_path / "empty.ckpt"
    empty.write_bytes(b"")
    whole = tmp_path / "whole.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(64)}}, whole)
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    for path, problem in (
        (text, "not a PyTorch checkpoint"),
        (empty, "is empty"),
        (truncated, "truncated or not a PyTorch checkpoint"),
    ):
        with pytest.raises(CheckpointError, match=problem) as info:
            MLIPCalculator.from_checkpoint(path, device="cpu")
        message = str(info.value)
        assert str(path) in message and "\n" not in message


def test_periodic_structure_without_cell_is_one_clear_error(calc):
    """Not numpy's 'Singular matrix': the structure, the problem and the fix."""
    dimer = Atoms("Cu2", positions=[[0, 0, 0], [0, 0, 2.3]], pbc=True)
    dimer.calc = calc
    with pytest.raises(ValueError, match=r"\(Cu2\): pbc=True but the cell is empty; set a cell"):
        dimer.get_potential_energy()
    wire = Atoms("Cu2", positions=[[0, 0, 0], [0, 0, 2.3]], cell=[0, 0, 4.6], pbc=[1, 1, 1])
    wire.calc = calc
    with pytest.raises(ValueError, match=r"cell vector a, b is zero"):
        wire.get_potential_energy()
