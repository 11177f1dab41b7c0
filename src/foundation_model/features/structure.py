"""Structure featurization: CIF / pymatgen-JSON / extxyz / POSCAR cells -> matminer descriptors."""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

from foundation_model.features.presets import FeaturizerSpec
from foundation_model.features.runner import RawFeatures, run_featurizers

if TYPE_CHECKING:
    from foundation_model.features.cache import ChunkStore

#: the reason given for a blank structure cell (a row may have none)
MISSING_STRUCTURE = "empty or missing structure"


#: bumped when :func:`parse_structure` reads a cell, or a failure is worded, differently
#: (part of the cache key)
PARSER_VERSION = 4
#: the largest difference of one element's atomic fraction between a row's formula and its
#: structure that still counts as the same compound (Fe2O3 vs Fe3O4 differ by 0.029)
FORMULA_TOLERANCE = 0.02
FORMATS = "CIF, pymatgen JSON, extxyz or POSCAR"


_FILE_SUFFIXES = (".cif", ".vasp", ".poscar", ".xyz", ".extxyz", ".json", ".traj", ".db")


def is_ase_atoms(obj: object) -> bool:
    """Whether ``obj`` is an ``ase.Atoms`` (without importing ase for other inputs)."""
    return type(obj).__name__ == "Atoms" and hasattr(obj, "get_chemical_symbols")


def _from_atoms(atoms: object) -> object:
    """A pymatgen ``Structure`` from a 3D-periodic ``ase.Atoms``."""
    from pymatgen.io.ase import AseAtomsAdaptor

    if not atoms.pbc.all():  # type: ignore[attr-defined]
        raise ValueError("structure is not periodic in 3D (needs a Lattice with pbc)")
    return AseAtomsAdaptor.get_structure(atoms)


def _from_dict(data: dict) -> object:
    """A pymatgen ``Structure`` from ``Structure.as_dict()`` (one line when it is not one)."""
    from pymatgen.core import Structure

    try:
        return Structure.from_dict(data)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(
            f"a JSON object that is not a pymatgen Structure (Structure.as_dict(); "
            f"{type(err).__name__}: {err})"
        ) from None


def parse_structure(text: object) -> object:
    """Parse one structure cell into a pymatgen ``Structure``.

    The format is recognised from the text: a JSON object (``Structure.as_dict()``), a CIF
    (contains ``data_`` and ``_cell_length_a``), extended XYZ (first line: the number of
    atoms; read with ASE), otherwise a VASP POSCAR. A cell holding several structures (CIF
    data blocks, extxyz frames) is refused rather than read as one of them. A pymatgen
    ``Structure``, its ``as_dict()`` and a 3D-periodic ``ase.Atoms`` are taken as they are
    (tables built in Python); a file name is refused with the fix (its text is needed).

    Args:
        text: the cell content.
    """
    from pymatgen.core import Structure

    if isinstance(text, Structure):
        return text
    if isinstance(text, dict):
        return _from_dict(text)
    if is_ase_atoms(text):
        return _from_atoms(text)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(MISSING_STRUCTURE)
    body = text.strip()
    if "\n" not in body and body.lower().endswith(_FILE_SUFFIXES):
        raise ValueError(
            f"the cell holds a file name ({body[:80]}), not a structure: put the file's "
            "text in the cell (e.g. Path(name).read_text())"
        )
    if body.startswith("{"):
        return _from_dict(json.loads(body))
    if "_cell_length_a" in body and "data_" in body:
        from pymatgen.io.cif import CifParser

        found = CifParser.from_str(body).parse_structures(primitive=False)
        return _one(found, "CIF data blocks")
    if _looks_like_extxyz(body):
        from ase.io import read

        frames = read(io.StringIO(body), index=":", format="extxyz")
        return _from_atoms(_one(frames, "extxyz frames"))
    try:  # POSCAR: its first line is a comment, which may be blank (so no strip at the start)
        return Structure.from_str(text.rstrip(), fmt="poscar")
    except Exception as err:
        raise ValueError(
            f"not a {FORMATS} structure (as POSCAR: {type(err).__name__}: {err})"
        ) from None


