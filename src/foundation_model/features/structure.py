"""Structure featurization: CIF / pymatgen-JSON / extxyz cells -> matminer descriptors."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence

from foundation_model.features.presets import FeaturizerSpec
from foundation_model.features.runner import RawFeatures, run_featurizers

#: the reason given for a blank structure cell (a row may have none)
MISSING_STRUCTURE = "empty or missing structure"


def parse_structure(text: object) -> object:
    """Parse one structure cell into a pymatgen ``Structure``.

    The format is recognised from the text: a JSON object (``Structure.as_dict()``), a CIF
    (contains ``data_`` and ``_cell_length_a``), otherwise extended XYZ (read with ASE).

    Args:
        text: the cell content.
    """
    from pymatgen.core import Structure

    if isinstance(text, Structure):
        return text
    if not isinstance(text, str) or not text.strip():
        raise ValueError(MISSING_STRUCTURE)
    body = text.strip()
    if body.startswith("{"):
        return Structure.from_dict(json.loads(body))
    if "_cell_length_a" in body and "data_" in body:
        return Structure.from_str(body, fmt="cif")
    from ase.io import read
    from pymatgen.io.ase import AseAtomsAdaptor

    atoms = read(io.StringIO(body), format="extxyz")
    if not atoms.pbc.all():
        raise ValueError("extxyz structure is not periodic in 3D (needs a Lattice with pbc)")
    return AseAtomsAdaptor.get_structure(atoms)


def featurize_structures(
    structures: Sequence[object],
    specs: list[FeaturizerSpec],
    n_jobs: int = 1,
    chunk_size: int = 64,
    progress: bool = True,
) -> RawFeatures:
    """Featurize structure cells; unparsable or failing ones are recorded as errors.

    Args:
        structures: CIF / JSON / extxyz strings (or ``Structure`` objects).
        specs: structure featurizer specs.
        n_jobs: worker processes.
        chunk_size: structures per work unit.
        progress: show a tqdm bar.
    """
    return run_featurizers(
        list(structures), parse_structure, specs, n_jobs, chunk_size, progress, "structures"
    )
