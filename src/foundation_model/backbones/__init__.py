"""MLIP backbone adapters, the fine-tuning module, data module and ASE calculator.

Names are imported lazily, so ``import foundation_model.backbones`` is cheap and optional
packages (``sevenn``, ``chgnet``, ``mace``) are only imported when their adapter is used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "MLIPBackbone": "base",
    "BackboneOutput": "base",
    "SchNetBackbone": "schnet",
    "SevenNetBackbone": "sevennet",
    "CHGNetBackbone": "chgnet",
    "MACEBackbone": "mace",
    "build_small_mace": "mace",
    "EnergyProperty": "properties",
    "ForcesProperty": "properties",
    "StressProperty": "properties",
    "GraphProperty": "properties",
    "PropertyConfig": "properties",
    "AtomsDataset": "data",
    "read_structures": "data",
    "extract_labels": "data",
    "MLIPDataModule": "datamodule",
    "MLIPBatch": "batch",
    "MLIPFineTuneModule": "module",
    "MLIPCalculator": "calculator",
    "pretrained_backbone": "calculator",
    "embedding_table": "embedding",
    "embedding_table_from_file": "embedding",
    "run_md": "md",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
    return getattr(module, name)


def __dir__() -> list[str]:
    return __all__
