"""ASE-database I/O of the distillation artifacts, in chunks (memory flat in the data size).

Labels travel as ``info["energy"]``, ``arrays["forces"]`` and ``info["stress"]`` (Voigt,
eV/Å³) in memory; in the database they are a ``SinglePointCalculator`` (what ``ase db``
and ``MLIPDataModule`` read). Scalar ``info`` entries become key-value pairs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ase
import numpy as np

_SKIP = {"energy", "forces", "stress", "id", "natoms", "unique_id", "ctime", "calculator"}


def _pairs(atoms: ase.Atoms) -> dict[str, Any]:
    out = {}
    for key, value in atoms.info.items():
        if isinstance(value, np.generic):
            value = value.item()
        if key not in _SKIP and key.isidentifier() and isinstance(value, bool | int | float | str):
            out[key] = value
    return out


def append_structures(path: str | Path, structures: list[ase.Atoms]) -> int:
    """Append structures (labelled or not) in one transaction; returns the row count written."""
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.db import connect

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with connect(str(path)) as db:
        for atoms in structures:
            row = ase.Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
            if "energy" in atoms.info:
                results = {"energy": float(atoms.info["energy"])}
                if "forces" in atoms.arrays:
                    results["forces"] = np.asarray(atoms.arrays["forces"], dtype=float)
                if "stress" in atoms.info:
                    results["stress"] = np.asarray(atoms.info["stress"], dtype=float)
                row.calc = SinglePointCalculator(row, **results)
            db.write(row, **_pairs(atoms))
    return len(structures)


def _from_row(row: Any) -> ase.Atoms:
    atoms = row.toatoms()
    calc = atoms.calc
    atoms.calc = None
    atoms.info.update(row.key_value_pairs)
    results = getattr(calc, "results", {}) if calc is not None else {}
    if "energy" in results:
        atoms.info["energy"] = float(results["energy"])
    if "forces" in results:
        atoms.arrays["forces"] = np.asarray(results["forces"], dtype=float)
    if "stress" in results:
        atoms.info["stress"] = np.asarray(results["stress"], dtype=float)
    atoms.info["db_id"] = int(row.id)
    return atoms


def count_rows(path: str | Path) -> int:
    """Rows of a database (0 when the file does not exist)."""
    from ase.db import connect

    if not Path(path).is_file():
        return 0
    with connect(str(path)) as db:
        return db.count()


def iter_chunks(path: str | Path, chunk: int, start: int = 0) -> Iterator[list[ase.Atoms]]:
    """Structures of a database in chunks of ``chunk`` rows, from row offset ``start``."""
    from ase.db import connect

    total = count_rows(path)
    db = connect(str(path))
    for offset in range(start, total, chunk):
        yield [_from_row(r) for r in db.select(offset=offset, limit=chunk, sort="id")]


def read_all(path: str | Path) -> list[ase.Atoms]:
    """Every structure of a database (for the small oracle sets)."""
    return [a for part in iter_chunks(path, 1000) for a in part]
