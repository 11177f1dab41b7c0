"""Relevance-redundancy selection of descriptor columns, fitted on training rows only.

A composition table from matminer has a few hundred columns, many of them near-copies of
each other (the mean, mode and range of one elemental property) and many unrelated to a
given target. A forest ignores such columns on its own; a network on a few hundred rows
spends capacity on them. The selector ranks columns greedily:

1. relevance ``r_j``: the mutual information between column ``j`` and the target
   (scikit-learn's k-nearest-neighbour estimator; ``mutual_info_classif`` for class labels);
2. redundancy: the largest absolute Spearman correlation between ``j`` and any column
   already chosen;
3. the next column is the one with the largest ``r_j * (1 - redundancy_j)``: a column that
   nearly repeats a chosen one keeps a small share of its relevance.

The first column is the most relevant one. Constant columns are never chosen. Missing
values are filled with the fitting rows' medians before any score is computed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class RelevanceRedundancySelector:
    """Keep the ``k`` descriptor columns with the best relevance-redundancy score.

    Args:
        k: columns to keep (all non-constant columns when there are fewer).
        task_type: ``"regression"`` or ``"classification"`` (picks the MI estimator).
        seed: seed of the mutual-information estimator's jitter.

    Attributes:
        columns_: the chosen columns in the order they were picked (set by :meth:`fit`).
        relevance_: mutual information of every non-constant column with the target.
    """

    def __init__(self, k: int, task_type: str = "regression", seed: int = 0) -> None:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}.")
        if task_type not in ("regression", "classification"):
            raise ValueError(
                f"task_type must be 'regression' or 'classification', got {task_type!r}."
            )
        self.k = k
        self.task_type = task_type
        self.seed = seed
        self.columns_: list[str] | None = None
        self.relevance_: pd.Series | None = None

    def fit(self, x: pd.DataFrame, y: pd.Series | np.ndarray) -> RelevanceRedundancySelector:
        """Choose the columns from the fitting rows ``x`` and their targets ``y``.

        Args:
            x: numeric descriptors of the fitting rows (NaN = missing).
            y: target of each row (no NaN).
        """
        from sklearn.feature_selection import mutual_info_classif, mutual_info_regression

        target = np.asarray(y)
        if len(target) != len(x):
            raise ValueError(f"x has {len(x)} rows but y has {len(target)}.")
        if len(target) and pd.isna(target).any():
            raise ValueError("y has missing values; drop those rows before selecting columns.")
        filled = x.fillna(x.median())
        varying = filled.columns[filled.nunique(dropna=True) > 1]
        if len(varying) == 0:
            raise ValueError("Every descriptor column is constant on the fitting rows.")
        values = filled[varying].to_numpy(dtype=float)
        classify = self.task_type == "classification"
        estimator = mutual_info_classif if classify else mutual_info_regression
        relevance = estimator(values, target, random_state=self.seed)
        self.relevance_ = pd.Series(relevance, index=varying)
        ranks = pd.DataFrame(values).rank().to_numpy()
        ranks = (ranks - ranks.mean(axis=0)) / ranks.std(axis=0)
        n = len(ranks)
        redundancy = np.zeros(len(varying))
        chosen: list[int] = []
        for _ in range(min(self.k, len(varying))):
            score = relevance * (1.0 - redundancy)
            score[chosen] = -np.inf
            pick = int(np.argmax(score))
            chosen.append(pick)
            rho = np.abs(ranks.T @ ranks[:, pick]) / n
            redundancy = np.maximum(redundancy, np.clip(rho, 0.0, 1.0))
        self.columns_ = [str(varying[i]) for i in chosen]
        return self

    def transform(self, x: pd.DataFrame) -> pd.DataFrame:
        """``x`` restricted to the chosen columns, in the order they were picked.

        Args:
            x: a table with (at least) the fitted columns.
        """
        if self.columns_ is None:
            raise RuntimeError("Call fit() before transform().")
        missing = [c for c in self.columns_ if c not in x.columns]
        if missing:
            raise ValueError(
                f"{len(missing)} chosen column(s) are not in the table (first: {missing[0]!r}); "
                "featurize it with the same preset as the fitting rows."
            )
        return x[self.columns_]
