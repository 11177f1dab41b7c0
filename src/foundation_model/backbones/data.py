"""Data contract: any ``Dataset[ase.Atoms]``; readers for extxyz, ASE databases and lists.

Labels are looked up per structure, in order, in ``atoms.info[key]``,
``atoms.arrays[key]`` and the attached calculator's ``results[key]`` (extxyz files written
by ASE and ASE database rows put energy/forces/stress there). A label that is absent (or
all NaN) is *missing*: the structure is masked for that property during fine-tuning.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ase
import ase.io
import numpy as np
from ase.data import atomic_numbers
from torch.utils.data import Dataset

from foundation_model.backbones.properties import (
    EnergyProperty,
    ForcesProperty,
    GraphProperty,
    PropertyConfig,
    StressProperty,
)

StructureSource = str | Path | Sequence[ase.Atoms] | Dataset


class AtomsDataset(Dataset):
    """An in-memory ``Dataset[ase.Atoms]``.

    Args:
        structures: the structures.
        name: where they came from, used in error messages.
    """

    def __init__(self, structures: Sequence[ase.Atoms], name: str = "structures") -> None:
        self.structures = list(structures)
        self.name = name

    def __len__(self) -> int:
        return len(self.structures)

    def __getitem__(self, idx: int) -> ase.Atoms:
        return self.structures[idx]

    def __repr__(self) -> str:
        return f"AtomsDataset({self.name!r}, n={len(self)})"


def _read_db(path: Path) -> list[ase.Atoms]:
    from ase.db import connect

    out = []
    with connect(path) as db:
        for row in db.select():
            atoms = row.toatoms()
            atoms.info.update(row.key_value_pairs)
            for key, value in (row.data or {}).items():
                arr = np.asarray(value)
                if arr.ndim >= 1 and arr.shape[0] == len(atoms) and key not in atoms.info:
                    atoms.arrays[key] = arr
                else:
                    atoms.info[key] = value
            out.append(atoms)
    return out


def source_name(source: StructureSource, role: str = "structures") -> str:
    """How error messages name a source: its path, or ``the <role> list``."""
    if isinstance(source, str | Path):
        return str(source)
    return f"the {role} {type(source).__name__}"


def _read_file(path: Path) -> list[ase.Atoms]:
    """Read every frame of a structure file, naming the frame and element that fail."""
    if path.suffix.lower() in (".db", ".sqlite"):
        return _read_db(path)
    fmt = "extxyz" if path.suffix.lower() in (".xyz", ".extxyz") else None
    structures: list[ase.Atoms] = []
    try:
        for atoms in ase.io.iread(path, index=":", format=fmt):
            structures.append(atoms)
    except KeyError as err:
        symbol = err.args[0] if err.args else ""
        if isinstance(symbol, str) and symbol not in atomic_numbers:
            raise ValueError(
                f"Cannot read structures from {path}: structure {len(structures)} has the "
                f"unknown element {symbol!r}. Replace it with a chemical symbol (e.g. 'Cu') "
                "in the species column, or remove that structure."
            ) from err
        raise ValueError(f"Cannot read structures from {path}: missing key {err}.") from err
    except Exception as err:  # noqa: BLE001 - ASE raises many parser errors
        raise ValueError(
            f"Cannot read structures from {path} (structure {len(structures)}): {err}"
        ) from err
    return structures


def read_structures(source: StructureSource, role: str = "structures") -> list[ase.Atoms]:
    """Read structures from an extxyz/xyz file, an ASE database (``.db``), any file ASE
    reads, a list of ``ase.Atoms`` or a ``Dataset[ase.Atoms]``.

    Args:
        source: the file or the structures.
        role: what the source is (e.g. ``train_path``), used in error messages.

    Raises:
        FileNotFoundError: the path does not exist.
        ValueError: the source holds no structure, not ``ase.Atoms``, or cannot be parsed
            (e.g. an unknown element symbol).
    """
    name = source_name(source, role)
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            key = f"data.init_args.{role}" if role.endswith("_path") else "the path"
            raise FileNotFoundError(f"Structure file not found: {path} (check {key}).")
        if path.stat().st_size == 0:
            raise ValueError(f"Structure file {path} is empty: it holds no structure.")
        structures = _read_file(path)
    else:
        structures = [source[i] for i in range(len(source))]
    if not structures:
        raise ValueError(f"No structure in {name}: the data set is empty.")
    bad = [i for i, a in enumerate(structures) if not isinstance(a, ase.Atoms)]
    if bad:
        raise ValueError(
            f"{name}: item {bad[0]} is a {type(structures[bad[0]]).__name__}, not ase.Atoms."
        )
    return list(structures)


def find_label(atoms: ase.Atoms, key: str) -> Any | None:
    """The label ``key`` of one structure, or ``None`` when it has none."""
    if key in atoms.info:
        return atoms.info[key]
    if key in atoms.arrays:
        return atoms.arrays[key]
    calc = atoms.calc
    results = getattr(calc, "results", None) or {}
    return results.get(key)


def _is_missing(value: Any) -> bool:
    """``None`` or an all-NaN value: the structure has no such label."""
    if value is None:
        return True
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return False  # reported as a bad label by the caller
    return arr.size > 0 and bool(np.isnan(arr).all())


def is_periodic_3d(atoms: ase.Atoms) -> bool:
    """Periodic in all three directions with a 3D cell: the structures with a stress."""
    return bool(np.asarray(atoms.pbc).all()) and int(atoms.cell.rank) == 3


def extract_labels(
    atoms: ase.Atoms,
    properties: list[PropertyConfig],
    where: str = "",
    allow_missing: bool = False,
) -> dict[str, np.ndarray]:
    """Labels of ``properties`` for one structure as arrays in ASE units.

    Shapes: energy ``()``, forces ``(N, 3)``, stress ``(3, 3)``, graph properties ``()``.
    A structure that is not periodic in 3D has no stress label (a stored one, e.g. zeros
    from a molecular code, is not read: there is no volume to take it per).

    Args:
        atoms: the structure.
        properties: the schema.
        where: how messages name the structure, e.g. ``"3 of train.extxyz"``.
        allow_missing: leave a missing (absent or all-NaN) label out of the result
            instead of raising.

    Raises:
        ValueError: a label is missing (unless ``allow_missing``), not numeric, partly
            non-finite or has the wrong shape.
    """
    label = f"Structure {where} ({atoms.get_chemical_formula()})".replace("  ", " ")
    out: dict[str, np.ndarray] = {}
    for prop in properties:
        if isinstance(prop, StressProperty) and not is_periodic_3d(atoms):
            continue  # a slab's or molecule's "stress" has no volume: never a label
        value = find_label(atoms, prop.label_key)
        if _is_missing(value):
            if allow_missing:
                continue
            raise ValueError(
                f"{label} has no label {prop.label_key!r} for property {prop.name!r}: looked "
                "in atoms.info, atoms.arrays and calculator results. Label the data or drop "
                "the property from model.properties."
            )
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"{label}: label {prop.label_key!r} is not numeric ({value!r})."
            ) from None
        if not np.isfinite(arr).all():
            raise ValueError(f"{label}: label {prop.label_key!r} has NaN or infinite values.")
        if isinstance(prop, ForcesProperty) and arr.shape != (len(atoms), 3):
            raise ValueError(f"{label}: forces have shape {arr.shape}, expected ({len(atoms)}, 3).")
        if isinstance(prop, StressProperty):
            arr = stress_matrix(arr, label)
        if isinstance(prop, EnergyProperty | GraphProperty) and arr.size != 1:
            raise ValueError(f"{label}: {prop.name} must be one number, got shape {arr.shape}.")
        if isinstance(prop, GraphProperty) and prop.task_type == "classification":
            k = prop.num_classes
            if float(arr.reshape(())) not in range(k):  # 1.0 is class 1; 0.4, -1, k are not
                raise ValueError(
                    f"{label}: label {prop.label_key!r} is {arr.reshape(()).item()!r}, not a "
                    f"class index 0..{k - 1} (num_classes: {k}); write classes as 0, 1, ... "
                    "or raise num_classes."
                )
        out[prop.name] = (
            arr.reshape(()) if arr.size == 1 and not isinstance(prop, ForcesProperty) else arr
        )
    return out


def stress_matrix(arr: np.ndarray, label: str = "Structure") -> np.ndarray:
    """Voigt ``(6,)`` (xx yy zz yz xz xy) or ``(3, 3)`` stress -> ``(3, 3)``."""
    if arr.shape == (3, 3):
        return arr
    if arr.shape == (6,):
        xx, yy, zz, yz, xz, xy = arr
        return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    raise ValueError(f"{label}: stress must be Voigt (6,) or (3, 3), got shape {arr.shape}.")
