"""The NaN policy for descriptor tables.

Some matminer descriptors are undefined for some inputs (e.g. an elemental property that
is unknown for an element). Before a table reaches a model:

1. columns that are NaN in every row of the fitting set are dropped;
2. every remaining NaN is replaced by its column's median over the fitting set.

``fm featurize`` fits on the whole featurized table (no labels are involved). The Matbench
runner refits on each fold's training rows only, so test rows never inform the fill values.
Rows whose input failed entirely are not imputed: they are removed and listed in the
errors side file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class MedianImputer:
    """Drop all-NaN columns, fill remaining NaNs with column medians.

    Attributes:
        columns_: kept columns (set by :meth:`fit`).
        dropped_: columns dropped because they were all NaN.
        medians_: fill value per kept column.
    """

    def __init__(self) -> None:
        self.columns_: list[str] | None = None
        self.dropped_: list[str] = []
        self.medians_: pd.Series | None = None

    def fit(self, df: pd.DataFrame) -> MedianImputer:
        """Learn kept columns and medians from ``df``.

        Args:
            df: numeric descriptor table.
        """
        if len(df) == 0:
            raise ValueError("MedianImputer.fit: the table has no rows.")
        numeric = df.apply(pd.to_numeric, errors="coerce").replace([np.inf, -np.inf], np.nan)
        all_nan = numeric.isna().all(axis=0)
        self.dropped_ = [str(c) for c in numeric.columns[all_nan]]
        self.columns_ = [c for c in numeric.columns if not all_nan[c]]
        self.medians_ = numeric[self.columns_].median(axis=0)
        return self

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Return ``df`` restricted to kept columns with NaNs filled (float64).

        Args:
            df: table with (at least) the fitted columns.
        """
        if self.columns_ is None or self.medians_ is None:
            raise RuntimeError("MedianImputer: call fit() before transform().")
        missing = [c for c in self.columns_ if c not in df.columns]
        if missing:
            raise KeyError(
                f"MedianImputer: column(s) {missing[:5]} missing; featurize with the same preset."
            )
        out = df[self.columns_].apply(pd.to_numeric, errors="coerce").astype(np.float64)
        out = out.replace([np.inf, -np.inf], np.nan)
        return out.fillna(self.medians_)

    def fit_transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """:meth:`fit` then :meth:`transform` on the same table.

        Args:
            df: numeric descriptor table.
        """
        return self.fit(df).transform(df)

    def summary(self) -> dict[str, object]:
        """What was done, for logs and JSON reports."""
        return {
            "policy": "drop all-NaN columns; fill NaN with column median",
            "dropped_columns": self.dropped_,
        }
