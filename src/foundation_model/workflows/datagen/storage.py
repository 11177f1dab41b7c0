"""Storage: an ASE SQLite database with labels and provenance on every row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ase
import numpy as np

from foundation_model.utils.atomic import atomic_write
from foundation_model.utils.class_path import ClassPathSerializable
from foundation_model.workflows.datagen.calculators import CalculatorSpec

PROVENANCE_KEYS = (
    "seed_id",
    "generator",
    "kind",
    "augmentation",
    "parent_id",
    "traj_id",
    "md_step",
    "temperature_K",
    "instant_temperature_K",
    "ensemble",
    "dynamics",
    "label_calculator",
    "space_group",
    "adsorbates",
    "miller",
    "source",
)
RESERVED = {"energy", "forces", "stress", "id", "natoms", "calculator", "unique_id", "ctime"}


def _kvp_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | float | str):
        return value
    return None


def provenance_of(atoms: ase.Atoms, extra: Mapping[str, Any]) -> dict[str, Any]:
    """ASE key-value pairs of a frame: its own provenance keys plus ``extra``."""
    pairs = {k: atoms.info[k] for k in PROVENANCE_KEYS if k in atoms.info}
    pairs.update(extra)
    out = {}
    for key, value in pairs.items():
        v = _kvp_value(value)
        if v is not None and key not in RESERVED and key.isidentifier():
            out[key] = v
    return out


def labelled_copy(atoms: ase.Atoms) -> ase.Atoms:
    """A copy carrying its ``info``/``arrays`` labels as a SinglePointCalculator."""
    from ase.calculators.singlepoint import SinglePointCalculator

    if "energy" not in atoms.info or "forces" not in atoms.arrays:
        raise ValueError(
            f"Frame {atoms.info.get('traj_id', '?')}:{atoms.info.get('md_step', '?')} "
            "has no energy/forces labels."
        )
    out = atoms.copy()
    for key in ("forces", "momenta"):
        out.arrays.pop(key, None)
    out.info = {}
    results = {"energy": float(atoms.info["energy"]), "forces": atoms.arrays["forces"]}
    if "stress" in atoms.info:
        results["stress"] = np.asarray(atoms.info["stress"], dtype=float)  # Voigt, eV/Å³
    out.calc = SinglePointCalculator(out, **results)
    return out


class AseDatabaseStorage(ClassPathSerializable):
    """Writes the sampled frames into an ASE SQLite database (``<output_dir>/<filename>``).

    All rows are written in one transaction into a temporary file that replaces the
    database only when complete: a crash never leaves a half-written row or database.
    Rows hold energy (eV), forces (eV/Å), stress (Voigt, eV/Å³, periodic cells) and
    provenance key-value pairs (generator, seed, explorer, temperature, step, sampler,
    calculator, config hash, package version).

    Args:
        filename: database file name inside the run directory.
        relabel: optional reference calculator that recomputes the labels of the sampled
            frames (e.g. GFN2-xTB on frames explored with a cheaper potential).
    """

    def __init__(self, filename: str = "dataset.db", relabel: CalculatorSpec | None = None) -> None:
        if not filename.endswith((".db", ".sqlite")):
            raise ValueError(f"AseDatabaseStorage: filename must end in .db, got {filename!r}.")
        self.filename = filename
        self.relabel = relabel

    def write(
        self, path: str | Path, frames: Sequence[ase.Atoms], provenance: Mapping[str, Any]
    ) -> int:
        """Write ``frames`` (labels in ``info``/``arrays``) to ``path``; returns the row count."""
        from ase.db import connect

        n = 0

        def write_db(tmp: Path) -> None:
            nonlocal n
            with connect(tmp, type="db", append=False) as db:  # one transaction
                for atoms in frames:
                    db.write(labelled_copy(atoms), key_value_pairs=provenance_of(atoms, provenance))
                    n += 1

        # a failure leaves the old database (if any) as it was
        atomic_write(path, write_db)
        return n
