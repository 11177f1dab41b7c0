"""``OracleLabelCache``: every label an oracle produced in a run folder, kept on disk.

Oracle calls are the expensive part of ``fm distill`` (DFT minutes to hours each). When a
step that calls the oracle has to be redone (its settings changed, a budget was raised, a
run was killed), structures labelled before are served from this cache instead of being
computed again. A label is keyed by the oracle's settings (what it computes, not where or
with what budget) and the structure's exact numbers, positions, cell and periodicity, so a
hit is the label the oracle would return. A served label counts as the attempts it took
when it was computed, so budgets, round records and results do not depend on whether the
labels came from the cache; only the time and the real cost change.

Storage: one SQLite file (one row per label, each write committed, so a killed run keeps
every label it paid for); the structures are stored exactly (ASE's JSON encoding).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import ase
import numpy as np
from ase.io.jsonio import decode, encode


def structure_key(namespace: str, atoms: ase.Atoms) -> str:
    """SHA-256 of ``namespace`` and the structure's exact geometry.

    Args:
        namespace: the oracle's settings digest.
        atoms: the structure.
    """
    h = hashlib.sha256(namespace.encode())
    h.update(np.ascontiguousarray(atoms.numbers, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(atoms.positions, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(atoms.cell.array, dtype=np.float64).tobytes())
    h.update(np.asarray(atoms.pbc, dtype=np.bool_).tobytes())
    return h.hexdigest()


def settings_namespace(settings: dict[str, Any]) -> str:
    """A digest of an oracle's settings (JSON, keys sorted)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


class OracleLabelCache:
    """Labels of one run folder, on disk.

    Args:
        path: the SQLite file (created with its folder).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._run(
            "CREATE TABLE IF NOT EXISTS labels "
            "(key TEXT PRIMARY KEY, attempts INTEGER NOT NULL, atoms TEXT NOT NULL)"
        )

    def _run(self, sql: str, params: tuple = ()) -> list[tuple]:
        """One statement in its own committed transaction."""
        db = sqlite3.connect(self.path, timeout=60.0)
        try:
            with db:
                return db.execute(sql, params).fetchall()
        finally:
            db.close()

    def get(self, namespace: str, atoms: ase.Atoms) -> tuple[ase.Atoms, int] | None:
        """The stored label of ``atoms`` and the attempts it took, or ``None``."""
        rows = self._run(
            "SELECT atoms, attempts FROM labels WHERE key = ?", (structure_key(namespace, atoms),)
        )
        if not rows:
            return None
        return ase.Atoms.fromdict(decode(rows[0][0])), int(rows[0][1])

    def put(self, namespace: str, atoms: ase.Atoms, labelled: ase.Atoms, attempts: int) -> None:
        """Store ``labelled`` (the oracle's result for ``atoms``) and its attempts."""
        copy = labelled.copy()
        copy.calc = None
        self._run(
            "INSERT OR REPLACE INTO labels (key, attempts, atoms) VALUES (?, ?, ?)",
            (structure_key(namespace, atoms), int(attempts), encode(copy.todict())),
        )

    def __len__(self) -> int:
        return int(self._run("SELECT COUNT(*) FROM labels")[0][0])
