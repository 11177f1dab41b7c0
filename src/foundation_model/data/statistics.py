"""Train-split statistics handed from the data module to the model's scalers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np

#: how descriptor bin edges are placed (see :func:`bin_edges`)
BinEdgeRule = Literal["quantile", "dominant"]
BIN_EDGE_RULES: tuple[str, ...] = get_args(BinEdgeRule)


@dataclass
class DataStatistics:
    """Means and standard deviations computed on the train split only.

    Attributes:
        formula_mean, formula_std: ``(F,)`` per formula descriptor.
        structure_mean, structure_std: ``(S,)`` per structure descriptor (rows with a structure).
        targets: per regression/sequence task, ``(mean, std)`` of the (log-)target.
        seq_x: per sequence task, ``(mean, std)`` of the input points.
        formula_quantiles: ``(T + 1, F)`` bin edges of each formula descriptor for a model
            with ``formula_bins = T`` (:func:`bin_edges`), or None when not asked for.
    """

    formula_mean: np.ndarray
    formula_std: np.ndarray
    structure_mean: np.ndarray | None = None
    structure_std: np.ndarray | None = None
    targets: dict[str, tuple[float, float]] = field(default_factory=dict)
    seq_x: dict[str, tuple[float, float]] = field(default_factory=dict)
    formula_quantiles: np.ndarray | None = None


def bin_edges(x: np.ndarray, n_bins: int, rule: BinEdgeRule = "quantile") -> np.ndarray:
    """Per-column bin edges ``(n_bins + 1, F)`` of training values ``x (N, F)``, ascending.

    ``quantile``: the quantiles at ``linspace(0, 1, n_bins + 1)``. Where one value holds many
    rows (the 0 of an element fraction absent from most compounds) the quantiles repeat and
    the column keeps few bins, often none over the values that differ.
    ``dominant``: a column whose most frequent value holds at least ``1 / n_bins`` of the
    rows gets that value as an edge and the other rows' quantiles at
    ``linspace(0, 1, n_bins)`` as the rest, so the range of the values that differ is still
    cut into up to ``n_bins - 1`` bins (the bin between the dominant value and the nearest
    other one separates the two); other columns get the plain quantiles.

    Repeated edges (fewer distinct values than bins) are left in; the encoding merges them.

    Raises:
        ValueError: an unknown rule or ``n_bins < 1``.
    """
    if rule not in BIN_EDGE_RULES:
        raise ValueError(f"bin edge rule must be one of {list(BIN_EDGE_RULES)}, got {rule!r}.")
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}.")
    x = np.asarray(x)  # quantiles in the data's own precision (float32 tensors in training)
    edges = np.quantile(x, np.linspace(0.0, 1.0, n_bins + 1), axis=0)
    if rule == "quantile" or n_bins < 2 or len(x) == 0:
        return edges
    for j in range(x.shape[1]):
        values, counts = np.unique(x[:, j], return_counts=True)
        top = int(np.argmax(counts))
        if values.size < 2 or counts[top] * n_bins < len(x):
            continue
        rest = x[:, j][x[:, j] != values[top]]
        cut = np.quantile(rest, np.linspace(0.0, 1.0, n_bins))
        edges[:, j] = np.sort(np.append(cut, values[top]))
    return edges
