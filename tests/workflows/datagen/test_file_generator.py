"""FileGenerator: seeds from the user's structure files, up-front errors, a real run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from ase.build import bulk, molecule
from ase.calculators.singlepoint import SinglePointCalculator
from ase.db import connect
from ase.io import write

from foundation_model.cli.main import main
from foundation_model.workflows.datagen.generators import FileGenerator

ROOT = Path(__file__).resolve().parents[3]


def _files(tmp_path: Path) -> tuple[Path, Path]:
    cif = tmp_path / "cu.cif"
    write(cif, bulk("Cu", "fcc", 3.61, cubic=True))
    frames = []
    for i in range(3):
        atoms = bulk("Cu", "fcc", 3.61, cubic=True)
        atoms[0].symbol = "Al"
        atoms.rattle(0.02, seed=i)
        atoms.calc = SinglePointCalculator(atoms, energy=-1.0e3, forces=np.ones((4, 3)))
        frames.append(atoms)
    xyz = tmp_path / "cu3al.extxyz"
    write(xyz, frames)
    return cif, xyz


def test_reads_every_frame_drops_labels_and_sets_kind(tmp_path: Path) -> None:
    cif, xyz = _files(tmp_path)
    water = tmp_path / "water.xyz"
    write(water, molecule("H2O"))
    gen = FileGenerator([str(cif), str(xyz), str(water)])
    seeds = gen.generate(0)
    assert len(seeds) == 5 and gen.elements == ["Al", "Cu", "H", "O"]
    assert [a.info["kind"] for a in seeds] == ["bulk"] * 4 + ["molecule"]
    assert seeds[1].info["source"] == f"{xyz}:0" and seeds[1].calc is None
    assert "forces" not in seeds[1].arrays and "energy" not in seeds[1].info
    some = FileGenerator([str(xyz)], n_structures=2)
    assert len(some.generate(1)) == 2
    assert [a.info["source"] for a in some.generate(1)] == [
        a.info["source"] for a in some.generate(1)
    ]  # seeded
    last = FileGenerator([str(xyz)], index="-1").generate(0)
    assert [a.info["source"] for a in last] == [f"{xyz}[-1]:0"]
    assert FileGenerator(str(xyz)).paths == [str(xyz)]  # one path as a string


def test_changed_file_changes_the_settings(tmp_path: Path) -> None:
    cif, _ = _files(tmp_path)
    before = FileGenerator([str(cif)]).to_dict()
    write(cif, bulk("Cu", "fcc", 3.70, cubic=True))
    after = FileGenerator([str(cif)]).to_dict()
    assert before["init_args"]["content_sha256"] != after["init_args"]["content_sha256"]
    assert FileGenerator.from_dict(after).paths == [str(cif)]


def test_bad_files_are_one_line_errors(tmp_path: Path) -> None:
    cif, xyz = _files(tmp_path)
    with pytest.raises(FileNotFoundError, match="structure file .*nope.cif not found"):
        FileGenerator([str(tmp_path / "nope.cif")])
    junk = tmp_path / "junk.cif"
    junk.write_text("this is not a CIF\n")
    with pytest.raises(ValueError, match="cannot read .*junk.cif"):
        FileGenerator([str(junk)])
    with pytest.raises(ValueError, match="n_structures=9 but the files hold 3"):
        FileGenerator([str(xyz)], n_structures=9)
    with pytest.raises(ValueError, match="index '5' selects no frame"):
        FileGenerator([str(xyz)], index="5")
    with pytest.raises(ValueError, match="format 'vasp' applies to every file"):
        FileGenerator([str(cif)], format="vasp")


def test_datagen_run_from_user_files(tmp_path: Path, capsys) -> None:
    """A full generate -> explore -> sample -> store run (EMT) seeded by files."""
    pytest.importorskip("dscribe", reason="dscribe not installed: uv sync --extra datagen")
    cif, xyz = _files(tmp_path)
    cfg = yaml.safe_load((ROOT / "samples" / "datagen" / "cu_al_alloy.yaml").read_text())
    cfg["generate"]["generators"] = [
        {
            "class_path": "foundation_model.workflows.datagen.generators.FileGenerator",
            "init_args": {"paths": [str(cif), str(xyz)]},
        }
    ]
    cfg["output_dir"] = str(tmp_path / "run")
    path = tmp_path / "files.yaml"
    path.write_text(yaml.safe_dump(cfg))
    small = ["--explore.steps=20", "--explore.temperatures=[800]", "--executor.progress=false"]
    argv = ["datagen", "run", "--config", str(path), *small, "--plots=false"]
    assert main([*argv, "--sample.n_samples=5"]) == 0
    with connect(tmp_path / "run" / "dataset.db") as db:
        rows = list(db.select())
    assert len(rows) == 5
    assert {r.generator for r in rows} == {"FileGenerator"}
    assert {r.source.rsplit(":", 1)[0] for r in rows} <= {str(cif), str(xyz)}
    assert all(abs(r.energy) < 100 for r in rows)  # EMT labels, not the files' -1000 eV
    summary = (tmp_path / "run" / "summary.md").read_text()
    assert "MC swap acceptance: " in summary and "None" not in summary
    capsys.readouterr()
    cfg["output_dir"] = str(tmp_path / "run2")
    path.write_text(yaml.safe_dump(cfg))
    assert main([*argv, "--sample.n_samples=999"]) == 0
    assert "n_samples=999 but exploration gave" in capsys.readouterr().err
