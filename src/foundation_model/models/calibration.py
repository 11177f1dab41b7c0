"""Calibration of Gaussian predictive uncertainty: coverage, miscalibration area, rescaling.

A prediction ``mu ± sigma`` is calibrated when, for every central probability ``p``, a
fraction ``p`` of the true values falls inside the central ``p`` interval of
``N(mu, sigma^2)``. The *miscalibration area* is the mean absolute gap between expected and
observed coverage over ``p`` in (0, 1) (0 = perfect, 0.5 = worst).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm, spearmanr

LEVELS = np.linspace(0.01, 0.99, 99)


def _valid(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y, mu, sigma = (np.asarray(a, dtype=np.float64).ravel() for a in (y, mu, sigma))
    ok = np.isfinite(y) & np.isfinite(mu) & np.isfinite(sigma) & (sigma > 0)
    return np.abs(y[ok] - mu[ok]), sigma[ok]


def observed_coverage(z: np.ndarray, levels: np.ndarray = LEVELS) -> np.ndarray:
    """Fraction of ``|z|`` inside the central interval of each probability level."""
    half_widths = norm.ppf(0.5 + levels / 2.0)  # (P,)
    return (np.abs(z)[None, :] <= half_widths[:, None]).mean(axis=1)


def miscalibration_area(z: np.ndarray) -> float:
    """Mean ``|observed - expected|`` coverage over :data:`LEVELS`."""
    if z.size == 0:
        return float("nan")
    return float(np.abs(observed_coverage(z) - LEVELS).mean())


def calibration_metrics(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> dict[str, float]:
    """Coverage of ±1σ/±2σ, miscalibration area and the rank correlation of |error| vs σ.

    Args:
        y: true values.
        mu: predicted means.
        sigma: predicted standard deviations (rows with a non-finite or zero σ are skipped).
    """
    err, sigma = _valid(y, mu, sigma)
    if err.size < 2:
        return {}
    z = err / sigma
    rho = spearmanr(err, sigma).statistic if np.ptp(sigma) > 0 else float("nan")
    return {
        "coverage_1sigma": float((z <= 1.0).mean()),
        "coverage_2sigma": float((z <= 2.0).mean()),
        "miscalibration_area": miscalibration_area(z),
        "spearman_error_sigma": float(rho),
        "n": float(err.size),
    }


def fit_sigma_scale(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> float:
    """Factor ``s`` for ``s * sigma`` that minimises the miscalibration area on these rows.

    Fitted on validation rows only; returns 1.0 when there is nothing to fit on.

    Args:
        y: true values (validation rows).
        mu: predicted means.
        sigma: predicted (uncalibrated) standard deviations.
    """
    err, sigma = _valid(y, mu, sigma)
    if err.size < 5:
        return 1.0
    z = err / sigma
    rms = float(np.sqrt(np.mean(z**2)))  # the Gaussian-NLL optimum: a good centre
    grid = rms * np.exp(np.linspace(-1.5, 1.5, 121))
    areas = [miscalibration_area(z / s) for s in grid]
    return float(grid[int(np.argmin(areas))])