def _looks_like_extxyz(body: str) -> bool:
    """XYZ: the atom count, a comment line, then atoms as ``symbol x y z ...`` (a POSCAR
    whose comment is a number has its scale factor and lattice numbers there instead)."""
    lines = body.splitlines()
    if len(lines) < 3 or not lines[0].strip().isdigit():
        return False
    first_atom = lines[2].split()
    return bool(first_atom) and first_atom[0][:1].isalpha()


def _one(found: list, what: str) -> object:
    if len(found) != 1:
        raise ValueError(
            f"the cell holds {len(found)} structures ({what}); give one structure per row"
        )
    return found[0]


def formula_mismatch(
    formula: object, structure: object, tolerance: float = FORMULA_TOLERANCE
) -> str | None:
    """Why ``structure`` is not the compound ``formula`` names, or None when they agree
    (the same elements, each atomic fraction within ``tolerance``; oxidation states,
    cell size and partial occupancies do not matter). An unreadable formula is None here:
    the formula's own featurization reports it.

    Args:
        formula: the row's formula text.
        structure: the row's parsed pymatgen ``Structure``.
        tolerance: the largest difference of one element's atomic fraction.
    """
    from foundation_model.features.composition import parse_formula

    try:
        named = parse_formula(formula).element_composition
    except Exception:
        return None
    comp = structure.composition.element_composition
    want, has = named.fractional_composition, comp.fractional_composition
    worst = max(abs(want[el] - has[el]) for el in set(want.elements) | set(has.elements))
    if worst <= tolerance:
        return None
    return (
        f"the structure is {comp.reduced_formula}, not the formula's "
        f"{named.reduced_formula} (atomic fractions differ by up to {worst:.2f}); give each "
        "row the structure of its formula"
    )


def formula_mismatches(formulas: Sequence[object], cells: Sequence[object]) -> dict[int, str]:
    """Per row (0-based position) whose structure cell is readable but is another compound
    than its formula, the reason (:func:`formula_mismatch`). Blank or unreadable cells are
    skipped: the structure featurization reports those. Cells are parsed here a second time
    on purpose: featurization results are cached by the cells alone (not their formulas), and
    parsing is a small part of featurizing.

    Args:
        formulas: formula texts.
        cells: structure cells, aligned with ``formulas``.
    """
    out: dict[int, str] = {}
    for i, (formula, cell) in enumerate(zip(formulas, cells, strict=True)):
        try:
            with warnings.catch_warnings():  # as in featurizing: pymatgen's CIF notes
                warnings.simplefilter("ignore")
                structure = parse_structure(cell)
        except Exception:
            continue
        reason = formula_mismatch(formula, structure)
        if reason is not None:
            out[i] = reason
    return out


def featurize_structures(
    structures: Sequence[object],
    specs: list[FeaturizerSpec],
    n_jobs: int = 1,
    chunk_size: int = 64,
    progress: bool = True,
    chunks: ChunkStore | None = None,
) -> RawFeatures:
    """Featurize structure cells; unparsable or failing ones are recorded as errors.

    Args:
        structures: CIF / JSON / extxyz / POSCAR strings (or ``Structure`` objects).
        specs: structure featurizer specs.
        n_jobs: worker processes.
        chunk_size: structures per work unit.
        progress: show a tqdm bar.
        chunks: store of finished chunks, for resuming an interrupted run (None: none).
    """
    raw = run_featurizers(
        list(structures), parse_structure, specs, n_jobs, chunk_size, progress, "structures", chunks
    )
    for i, reason in raw.errors.items():  # matminer's words for it do not say what to do
        if "Disordered structure support" in reason:
            raw.errors[i] = (
                f"{reason} (a disordered structure, with partial occupancies: give an "
                "ordered cell, e.g. a supercell, or leave the cell blank to use the formula "
                "alone)"
            )
    return raw
