"""Calibration plot: expected vs observed coverage, and error vs predicted σ."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from foundation_model.plotting._figure import new_figure, save


def calibration_plot(
    y: np.ndarray, mu: np.ndarray, sigma: np.ndarray, title: str, path: Path, bins: int = 8
) -> Path:
    """Left: observed vs expected coverage of central Gaussian intervals (diagonal = ideal).
    Right: RMSE of rows binned by predicted σ against the bin's mean σ (diagonal = ideal).

    Args:
        y: true values.
        mu: predicted means.
        sigma: predicted standard deviations.
        title: plot title.
        path: PNG path.
        bins: number of σ quantile bins.
    """
    from foundation_model.models.calibration import (
        LEVELS,
        calibration_metrics,
        observed_coverage,
    )

    y, mu, sigma = (np.asarray(a, dtype=float).ravel() for a in (y, mu, sigma))
    ok = np.isfinite(y) & np.isfinite(mu) & np.isfinite(sigma) & (sigma > 0)
    y, mu, sigma = y[ok], mu[ok], sigma[ok]
    err = np.abs(y - mu)
    stats = calibration_metrics(y, mu, sigma)
    fig, (ax1, ax2) = new_figure(2)
    ax1.plot([0, 1], [0, 1], "k--", lw=1)
    ax1.plot(LEVELS, observed_coverage(err / sigma), lw=2)
    ax1.set_xlabel("expected coverage")
    ax1.set_ylabel("observed coverage")
    ax1.set_title(
        f"{title}\n1σ {stats.get('coverage_1sigma', np.nan):.2f}, "
        f"2σ {stats.get('coverage_2sigma', np.nan):.2f}, "
        f"area {stats.get('miscalibration_area', np.nan):.3f}",
        fontsize=9,
    )
    edges = np.quantile(sigma, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, sigma, side="right") - 1, 0, bins - 1)
    s_mean = [sigma[which == b].mean() for b in range(bins) if (which == b).any()]
    rmse = [np.sqrt((err[which == b] ** 2).mean()) for b in range(bins) if (which == b).any()]
    top = max(max(s_mean, default=1.0), max(rmse, default=1.0))
    ax2.plot([0, top], [0, top], "k--", lw=1)
    ax2.plot(s_mean, rmse, "o-")
    ax2.set_xlabel("mean predicted σ (bin)")
    ax2.set_ylabel("RMSE (bin)")
    ax2.set_title(
        f"Spearman |err| vs σ: {stats.get('spearman_error_sigma', np.nan):.2f}", fontsize=9
    )
    return save(fig, path)
