"""Parity plot of predicted vs true values for a regression task."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from foundation_model.models.metrics import regression_metrics
from foundation_model.plotting._figure import new_figure, save


def parity_plot(y_true: np.ndarray, y_pred: np.ndarray, title: str, path: Path) -> Path:
    """Scatter ``y_pred`` against ``y_true`` with the identity line and MAE/R² in the title."""
    fig, (ax,) = new_figure()
    ax.scatter(y_true, y_pred, s=8, alpha=0.6)
    if y_true.size:
        lo = float(min(y_true.min(), y_pred.min()))
        hi = float(max(y_true.max(), y_pred.max()))
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    m = regression_metrics(y_true, y_pred)
    ax.set_title(
        f"{title}\nMAE={m.get('mae', np.nan):.4g}  R²={m.get('r2', np.nan):.3f}  n={y_true.size}"
    )
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    return save(fig, path)
