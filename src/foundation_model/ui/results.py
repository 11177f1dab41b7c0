"""Read what runs leave on disk: ASE databases, plots, metrics and summaries.

Plain functions over files (no Streamlit), used by the results viewer and tested alone.
"""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from foundation_model.ui.safety import UserInputError

DB_SUFFIXES = (".db", ".sqlite")
SKIP_DIRS = {
    ".git", ".venv", "__pycache__", "node_modules", ".ruff_cache", ".pytest_cache", "cache",
    "vendor", "checkpoints", "trajectories",
}  # fmt: skip
MAX_VISITED = 20_000  # entries looked at per scan, so a huge data folder cannot stall a page
BASE_COLUMNS = ["id", "formula", "natoms", "energy", "energy_per_atom", "fmax", "fnorm_mean"]


@dataclass
class RunFolder:
    """Files of interest in a run folder."""

    folder: Path
    databases: list[Path] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    metrics: list[Path] = field(default_factory=list)
    summaries: list[Path] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.databases or self.plots or self.metrics or self.summaries)


def _walk(folder: Path, max_depth: int):
    """Files under ``folder`` down to ``max_depth`` levels, skipping tool folders and
    symbolic links (a link may lead out of the folders the app may use)."""
    stack = [(Path(folder), 0)]
    visited = 0
    while stack:
        current, depth = stack.pop()
        try:
            entries = sorted(current.iterdir())
        except OSError:
            continue
        visited += len(entries)
        if visited > MAX_VISITED:
            return
        for entry in entries:
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if depth < max_depth and entry.name not in SKIP_DIRS:
                    stack.append((entry, depth + 1))
            elif entry.is_file():
                yield entry


def _is_summary(name: str) -> bool:
    """A run's summary or report (JSON or Markdown), or a folder's README (a model card)."""
    report = name.startswith(("summary", "report")) and name.endswith((".json", ".md"))
    return report or name == "readme.md"


def scan_run_folder(folder: Path, max_depth: int = 4) -> RunFolder:
    """Collect databases, PNG plots, ``metrics.csv`` and summary files under ``folder``."""
    run = RunFolder(Path(folder))
    for path in _walk(folder, max_depth):
        name = path.name.lower()
        if name.endswith(DB_SUFFIXES):
            run.databases.append(path)
        elif name.endswith(".png"):
            run.plots.append(path)
        elif name == "metrics.csv":
            run.metrics.append(path)
        elif _is_summary(name):
            run.summaries.append(path)
    return run


def find_openable(roots: list[Path], max_depth: int = 4, limit: int = 200) -> list[Path]:
    """ASE databases (SQLite files of other kinds, e.g. a label cache, are left out) and run
    folders (folders holding a ``metrics.csv``, a summary or report, or a README)."""
    found: list[Path] = []
    for root in roots:
        if not Path(root).is_dir():
            continue
        for path in _walk(root, max_depth):
            name = path.name.lower()
            if name.endswith(DB_SUFFIXES) and _is_ase_database(path):
                found.append(path)
            elif name == "metrics.csv" or _is_summary(name):
                found.append(path.parent)
            if len(found) >= limit:
                break
    unique = sorted(set(found), key=lambda p: p.stat().st_mtime, reverse=True)
    return unique[:limit]


def _check_ase_database(path: Path) -> None:
    """Refuse a file that is not an ASE database, without modifying it.

    ``ase.db.connect`` creates ASE's tables in any SQLite file it opens, so an SQLite file
    is first opened read-only (``mode=ro``) and must already hold ASE's ``systems`` table.

    Raises:
        UserInputError: ``<name> is not an ASE database ...``.
    """
    path = Path(path)
    if path.suffix == ".json":
        return
    with path.open("rb") as fh:
        head = fh.read(16)
    if not head.startswith(b"SQLite format 3"):
        raise UserInputError(f"{path.name} is not an ASE database (SQLite or JSON).")
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True)) as con:
            found = con.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'systems'"
            ).fetchone()
    except sqlite3.Error as exc:
        raise UserInputError(f"{path.name} could not be read as SQLite: {exc}") from exc
    if found is None:
        raise UserInputError(
            f"{path.name} is not an ASE database (an SQLite file without ASE's 'systems' "
            "table); open an ASE .db file instead."
        )


def _is_ase_database(path: Path) -> bool:
    """Whether :func:`_check_ase_database` accepts ``path`` (read-only, nothing changed)."""
    try:
        _check_ase_database(path)
    except (UserInputError, OSError):
        return False
    return True


def _ase_type(path: Path) -> str:
    """ASE's database type of a file: ``json``, else ``db`` (SQLite, also for ``.sqlite``)."""
    return "json" if Path(path).suffix == ".json" else "db"


