"""Data: tables, splitters, scalers, the stacked-tensor dataset and ``CompoundDataModule``."""

from foundation_model.data.batch import Batch
from foundation_model.data.datamodule import CompoundDataModule
from foundation_model.data.splitters import (
    KFoldSplitter,
    PredefinedSplitter,
    RandomSplitter,
    StratifiedSplitter,
)

__all__ = [
    "Batch",
    "CompoundDataModule",
    "KFoldSplitter",
    "PredefinedSplitter",
    "RandomSplitter",
    "StratifiedSplitter",
]
