"""The notebooks run top to bottom (nbclient, ``python3`` kernel of this interpreter)."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO_ROOT = Path(__file__).resolve().parents[1]


def _stdout(nb: nbformat.NotebookNode) -> str:
    return "".join(
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream"
    )


def test_quickstart_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FM_QUICKSTART_RUNS", str(tmp_path / "runs"))  # keep results/ clean
    # importing streamlit (the web-app tests) sets MPLBACKEND=Agg for the whole process; the
    # kernel inherits the environment and would then show no inline figures
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.read(REPO_ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=180,
        resources={"metadata": {"path": str(REPO_ROOT)}},  # the kernel's working directory
    )
    client.execute()  # raises CellExecutionError on any failing cell (incl. its asserts)
    text = _stdout(nb)
    # jupyter_client starts the "python3" kernel with this test's interpreter (the venv's).
    assert f"python: {sys.executable}" in text
    assert (tmp_path / "runs" / "quickstart").is_dir()
    figures = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    ]
    assert len(figures) == 2  # learning curves, parity + curve
