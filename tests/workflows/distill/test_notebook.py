"""The ``fm distill`` tutorial notebook runs top to bottom at small settings."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_distill_tutorial_executes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pyace")
    pytest.importorskip("tblite")
    monkeypatch.setenv("FM_DISTILL_TUTORIAL_SMALL", "1")
    monkeypatch.setenv("FM_DISTILL_TUTORIAL_OUT", str(tmp_path / "run"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb = nbformat.read(REPO_ROOT / "notebooks" / "distill_sn2_tutorial.ipynb", as_version=4)
    client = NotebookClient(
        nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(REPO_ROOT)}}
    )
    client.execute()
    text = "".join(
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream"
    )
    assert "XTBOracle charge -1" in text and "max gamma" in text
    assert (tmp_path / "run" / "state.json").is_file()
    images = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    ]
    assert len(images) == 3
