"""MLIPDataModule: seeded random splits, predefined splits, separate files."""

from __future__ import annotations

import ase.io
import pytest

from foundation_model.backbones import MLIPDataModule
from foundation_model.backbones.datamodule import random_split_indices, structure_digest


def test_random_split_is_seeded_and_disjoint():
    a = random_split_indices(50, [0.8, 0.1, 0.1], seed=3)
    b = random_split_indices(50, [0.8, 0.1, 0.1], seed=3)
    c = random_split_indices(50, [0.8, 0.1, 0.1], seed=4)
    assert all((a[k] == b[k]).all() for k in a)
    assert any((a[k] != c[k]).any() for k in ("val", "test"))
    assert sorted(set(a["train"]) | set(a["val"]) | set(a["test"])) == list(range(50))
    assert (len(a["train"]), len(a["val"]), len(a["test"])) == (40, 5, 5)
    with pytest.raises(ValueError, match="no training set"):
        random_split_indices(3, [0.0, 1.0, 1.0], seed=0)


def test_predefined_splits(tmp_path, emt_structures):
    tagged = [a.copy() for a in emt_structures]
    for i, atoms in enumerate(tagged):
        atoms.calc = emt_structures[i].calc
        atoms.info["split"] = ["train", "train", "val", "test"][i % 4]
    dm = MLIPDataModule(tagged, split_key="split")
    parts = dm.load()
    assert [len(parts[s]) for s in ("train", "val", "test")] == [12, 6, 6]
    files = {}
    for name, sl in {"train": slice(0, 16), "val": slice(16, 20), "test": slice(20, 24)}.items():
        files[name] = tmp_path / f"{name}.extxyz"
        ase.io.write(files[name], emt_structures[sl], format="extxyz")
    dm = MLIPDataModule(str(files["train"]), str(files["val"]), str(files["test"]), batch_size=4)
    dm.setup("fit")
    assert [len(dm.structures[s]) for s in ("train", "val", "test")] == [16, 4, 4]
    batch = next(iter(dm.train_dataloader()))
    assert isinstance(batch, list) and len(batch) == 4  # no converter: lists of Atoms
    assert dm.locate("val", 3) == f"3 of {files['val']}"
    assert dm.locate("predict", 0) == f"0 of {files['test']}"  # predict falls back to test


def test_origins_of_a_random_split(emt_structures):
    dm = MLIPDataModule(emt_structures, split_fractions=[0.5, 0.25, 0.25], split_seed=1)
    parts = dm.load()
    for split in ("train", "val", "test"):
        name, indices = dm.origin(split)
        assert name == "the train_path list"
        assert [emt_structures[i] for i in indices] == parts[split]
    assert dm.locate("val", 2) == f"{dm.origin('val')[1][2]} of the train_path list"


def test_bad_split_key(emt_structures):
    with pytest.raises(ValueError, match="must be one of"):
        MLIPDataModule(emt_structures, split_key="nope").load()


def test_split_given_by_its_own_file_is_not_taken_from_train(emt_structures):
    """With val_path the train file keeps its validation share for training (and vice versa)."""
    extra = emt_structures[:6]
    parts = MLIPDataModule(emt_structures, val_path=extra).load()
    assert [len(parts[s]) for s in ("train", "val", "test")] == [21, 6, 3]
    parts = MLIPDataModule(emt_structures, test_path=extra).load()
    assert [len(parts[s]) for s in ("train", "val", "test")] == [21, 3, 6]
    parts = MLIPDataModule(emt_structures, val_path=extra, test_path=extra).load()
    assert [len(parts[s]) for s in ("train", "val", "test")] == [24, 6, 6]
    dm = MLIPDataModule(emt_structures, val_path=extra)
    dm.load()
    train, test = dm.origin("train")[1], dm.origin("test")[1]
    assert sorted([*train, *test]) == list(range(24))  # every structure of the file is used


def test_split_key_clashing_with_a_given_file_is_one_clear_error(emt_structures):
    tagged = [a.copy() for a in emt_structures]
    for i, atoms in enumerate(tagged):
        atoms.info["split"] = ["train", "val", "test"][i % 3]
    with pytest.raises(ValueError, match="2 structures have .*'val'.*relabel them 'train'"):
        MLIPDataModule(tagged[:6], split_key="split", val_path=tagged[6:8]).load()
    test_only = [a for a in tagged if a.info["split"] != "val"]
    parts = MLIPDataModule(test_only, split_key="split", val_path=tagged[:2]).load()
    assert [len(parts[s]) for s in ("train", "val", "test")] == [8, 2, 8]


def test_a_structure_has_one_digest_whatever_its_atom_order_or_lattice_shift():
    """Copies of a training structure are found under another atom order or moved by a
    lattice vector (an audit's permuted and shifted copies were missed); a real
    displacement is another structure."""
    import numpy as np
    from ase.build import bulk, fcc111, molecule

    crystal = bulk("Cu", "fcc", 3.6, cubic=True).repeat(2)
    crystal.rattle(0.05, seed=1)
    shifted = crystal.copy()
    shifted.positions += crystal.cell[0] - crystal.cell[2]
    permuted = crystal[np.random.default_rng(0).permutation(len(crystal))]
    moved = crystal.copy()
    moved.positions[0, 0] += 0.01
    digest = structure_digest(crystal)
    assert structure_digest(shifted) == digest == structure_digest(permuted)
    assert structure_digest(moved) != digest
    water = molecule("H2O")
    assert structure_digest(water[[2, 0, 1]]) == structure_digest(water)
    slab = fcc111("Cu", (2, 2, 2), vacuum=5.0)  # periodic along a and b only
    along_a = slab.copy()
    along_a.positions += slab.cell[0]
    lifted = slab.copy()
    lifted.positions[:, 2] += 1.0  # along the vacuum: not a lattice vector
    assert structure_digest(along_a) == structure_digest(slab) != structure_digest(lifted)
