"""Reading run outputs: ASE databases, run folders, metrics; structure view HTML."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.db import connect

from foundation_model.ui import results
from foundation_model.ui.structure_view import atoms_to_xyz, cell_edges, structure_html


@pytest.fixture
def emt_db(tmp_path):
    path = tmp_path / "run" / "structures.db"
    path.parent.mkdir()
    with connect(str(path)) as db:
        for i, temperature in enumerate([300.0, 600.0, 900.0]):
            atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 1, 1))
            atoms.symbols[:2] = "Al"
            atoms.rattle(0.05, seed=i)
            atoms.calc = EMT()
            atoms.get_potential_energy()
            db.write(atoms, temperature=temperature, sampler="fps" if i else "random")
        db.write(bulk("Ni", "fcc", a=3.5))  # no labels at all
    return path


def test_read_database_has_energy_forces_and_provenance(emt_db):
    table, total = results.read_database(emt_db)
    assert total == 4 and len(table) == 4
    assert list(table.columns[:7]) == results.BASE_COLUMNS
    first = table.iloc[0]
    with connect(str(emt_db)) as db:
        row = db.get(id=1)
        expected_fmax = np.linalg.norm(row.forces, axis=1).max()
        assert first["energy"] == pytest.approx(row.energy)
    assert first["fmax"] == pytest.approx(expected_fmax)
    assert first["energy_per_atom"] == pytest.approx(first["energy"] / 8)
    assert table["temperature"].tolist()[:3] == [300.0, 600.0, 900.0]
    assert np.isnan(table.iloc[3]["energy"]) and np.isnan(table.iloc[3]["fmax"])
    limited, total = results.read_database(emt_db, limit=2)
    assert len(limited) == 2 and total == 4


def test_read_database_refuses_other_files(tmp_path):
    text = tmp_path / "notes.db"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not an ASE database"):
        results.read_database(text)
    with pytest.raises(ValueError, match="not a file"):
        results.read_database(tmp_path / "missing.db")


def test_filters(emt_db):
    table, _ = results.read_database(emt_db)
    assert len(results.filter_table(table, formula_contains="Ni")) == 1
    assert len(results.filter_table(table, formula_contains="Al")) == 3
    low = table["energy_per_atom"].min()
    assert len(results.filter_table(table, energy_range=(low, low))) == 1
    assert len(results.filter_table(table, equals={"sampler": ["fps"]})) == 2
    assert len(results.filter_table(table, equals={"sampler": []})) == 4
    assert results.categorical_columns(table) == ["sampler"]


def test_scan_run_folder_and_find_openable(emt_db, tmp_path):
    run_dir = emt_db.parent
    (run_dir / "plots").mkdir()
    (run_dir / "plots" / "energy.png").write_bytes(b"\x89PNG")
    (run_dir / "summary.json").write_text('{"structures": 4}')
    (run_dir / "metrics.csv").write_text("epoch,step,train_loss,val_loss\n0,1,2.0,\n0,1,,3.0\n")
    run = results.scan_run_folder(run_dir)
    assert run.databases == [emt_db]
    assert [p.name for p in run.plots] == ["energy.png"]
    assert results.read_summary(run.summaries[0]) == {"structures": 4}
    metrics = results.read_metrics(run.metrics[0])
    assert metrics.loc[0, "train_loss"] == 2.0 and metrics.loc[0, "val_loss"] == 3.0
    assert "step" not in metrics
    assert results.scan_run_folder(tmp_path / "empty_missing").empty
    card = tmp_path / "model_card"
    card.mkdir()
    (card / "README.md").write_text("# fm-base\n")  # a shipped model's folder opens on its card
    assert [p.name for p in results.scan_run_folder(card).summaries] == ["README.md"]
    import sqlite3
    from contextlib import closing

    cache = run_dir / "oracle_labels.sqlite"  # an SQLite file that is not an ASE database
    with closing(sqlite3.connect(cache)) as con:
        con.execute("CREATE TABLE labels (key TEXT)")
        con.commit()
    before = cache.read_bytes()
    found = results.find_openable([tmp_path])
    assert emt_db in found and run_dir in found and card in found
    assert cache not in found and cache.read_bytes() == before  # not offered, not changed


def test_scans_do_not_follow_links_out_of_the_folder(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "README.md").write_text("# private\n")
    (outside / "summary.json").write_text("{}")
    run = tmp_path / "results" / "run"
    run.mkdir(parents=True)
    (run / "metrics.csv").write_text("epoch,train_loss\n0,1.0\n")
    (run / "linked").symlink_to(outside)  # a link inside a run folder leads elsewhere
    (run / "report.md").symlink_to(outside / "README.md")
    scanned = results.scan_run_folder(run)
    assert scanned.summaries == [] and [p.name for p in scanned.metrics] == ["metrics.csv"]
    assert results.find_openable([tmp_path / "results"]) == [run]


def test_structure_view_html(emt_db, tmp_path, monkeypatch):
    pytest.importorskip("py3Dmol", reason="py3Dmol not installed: uv sync --extra ui")
    atoms = results.read_atoms(emt_db, 2)
    assert atoms.get_chemical_formula() == "Al2Cu6"
    xyz = atoms_to_xyz(atoms)
    assert xyz.splitlines()[0].strip() == "8"
    assert len(cell_edges(atoms.cell.array)) == 12
    monkeypatch.delenv("FM_UI_3DMOL_JS", raising=False)
    from foundation_model.ui import structure_view

    monkeypatch.setattr(structure_view, "REPOSITORY", tmp_path / "no_copy")  # none anywhere
    html = structure_html(atoms, tmp_path)
    assert "cdn.jsdelivr.net" in html and "addModel" in html and "addLine" in html
    local = tmp_path / "3Dmol-min.js"
    local.write_text("var $3Dmol = {};")
    monkeypatch.setenv("FM_UI_3DMOL_JS", str(local))
    html = structure_html(atoms, tmp_path)
    assert "data:text/javascript;base64," in html and "cdn.jsdelivr.net" not in html


def test_metrics_without_epoch(tmp_path):
    path = tmp_path / "metrics.csv"
    pd.DataFrame({"step": [0, 1], "loss": [1.0, 0.5]}).to_csv(path, index=False)
    assert results.read_metrics(path)["loss"].tolist() == [1.0, 0.5]


def test_demote_headings():
    text = "# Title\ntext # not a heading\n## Part\n###### deep"
    assert (
        results.demote_headings(text) == "#### Title\ntext # not a heading\n##### Part\n###### deep"
    )


def _foreign_sqlite(path):
    """An SQLite file with its own schema (like a distill run's oracle_labels.sqlite)."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(path)) as con:
        con.execute("CREATE TABLE labels (key TEXT PRIMARY KEY, energy REAL)")
        con.execute("INSERT INTO labels VALUES ('a', -1.5)")
        con.commit()
    return path


@pytest.mark.parametrize("name", ["other.db", "oracle_labels.sqlite"])
def test_read_database_never_writes_into_a_foreign_sqlite_file(tmp_path, name):
    """An SQLite file without ASE's tables is refused, and left byte-for-byte unchanged
    (ase.db.connect would have created its tables in it)."""
    import os

    cache = _foreign_sqlite(tmp_path / name)
    before = (cache.read_bytes(), os.stat(cache).st_mtime_ns)
    for read in (results.read_database, lambda p: results.read_atoms(p, 1)):
        with pytest.raises(results.UserInputError) as err:
            read(cache)
        assert str(err.value).startswith(f"{name} is not an ASE database")
    assert (cache.read_bytes(), os.stat(cache).st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_an_ase_database_named_sqlite_is_read(emt_db):
    """ASE does not know the .sqlite suffix; the viewer reads such a database as SQLite."""
    renamed = emt_db.with_name("structures.sqlite")
    emt_db.rename(renamed)
    table, total = results.read_database(renamed)
    assert total == 4 and results.read_atoms(renamed, 1).get_chemical_formula() == "Al2Cu6"


def test_the_3dmol_copy_is_found_for_an_app_started_elsewhere(tmp_path, monkeypatch):
    from foundation_model.ui import structure_view

    monkeypatch.delenv("FM_UI_3DMOL_JS", raising=False)
    repo, project = tmp_path / "repo", tmp_path / "project"
    project.mkdir()
    monkeypatch.setattr(structure_view, "REPOSITORY", repo)
    assert structure_view.local_3dmol_js(project) is None
    js = repo / structure_view.LOCAL_JS
    js.parent.mkdir(parents=True)
    js.write_text("// 3Dmol")
    assert structure_view.local_3dmol_js(project) == js  # the repository's copy
    own = project / structure_view.LOCAL_JS
    own.parent.mkdir(parents=True)
    own.write_text("// 3Dmol")
    assert structure_view.local_3dmol_js(project) == own  # the project's first