def _row_record(row) -> dict:
    """One database row as a flat dict: basics, force norms, then key-value pairs."""
    record = {"id": row.id, "formula": row.formula, "natoms": row.natoms}
    energy = row.get("energy")
    record["energy"] = float(energy) if energy is not None else np.nan
    record["energy_per_atom"] = record["energy"] / row.natoms if row.natoms else np.nan
    forces = row.get("forces")
    if forces is not None and len(forces):
        norms = np.linalg.norm(np.asarray(forces), axis=1)
        record["fmax"] = float(norms.max())
        record["fnorm_mean"] = float(norms.mean())
    else:
        record["fmax"] = record["fnorm_mean"] = np.nan
    for key, value in row.key_value_pairs.items():
        record.setdefault(key, value)
    return record


def read_database(path: Path, limit: int = 5000) -> tuple[pd.DataFrame, int]:
    """Rows of an ASE database as a table.

    Args:
        path: an ASE SQLite (or JSON) database.
        limit: read at most this many rows.

    Returns:
        ``(table, total_rows)``: columns ``id, formula, natoms, energy, energy_per_atom,
        fmax`` (largest per-atom force norm, eV/Å), ``fnorm_mean``, then every key-value
        pair (provenance); ``total_rows`` counts the whole database.

    Raises:
        UserInputError: the file is not an ASE database.
    """
    from ase.db import connect

    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path} is not a file.")
    _check_ase_database(path)  # before connect(), which would add tables
    try:
        with connect(str(path), type=_ase_type(path), create_indices=False) as db:
            total = db.count()
            records = [_row_record(row) for row in db.select(limit=limit)]
    except Exception as exc:  # sqlite3 and ASE raise many types for a foreign file
        raise UserInputError(f"{path.name} could not be read as an ASE database: {exc}") from exc
    table = pd.DataFrame.from_records(records)
    if table.empty:
        table = pd.DataFrame(columns=BASE_COLUMNS)
    return table, total


def read_atoms(path: Path, row_id: int):
    """The ``ase.Atoms`` of row ``row_id`` in the database at ``path``."""
    from ase.db import connect

    _check_ase_database(path)

    with connect(str(path), type=_ase_type(path), create_indices=False) as db:
        return db.get_atoms(id=int(row_id))


def filter_table(
    table: pd.DataFrame,
    formula_contains: str = "",
    energy_range: tuple[float, float] | None = None,
    equals: dict[str, list] | None = None,
) -> pd.DataFrame:
    """Rows whose formula contains a text, energy per atom in a range, and keys in value sets.

    Args:
        table: from :func:`read_database`.
        formula_contains: case-sensitive substring of the formula ('' keeps all).
        energy_range: inclusive ``(low, high)`` of ``energy_per_atom``; rows without an
            energy are dropped when given.
        equals: column -> accepted values (an empty list keeps all).
    """
    mask = pd.Series(True, index=table.index)
    if formula_contains:
        mask &= table["formula"].astype(str).str.contains(formula_contains, regex=False)
    if energy_range is not None and "energy_per_atom" in table:
        low, high = energy_range
        mask &= table["energy_per_atom"].between(low, high)
    for column, values in (equals or {}).items():
        if values and column in table:
            mask &= table[column].isin(values)
    return table[mask]


def categorical_columns(table: pd.DataFrame, max_unique: int = 20) -> list[str]:
    """Provenance columns worth a value filter: text-like with a few distinct values."""
    columns = []
    for column in table.columns:
        if column in BASE_COLUMNS:
            continue
        series = table[column].dropna()
        if series.empty:
            continue
        numeric = pd.api.types.is_float_dtype(series)
        if not numeric and series.nunique() <= max_unique:
            columns.append(column)
    return columns


def read_metrics(path: Path) -> pd.DataFrame:
    """A Lightning ``metrics.csv`` with one row per epoch (per-step rows merged).

    Rows are grouped by ``epoch`` when present (first non-empty value of each column), so
    metrics logged on different rows of the same epoch line up.
    """
    table = pd.read_csv(path)
    if "epoch" in table.columns:
        table = table.dropna(subset=["epoch"]).groupby("epoch", as_index=True).first()
    numeric = table.select_dtypes("number")
    return numeric.drop(columns=[c for c in ("step",) if c in numeric.columns])


def read_summary(path: Path) -> Any:
    """A run summary: the parsed JSON value (an object, a list, ...), or the Markdown text."""
    text = Path(path).read_text()
    return json.loads(text) if Path(path).suffix == ".json" else text


def demote_headings(markdown: str, levels: int = 3) -> str:
    """Markdown with every ATX heading ``levels`` deeper (a report's H1 becomes an H4)."""
    return re.sub(r"^(#{1,6})(?=\s)", lambda m: "#" * min(6, len(m[1]) + levels), markdown,
                  flags=re.M)  # fmt: skip
