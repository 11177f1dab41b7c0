"""Rows of one compound on both sides of a split: a warning, since their scores flatter.

A table that lists a compound twice (the same formula from two sources, ``Fe2O3`` and
``Fe4O6``) gives both rows the same descriptors. Split apart, the test (or validation) row
has a training row with the same input, and its error says little about new compounds.
"""

from __future__ import annotations

import numpy as np

from foundation_model.data.splitters import SplitIndices
from foundation_model.utils.warn_once import warn_once


class SharedRowsWarning(UserWarning):
    """Validation or test rows whose descriptors equal a training row's (benchmarks with
    fixed protocol folds, such as Matbench's, filter it: the folds are given)."""


def _row_keys(x: np.ndarray) -> list[bytes]:
    return [row.tobytes() for row in np.ascontiguousarray(x, dtype=np.float32)]


def shared_rows(
    x_formula: np.ndarray, x_structure: np.ndarray | None, splits: SplitIndices
) -> dict[str, int]:
    """Per split (``val``, ``test``), how many of its rows have a training row with the same
    descriptors (formula and, where given, structure descriptors).

    Args:
        x_formula: ``(N, F)`` formula descriptors as read (NaN where missing: rows without
            any are not compared).
        x_structure: ``(N, S)`` structure descriptors (zeros where absent), or None.
        splits: the split.
    """
    x = x_formula if x_structure is None else np.concatenate([x_formula, x_structure], axis=1)
    keys = _row_keys(x)
    # a row without any descriptor says nothing about which compound it is
    known = ~np.isnan(np.asarray(x_formula, dtype=np.float64)).all(axis=1)
    seen = {keys[i] for i in splits.train if known[i]}
    return {
        name: int(sum(known[i] and keys[i] in seen for i in rows))
        for name, rows in (("val", splits.val), ("test", splits.test))
    }


def warn_shared_rows(
    x_formula: np.ndarray, x_structure: np.ndarray | None, splits: SplitIndices
) -> None:
    """Warn (:class:`SharedRowsWarning`) when validation or test rows repeat training rows.

    Args:
        x_formula: ``(N, F)`` formula descriptors as read (before the medians fill them).
        x_structure: ``(N, S)`` structure descriptors, or None.
        splits: the split.
    """
    counts = shared_rows(x_formula, x_structure, splits)
    parts = [f"{n} of {len(getattr(splits, name))} {name} rows" for name, n in counts.items() if n]
    if parts:
        warn_once(
            f"{' and '.join(parts)} have a training row with the same descriptors (one "
            "compound listed twice?), so their scores flatter the model: merge such rows, or "
            "give a compound's rows one split (PredefinedSplitter with a split column).",
            SharedRowsWarning,
        )
