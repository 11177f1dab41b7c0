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


def fit_sigma_calibration(y: np.ndarray, mu: np.ndarray, spread: np.ndarray) -> tuple[float, float]:
    """``(scale, floor)`` of ``sigma = sqrt((scale * spread)^2 + floor^2)`` that minimise the
    Gaussian negative log-likelihood on these rows (validation rows only).

    The floor is the part of the error that the members' spread does not see (noise of the
    labels, shared errors of the encoder). Returns ``(1.0, 0.0)`` with too few rows.

    Args:
        y: true values.
        mu: predicted means.
        spread: uncalibrated ensemble spread (same units as ``y``).
    """
    from scipy.optimize import minimize

    y, mu, spread = (np.asarray(a, dtype=np.float64).ravel() for a in (y, mu, spread))
    ok = np.isfinite(y) & np.isfinite(mu) & np.isfinite(spread)
    err2, sp2 = (y[ok] - mu[ok]) ** 2, spread[ok] ** 2
    if err2.size < 5:
        return 1.0, 0.0
    scale_ref = float(np.sqrt(err2.mean()))  # the error level: keeps the search well scaled
    if scale_ref <= 0:
        return 1.0, 0.0

    def nll(params: np.ndarray) -> float:
        a, b = np.exp(params)  # scale, floor / scale_ref
        var = a**2 * sp2 + (b * scale_ref) ** 2 + 1e-12 * scale_ref**2
        return float(0.5 * np.mean(np.log(var) + err2 / var))

    mean_sp = float(np.sqrt(sp2.mean())) or 1.0
    start = np.log([max(scale_ref / mean_sp * 0.5, 1e-6), 0.5])
    res = minimize(nll, start, method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-8})
    a, b = np.exp(res.x)
    return float(a), float(b * scale_ref)
