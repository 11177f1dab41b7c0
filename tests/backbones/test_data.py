"""Data contract: readers, label lookup and clear errors for bad inputs."""

from __future__ import annotations

import ase.io
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator

from foundation_model.backbones import EnergyProperty, ForcesProperty, GraphProperty, StressProperty
from foundation_model.backbones.data import AtomsDataset, extract_labels, read_structures

SCHEMA = [EnergyProperty(), ForcesProperty(), StressProperty()]


def test_extxyz_round_trip_keeps_labels(emt_file, emt_structures):
    structures = read_structures(emt_file)
    assert len(structures) == len(emt_structures)
    labels = extract_labels(structures[0], SCHEMA)
    ref = emt_structures[0].calc.results
    assert labels["energy"] == pytest.approx(ref["energy"])
    np.testing.assert_allclose(labels["forces"], ref["forces"], atol=1e-7)
    assert labels["stress"].shape == (3, 3)
    assert labels["stress"][1, 2] == pytest.approx(ref["stress"][3])  # Voigt yz


def test_ase_database_and_lists(tmp_path, emt_structures):
    from ase.db import connect

    path = tmp_path / "set.db"
    with connect(path) as db:
        for atoms in emt_structures[:3]:
            db.write(atoms, band_gap=1.5, data={"charges": np.zeros(len(atoms))})
    structures = read_structures(path)
    assert len(structures) == 3
    assert structures[0].info["band_gap"] == 1.5
    assert structures[0].arrays["charges"].shape == (len(structures[0]),)
    assert extract_labels(structures[1], SCHEMA)["forces"].shape == (len(structures[1]), 3)
    assert len(read_structures(emt_structures[:2])) == 2
    assert len(read_structures(AtomsDataset(emt_structures[:5]))) == 5


def test_labels_from_info_arrays_and_calculator():
    atoms = bulk("Cu", "fcc", 3.6)
    atoms.info["energy"] = -3.5
    atoms.info["stress"] = np.arange(6.0)
    atoms.arrays["forces"] = np.ones((1, 3))
    atoms.info["gap"] = 0.2
    labels = extract_labels(atoms, [*SCHEMA, GraphProperty("gap")])
    assert labels["energy"] == -3.5 and labels["gap"] == pytest.approx(0.2)
    np.testing.assert_allclose(labels["stress"], [[0, 5, 4], [5, 1, 3], [4, 3, 2]])
    other = bulk("Al", "fcc", 4.05)
    other.calc = SinglePointCalculator(other, energy=-1.0, forces=np.zeros((1, 3)))
    assert extract_labels(other, [EnergyProperty(key="energy")])["energy"] == -1.0


def test_stress_of_a_slab_or_molecule_is_not_a_label():
    """A stored stress (zeros from a molecular code) on a structure without a 3D cell is
    not read: trained on, the model's stress of a volume-less cluster (thousands of
    eV/Å³ with SevenNet) swamped the loss."""
    from ase.build import fcc111, molecule

    slab = fcc111("Cu", size=(2, 2, 2), vacuum=5.0)  # pbc = (True, True, False)
    mol = molecule("H2O")
    for atoms in (slab, mol):
        atoms.calc = SinglePointCalculator(
            atoms, energy=-1.0, forces=np.zeros((len(atoms), 3)), stress=np.zeros(6)
        )
        labels = extract_labels(atoms, SCHEMA, allow_missing=True)
        assert "stress" not in labels and labels["energy"] == -1.0
    bulk_cu = bulk("Cu", "fcc", 3.6)
    bulk_cu.calc = SinglePointCalculator(bulk_cu, energy=-1.0, stress=np.ones(6))
    assert "stress" in extract_labels(bulk_cu, SCHEMA, allow_missing=True)


def test_a_class_label_must_be_a_class_index():
    phase = GraphProperty("phase", task_type="classification", num_classes=2)
    atoms = bulk("Cu", "fcc", 3.6)
    atoms.info["phase"] = 1.0  # a float that is a class index is fine
    assert extract_labels(atoms, [phase], "0 of a.extxyz")["phase"] == 1
    for bad in (0.4, -1, 2):  # never truncated to class 0 or left to fail mid-training
        atoms.info["phase"] = bad
        with pytest.raises(ValueError, match=r"not a class index 0\.\.1 \(num_classes: 2\)"):
            extract_labels(atoms, [phase], "0 of a.extxyz")


def test_missing_label_is_a_clear_error():
    atoms = bulk("Cu", "fcc", 3.6)
    with pytest.raises(ValueError, match="has no label 'energy'"):
        extract_labels(atoms, SCHEMA, "#7 ")


def test_bad_files(tmp_path):
    empty = tmp_path / "empty.extxyz"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty"):
        read_structures(empty)
    with pytest.raises(FileNotFoundError, match="not found"):
        read_structures(tmp_path / "missing.extxyz")
    with pytest.raises(FileNotFoundError, match=r"\(check data\.init_args\.predict_path\)"):
        read_structures(tmp_path / "missing.extxyz", "predict_path")
    with pytest.raises(ValueError, match="No structure"):
        read_structures([])
    garbage = tmp_path / "bad.xyz"
    garbage.write_text("not a number\nfoo\n")
    with pytest.raises(ValueError, match="Cannot read structures"):
        read_structures(garbage)


def test_written_file_is_readable_by_ase(tmp_path, emt_structures):
    path = tmp_path / "x.extxyz"
    ase.io.write(path, emt_structures[:2], format="extxyz")
    assert len(read_structures(str(path))) == 2


def test_unknown_element_names_file_structure_and_fix(tmp_path, emt_structures):
    path = tmp_path / "typo.extxyz"
    ase.io.write(path, emt_structures[:2], format="extxyz")
    with path.open("a") as f:
        f.write('2\nLattice="5 0 0 0 5 0 0 0 5" Properties=species:S:1:pos:R:3 pbc="T T T"\n')
        f.write("Cu 0 0 0\nXx 1.5 1.5 0\n")
    with pytest.raises(ValueError) as info:
        read_structures(path)
    message = str(info.value)
    assert str(path) in message and "structure 2 has the unknown element 'Xx'" in message
    assert "Replace it with a chemical symbol" in message


def test_periodic_direction_without_cell_vector_is_one_clear_error(tmp_path, emt_structures):
    """pbc=True with an empty cell (or a zero cell vector) is named at load time, before any
    neighbour list or stress inverts the cell (SevenNet said only 'Singular matrix')."""
    from ase.build import molecule

    from foundation_model.backbones import SchNetBackbone
    from foundation_model.backbones.checks import check_datamodule
    from foundation_model.backbones.datamodule import MLIPDataModule

    methane = molecule("CH4")
    methane.pbc = True
    flat = bulk("Cu", "fcc", 3.6, cubic=True)
    flat.cell[2] = 0.0
    backbone = SchNetBackbone(hidden=8)
    for bad, problem in (
        (methane, r"\(CH4\): pbc=True but the cell is empty; set a cell or pbc=False\.$"),
        (flat, r"\(Cu4\): pbc=\[True, True, True\] but the cell vector c is zero; set that"),
    ):
        path = tmp_path / "bad.extxyz"
        ase.io.write(path, [bad], format="extxyz")
        dm = MLIPDataModule(emt_structures, predict_path=str(path))
        with pytest.raises(ValueError, match=rf"^Structure 0 of {path} {problem}"):
            check_datamodule(dm, "predict", SCHEMA, backbone)
