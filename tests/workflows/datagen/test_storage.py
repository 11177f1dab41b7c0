"""Storage: labels and provenance per row; a failing write leaves the old database intact."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.db import connect

from foundation_model.workflows.datagen.calculators import EMTSpec
from foundation_model.workflows.datagen.labelling import LabelTask, label_structure
from foundation_model.workflows.datagen.storage import AseDatabaseStorage


def _frames(n: int) -> list:
    out = []
    for i in range(n):
        atoms = bulk("Cu", "fcc", a=3.55 + 0.02 * i, cubic=True)
        atoms = label_structure(LabelTask(atoms, EMTSpec()))
        atoms.info.update(traj_id=f"t{i}", md_step=10 * i, temperature_K=300.0, bogus=[1, 2])
        out.append(atoms)
    return out


def test_rows_carry_labels_and_provenance(tmp_path) -> None:
    frames = _frames(3)
    path = tmp_path / "d.db"
    assert AseDatabaseStorage().write(path, frames, {"config_hash": "abc", "run_seed": 1}) == 3
    with connect(path) as db:
        rows = list(db.select(sort="md_step"))
    for row, frame in zip(rows, frames, strict=True):
        assert row.energy == pytest.approx(frame.info["energy"])
        assert np.allclose(row.forces, frame.arrays["forces"])
        assert np.allclose(row.stress, frame.info["stress"])  # Voigt eV/Å³ as computed
        assert row.traj_id == frame.info["traj_id"] and row.config_hash == "abc"
        assert "bogus" not in row.key_value_pairs  # non-scalar info is not a key


def test_failed_write_keeps_the_previous_database(tmp_path) -> None:
    path = tmp_path / "d.db"
    AseDatabaseStorage().write(path, _frames(2), {})
    broken = _frames(3)
    del broken[2].info["energy"]  # the third frame has no label: the write fails mid-way
    with pytest.raises(ValueError, match="no energy/forces labels"):
        AseDatabaseStorage().write(path, broken, {})
    with connect(path) as db:
        assert db.count() == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.db"]  # no temporary left over
    with pytest.raises(ValueError, match="must end in .db"):
        AseDatabaseStorage(filename="x.json")
