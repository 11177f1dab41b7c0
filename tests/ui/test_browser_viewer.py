"""Browser: the results viewer opens an ASE database; paths outside the allowed folders fail."""

from __future__ import annotations

import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.db import connect

from conftest import REPO, screenshot

LOCAL_3DMOL = REPO / "data" / "vendor" / "3Dmol-min.js"


@pytest.fixture(scope="module")
def labelled_db(ui_data_dir):
    path = ui_data_dir / "viewer" / "emt.db"
    path.parent.mkdir()
    with connect(str(path)) as db:
        for i in range(5):
            atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 1))
            atoms.symbols[: 2 + i] = "Al"
            atoms.rattle(0.05, seed=i)
            atoms.calc = EMT()
            atoms.get_forces()
            db.write(atoms, temperature=300.0 + 100 * i, generator="test")
    return path


def open_path(page, url: str, text: str) -> None:
    page.goto(f"{url}/results")
    field = page.get_by_label("Path of an ASE database (.db) or a run folder")
    field.fill(text)
    field.press("Enter")


def test_viewer_shows_database_table_and_structure(page, ui_server, labelled_db):
    open_path(page, ui_server, str(labelled_db))
    page.get_by_text("emt.db: 5 structures").wait_for()
    page.get_by_text("5 of 5 rows match the filters.").wait_for()
    page.get_by_text("Al2Cu14, 16 atoms").wait_for()
    frame = page.frame_locator("iframe").first
    frame.locator("div[id^='3dmolviewer']").wait_for(state="attached")
    if LOCAL_3DMOL.is_file():  # offline 3Dmol.js present (samples/helper_tools/fetch_3dmol.sh)
        frame.locator("div[id^='3dmolviewer'] canvas").wait_for()
    page.get_by_label("Formula contains").fill("Al6")
    page.get_by_label("Formula contains").press("Enter")
    page.get_by_text("1 of 5 rows match the filters.").wait_for()
    page.get_by_text("Al6Cu10, 16 atoms").wait_for()
    screenshot(page, "viewer")


def test_path_outside_allowed_folders_is_a_message(page, ui_server):
    open_path(page, ui_server, "../../../../etc/passwd")
    page.get_by_text("outside the folders this app may use").wait_for()
    assert "Traceback" not in page.inner_text("body")
