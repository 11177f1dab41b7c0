"""Composition featurization: formula strings -> matminer descriptors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from foundation_model.features.presets import FeaturizerSpec
from foundation_model.features.runner import RawFeatures, run_featurizers


def parse_formula(formula: object) -> object:
    """Parse one formula into a pymatgen ``Composition``; raises with the reason.

    Args:
        formula: a formula string such as ``"Fe2O3"`` or ``"Fe0.7Ni0.3"``.
    """
    from pymatgen.core import Composition, Element

    if not isinstance(formula, str) or not formula.strip():
        raise ValueError("empty or missing formula")
    comp = Composition(formula.strip())
    unknown = [str(el) for el in comp.elements if not isinstance(el, Element)]
    if unknown:
        raise ValueError(f"{', '.join(unknown)} is not a chemical element")
    if comp.num_atoms <= 0:
        raise ValueError(f"formula {formula!r} has no atoms")
    if any(amount < 0 for amount in comp.values()):
        raise ValueError(f"formula {formula!r} has negative amounts")
    return comp


def featurize_formulas(
    formulas: Sequence[str],
    specs: list[FeaturizerSpec],
    n_jobs: int = 1,
    chunk_size: int = 256,
    progress: bool = True,
) -> RawFeatures:
    """Featurize formulas; each distinct formula is computed once.

    Args:
        formulas: formula strings (duplicates allowed).
        specs: composition featurizer specs.
        n_jobs: worker processes.
        chunk_size: formulas per work unit.
        progress: show a tqdm bar.
    """
    keys = [f.strip() if isinstance(f, str) else "" for f in formulas]  # missing -> ""
    unique: dict[str, int] = {}
    for key in keys:
        unique.setdefault(key, len(unique))
    raw = run_featurizers(
        list(unique), parse_formula, specs, n_jobs, chunk_size, progress, "formulas"
    )
    back = np.array([unique[k] for k in keys], dtype=np.int64)
    errors = {i: raw.errors[int(u)] for i, u in enumerate(back) if int(u) in raw.errors}
    return RawFeatures(raw.values[back], raw.columns, errors)
