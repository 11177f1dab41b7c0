"""Train/validation/test splitters. Each is chosen in YAML with ``class_path``.

Every splitter returns positional index arrays into the data module's table and is
deterministic for a given seed.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split


@dataclass
class SplitIndices:
    """Positional indices of each split."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def labels(self, n: int) -> np.ndarray:
        """Array of ``"train"/"val"/"test"`` (``""`` if in none) for ``n`` rows."""
        out = np.full(n, "", dtype=object)
        out[self.train], out[self.val], out[self.test] = "train", "val", "test"
        return out


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction={val_fraction} and test_fraction={test_fraction} must be >= 0 "
            "and sum to less than 1."
        )


def _fraction_split(
    idx: np.ndarray, fraction: float, seed: int, stratify: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``idx`` into ``(rest, taken)`` with ``taken`` about ``fraction`` of it."""
    if fraction <= 0 or len(idx) < 2:
        return idx, idx[:0]
    if stratify is not None:
        values, counts = np.unique(stratify, return_counts=True)
        if counts.min() < 2:
            rare = [str(v) for v in values[counts < 2]][:5]
            raise ValueError(
                f"StratifiedSplitter: class(es) {rare} have a single row, which cannot be "
                "split; merge or drop them, or use RandomSplitter."
            )
    try:
        rest, taken = train_test_split(
            idx, test_size=fraction, random_state=seed, stratify=stratify
        )
    except ValueError as err:  # too few rows for one row of each class in both parts
        if stratify is None:
            raise
        raise ValueError(
            f"StratifiedSplitter: {len(idx)} rows cannot be split {fraction:.2f} / "
            f"{1 - fraction:.2f} keeping every class on both sides ({err}); use larger "
            "val_fraction/test_fraction, more rows, or RandomSplitter."
        ) from None
    return np.sort(rest), np.sort(taken)


class Splitter(ABC):
    """Base class: ``split(ids, attributes) -> SplitIndices``."""

    @abstractmethod
    def split(self, ids: pd.Index, attributes: pd.DataFrame | None) -> SplitIndices:
        """Split ``len(ids)`` rows; ``attributes`` is aligned to ``ids`` (or None)."""


class RandomSplitter(Splitter):
    """Random split.

    Args:
        val_fraction: fraction of rows for validation.
        test_fraction: fraction of rows for test.
        seed: random seed.
    """

    def __init__(
        self, val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 42
    ) -> None:
        _check_fractions(val_fraction, test_fraction)
        self.val_fraction, self.test_fraction, self.seed = val_fraction, test_fraction, seed

    def split(self, ids: pd.Index, attributes: pd.DataFrame | None) -> SplitIndices:
        idx = np.arange(len(ids))
        rest, test = _fraction_split(idx, self.test_fraction, self.seed)
        val_share = self.val_fraction / (1.0 - self.test_fraction)
        train, val = _fraction_split(rest, val_share, self.seed + 1)
        return SplitIndices(train, val, test)


class StratifiedSplitter(Splitter):
    """Split that keeps the class balance of one attributes column (e.g. a label).

    Rows with a missing value in ``column`` form their own stratum.

    Args:
        column: attributes column to stratify on.
        val_fraction: fraction of rows for validation.
        test_fraction: fraction of rows for test.
        seed: random seed.
    """

    def __init__(
        self, column: str, val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 42
    ) -> None:
        _check_fractions(val_fraction, test_fraction)
        self.column = column
        self.val_fraction, self.test_fraction, self.seed = val_fraction, test_fraction, seed

    def split(self, ids: pd.Index, attributes: pd.DataFrame | None) -> SplitIndices:
        if attributes is None or self.column not in attributes.columns:
            raise KeyError(
                f"StratifiedSplitter: column {self.column!r} not found in the attributes table."
            )
        strata = attributes[self.column].astype(str).to_numpy()
        idx = np.arange(len(ids))
        rest, test = _fraction_split(idx, self.test_fraction, self.seed, strata)
        val_share = self.val_fraction / (1.0 - self.test_fraction)
        train, val = _fraction_split(rest, val_share, self.seed + 1, strata[rest])
        return SplitIndices(train, val, test)


class PredefinedSplitter(Splitter):
    """Split given by an attributes column holding ``train``/``val``/``test`` per row.

    Rows with any other value (or missing) are left out of all three splits.

    Args:
        column: attributes column with the split names.
    """

    def __init__(self, column: str = "split") -> None:
        self.column = column

    def split(self, ids: pd.Index, attributes: pd.DataFrame | None) -> SplitIndices:
        if attributes is None or self.column not in attributes.columns:
            raise KeyError(
                f"PredefinedSplitter: split column {self.column!r} not found in the "
                "attributes table."
            )
        names = attributes[self.column].astype(str).str.lower().str.strip().to_numpy()
        names = np.where(names == "valid", "val", np.where(names == "validation", "val", names))
        out = SplitIndices(*(np.flatnonzero(names == s) for s in ("train", "val", "test")))
        if len(out.train) == 0:
            raise ValueError(f"PredefinedSplitter: no row has {self.column}='train'.")
        values = attributes[self.column]
        stray = values.notna().to_numpy() & ~np.isin(names, ["train", "val", "test", ""])
        if stray.any():
            shown = sorted({str(v) for v in values.to_numpy()[stray]})[:5]
            warnings.warn(
                f"PredefinedSplitter: {int(stray.sum())} row(s) with {self.column} = {shown} are "
                "in no split (expected train, val or test; empty leaves a row out on purpose).",
                stacklevel=2,
            )
        return out


class KFoldSplitter(Splitter):
    """K-fold cross-validation: fold ``fold`` is the test set, validation taken from the rest.

    Args:
        n_folds: number of folds.
        fold: which fold (0-based) is the test set.
        val_fraction: fraction of the remaining rows for validation.
        seed: random seed for the fold assignment.
        stratify_column: optional attributes column for stratified folds.
    """

    def __init__(
        self,
        n_folds: int = 5,
        fold: int = 0,
        val_fraction: float = 0.1,
        seed: int = 42,
        stratify_column: str | None = None,
    ) -> None:
        if n_folds < 2 or not 0 <= fold < n_folds:
            raise ValueError(f"Need n_folds >= 2 and 0 <= fold < n_folds, got {n_folds=}, {fold=}.")
        _check_fractions(val_fraction, 0.0)
        self.n_folds, self.fold, self.val_fraction, self.seed = n_folds, fold, val_fraction, seed
        self.stratify_column = stratify_column

    def split(self, ids: pd.Index, attributes: pd.DataFrame | None) -> SplitIndices:
        idx = np.arange(len(ids))
        strata = None
        if self.stratify_column:
            if attributes is None or self.stratify_column not in attributes.columns:
                raise KeyError(f"KFoldSplitter: column {self.stratify_column!r} not in attributes.")
            strata = attributes[self.stratify_column].astype(str).to_numpy()
            folds = StratifiedKFold(self.n_folds, shuffle=True, random_state=self.seed).split(
                idx, strata
            )
        else:
            folds = KFold(self.n_folds, shuffle=True, random_state=self.seed).split(idx)
        rest, test = list(folds)[self.fold]
        train, val = _fraction_split(
            rest, self.val_fraction, self.seed + 1, None if strata is None else strata[rest]
        )
        return SplitIndices(train, val, np.sort(test))
