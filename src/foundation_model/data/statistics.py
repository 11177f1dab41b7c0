"""Train-split statistics handed from the data module to the model's scalers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class DataStatistics:
    """Means and standard deviations computed on the train split only.

    Attributes:
        formula_mean, formula_std: ``(F,)`` per formula descriptor.
        structure_mean, structure_std: ``(S,)`` per structure descriptor (rows with a structure).
        targets: per regression/sequence task, ``(mean, std)`` of the (log-)target.
        seq_x: per sequence task, ``(mean, std)`` of the input points.
        formula_quantiles: ``(T + 1, F)`` quantiles of each formula descriptor at
            ``linspace(0, 1, T + 1)`` (bin edges of a model with ``formula_bins = T``), or
            None when not asked for.
    """

    formula_mean: np.ndarray
    formula_std: np.ndarray
    structure_mean: np.ndarray | None = None
    structure_std: np.ndarray | None = None
    targets: dict[str, tuple[float, float]] = field(default_factory=dict)
    seq_x: dict[str, tuple[float, float]] = field(default_factory=dict)
    formula_quantiles: np.ndarray | None = None
