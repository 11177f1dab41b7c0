"""Atomic file writes and extxyz round trips that keep labels in ``info``/``arrays``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ase
import ase.io
import numpy as np

from foundation_model.utils.atomic import atomic_write, write_text

LABEL_KEYS = ("energy", "forces", "stress", "free_energy")


def atomic_write_json(path: str | Path, data: Any) -> None:
    """JSON with numpy values converted; atomic."""
    write_text(json.dumps(data, indent=2, default=_json_default) + "\n", path)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)


def write_frames(path: str | Path, frames: Sequence[ase.Atoms]) -> None:
    """Frames to an extxyz file, atomically (labels from ``info``/``arrays``)."""
    clean = []
    for atoms in frames:
        a = atoms.copy()
        a.calc = None
        clean.append(a)
    atomic_write(path, lambda tmp: ase.io.write(tmp, clean, format="extxyz"))


def read_frames(path: str | Path) -> list[ase.Atoms]:
    """Frames from extxyz with labels moved back to ``info``/``arrays`` and no calculator."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return []
    out = []
    for atoms in ase.io.read(path, index=":", format="extxyz"):
        results = dict(getattr(atoms.calc, "results", {}) or {})
        atoms.calc = None
        for key in LABEL_KEYS:
            if key not in results:
                continue
            if key == "forces":
                atoms.arrays["forces"] = np.asarray(results[key], dtype=float)
            elif key != "free_energy":
                atoms.info[key] = (
                    float(results[key]) if key == "energy" else np.asarray(results[key], float)
                )
        out.append(atoms)
    return out
