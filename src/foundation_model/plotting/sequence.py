"""Predicted vs true curves of a sequence task for a few rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from foundation_model.plotting._figure import new_figure, save


def sequence_plot(
    x: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    mask: np.ndarray,
    title: str,
    path: Path,
    n_curves: int = 6,
    xlabel: str = "x",
    ylabel: str = "y",
) -> Path:
    """Overlay true (markers) and predicted (lines) curves of up to ``n_curves`` labelled rows.

    All arrays are ``(N, L)``; ``mask`` marks labelled points.
    """
    fig, (ax,) = new_figure(size=(6.0, 4.5))
    rows = np.flatnonzero(mask.any(axis=1))[:n_curves]
    for i, r in enumerate(rows):
        m = mask[r]
        color = f"C{i % 10}"
        ax.plot(x[r, m], y_true[r, m], "o", color=color, ms=3)
        ax.plot(x[r, m], y_pred[r, m], "-", color=color, lw=1.2)
    ax.set_title(f"{title}: true (dots) vs predicted (lines)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return save(fig, path)
