"""Featurization of compositions (and optionally structures) with matminer.

* :mod:`.presets` — named featurizer sets (``magpie``, ``rich``, ``structure_basic``).
* :mod:`.composition` — parallel, error-tolerant composition featurization.
* :mod:`.structure` — parsing CIF / pymatgen-JSON / extxyz cells and structure featurization.
* :mod:`.cache` — on-disk cache keyed by the inputs and the featurizer configuration.
* :mod:`.imputation` — the documented NaN policy (drop all-NaN columns, fill column medians).
* :mod:`.selection` — relevance-redundancy choice of descriptor columns on training rows.
* :mod:`.table_io` — reading/writing tables by suffix, atomically.
* :mod:`.pipeline` — ``featurize_table``: the whole flow used by ``fm featurize``.
"""

from foundation_model.features.imputation import MedianImputer
from foundation_model.features.pipeline import FeaturizeResult, featurize_table
from foundation_model.features.presets import COMPOSITION_PRESETS, STRUCTURE_PRESETS

__all__ = [
    "COMPOSITION_PRESETS",
    "STRUCTURE_PRESETS",
    "FeaturizeResult",
    "MedianImputer",
    "featurize_table",
]
