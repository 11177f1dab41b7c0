"""Calibration of Gaussian predictive uncertainty: coverage, miscalibration area, rescaling.

A prediction ``mu ± sigma`` is calibrated when, for every central probability ``p``, a
fraction ``p`` of the true values falls inside the central ``p`` interval of
``N(mu, sigma^2)``. The *miscalibration area* is the mean absolute gap between expected and
observed coverage over ``p`` in (0, 1) (0 = perfect, 0.5 = worst).
"""

from __future__ import annotations

from collections.abc import Callable

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


#: issue 7's coverage goal (±1σ 0.68 ± 0.07, ±2σ 0.95 ± 0.04), the bar calibration reports use
COVERAGE_GOAL = {"coverage_1sigma": (0.61, 0.75), "coverage_2sigma": (0.91, 0.99)}


def in_coverage_goal(metrics: dict[str, float]) -> bool:
    """Whether both coverages of :func:`calibration_metrics` are inside :data:`COVERAGE_GOAL`."""
    values = {k: metrics.get(k) for k in COVERAGE_GOAL}
    return all(
        v is not None and lo <= v <= hi
        for v, (lo, hi) in zip(values.values(), COVERAGE_GOAL.values(), strict=True)
    )


def scored_calibration(y: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> dict:
    """:func:`calibration_metrics` plus ``in_goal`` (:func:`in_coverage_goal`)."""
    metrics: dict = calibration_metrics(y, mu, sigma)
    metrics["in_goal"] = in_coverage_goal(metrics)
    return metrics


def _nll_fit(err2: np.ndarray, sp2: np.ndarray, scale_ref: float) -> tuple[float, float]:
    """Gaussian maximum-likelihood ``(scale, floor)``."""
    from scipy.optimize import minimize

    def nll(params: np.ndarray) -> float:
        a, b = np.exp(params)  # scale, floor / scale_ref
        var = a**2 * sp2 + (b * scale_ref) ** 2 + 1e-12 * scale_ref**2
        return float(0.5 * np.mean(np.log(var) + err2 / var))

    mean_sp = float(np.sqrt(sp2.mean())) or 1.0
    start = np.log([max(scale_ref / mean_sp * 0.5, 1e-6), 0.5])
    res = minimize(nll, start, method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-8})
    a, b = np.exp(res.x)
    return float(a), float(b * scale_ref)


#: central probabilities of the ±1σ and ±2σ intervals, the ones users read off ``<task>_std``
INTERVAL_LEVELS = (float(norm.cdf(1.0) - norm.cdf(-1.0)), float(norm.cdf(2.0) - norm.cdf(-2.0)))


#: median of a χ² with 2 degrees of freedom: coverage deviations this small are noise
CONSISTENT_CHI2 = 1.386
#: fewest finite validation rows a σ map is fitted on
MIN_SIGMA_ROWS = 5


def _prepare(
    y: np.ndarray, mu: np.ndarray, spread: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Squared errors, squared spreads and the RMS error of the finite rows (None: too few)."""
    y, mu, spread = (np.asarray(a, dtype=np.float64).ravel() for a in (y, mu, spread))
    ok = np.isfinite(y) & np.isfinite(mu) & np.isfinite(spread)
    err2, sp2 = (y[ok] - mu[ok]) ** 2, spread[ok] ** 2
    if err2.size < MIN_SIGMA_ROWS:
        return None
    scale_ref = float(np.sqrt(err2.mean()))  # the error level: keeps the search well scaled
    return (err2, sp2, scale_ref) if scale_ref > 0 else None


def _map_grid(err2: np.ndarray, sp2: np.ndarray, scale_ref: float) -> dict[str, np.ndarray]:
    """Maps ``sqrt((a spread)^2 + b^2)`` on a grid around the likelihood fit (entry
    ``[0, 0]``): their scales, floors, ±1σ/±2σ hit counts on these rows and mean NLL."""
    a0, b0 = _nll_fit(err2, sp2, scale_ref)
    steps = 2.0 ** (np.arange(-24, 25) / 8.0)
    scales = np.concatenate([[a0], a0 * steps, [0.0]])
    floors = np.concatenate([[b0], b0 * steps, scale_ref * 2.0 ** (np.arange(-16, 5) / 2.0), [0.0]])
    hits = np.zeros((2, scales.size, floors.size))
    nll = np.empty((scales.size, floors.size))
    for i, a in enumerate(scales):  # one scale at a time keeps memory at (floors, rows)
        var = a**2 * sp2[None, :] + (floors**2)[:, None]
        bad = (var <= 0).any(axis=1)
        var = np.where(var > 0, var, 1.0)
        z2 = err2[None, :] / var
        for j, k in enumerate((1.0, 2.0)):
            hits[j, i] = np.where(bad, -1, (z2 <= k * k).sum(axis=1))
        nll[i] = np.where(bad, np.inf, 0.5 * np.mean(np.log(var) + z2, axis=1))
    return {"scales": scales, "floors": floors, "hits": hits, "nll": nll}


def _best_of(grid: dict[str, np.ndarray], accept: np.ndarray) -> tuple[float, float]:
    """The most likely map among the accepted ones."""
    i, j = np.unravel_index(np.argmin(np.where(accept, grid["nll"], np.inf)), grid["nll"].shape)
    return float(grid["scales"][i]), float(grid["floors"][j])


def fit_sigma_likelihood(y: np.ndarray, mu: np.ndarray, spread: np.ndarray) -> tuple[float, float]:
    """``(scale, floor)`` of ``sigma = sqrt((scale * spread)^2 + floor^2)`` by Gaussian
    maximum likelihood on these rows; ``(1.0, 0.0)`` with fewer than 5 rows.

    Args:
        y: true values.
        mu: predicted means.
        spread: uncalibrated ensemble spread (same units as ``y``).
    """
    prepared = _prepare(y, mu, spread)
    return (1.0, 0.0) if prepared is None else _nll_fit(*prepared)


def fit_sigma_calibration(y: np.ndarray, mu: np.ndarray, spread: np.ndarray) -> tuple[float, float]:
    """``(scale, floor)`` of ``sigma = sqrt((scale * spread)^2 + floor^2)`` fitted on these
    rows (validation rows only) so that ``mu ± sigma`` and ``mu ± 2 sigma`` cover 68.3 % and
    95.4 % of them.

    Gaussian maximum likelihood alone over-covers at ±1σ and under-covers at ±2σ when the
    errors have heavier tails than a Gaussian (seen on Matbench steels: ±2σ covered 0.89).
    So the likelihood fit is kept when its ±1σ/±2σ coverage on these rows is consistent with
    the nominal levels (χ² of the two coverage deviations, in units of their binomial
    standard errors, below its median, 1.39); otherwise, among the maps on a grid around it
    whose coverage is that consistent (or, if none is, the closest ones), the one with the
    highest likelihood is taken. The floor is the part of the error that the members' spread
    does not see (label noise, errors shared by the members). Returns ``(1.0, 0.0)`` with
    fewer than 5 rows.

    Args:
        y: true values.
        mu: predicted means.
        spread: uncalibrated ensemble spread (same units as ``y``).
    """
    return _fit_on_grid(y, mu, spread, _choose_matched)


def _fit_on_grid(
    y: np.ndarray,
    mu: np.ndarray,
    spread: np.ndarray,
    choose: Callable[[dict[str, np.ndarray], int], tuple[float, float]],
) -> tuple[float, float]:
    """``choose(grid, n_rows)`` on the grid of maps of these rows; ``(1.0, 0.0)`` when too few."""
    prepared = _prepare(y, mu, spread)
    if prepared is None:
        return 1.0, 0.0
    return choose(_map_grid(*prepared), prepared[0].size)


def _choose_matched(grid: dict[str, np.ndarray], n: int) -> tuple[float, float]:
    chi2 = np.zeros_like(grid["nll"])
    for hits, level in zip(grid["hits"], INTERVAL_LEVELS, strict=True):
        se = np.sqrt(level * (1.0 - level) / n)
        chi2 += ((hits / n - level) / se) ** 2
    chi2 = np.where(grid["hits"][0] < 0, np.inf, chi2)
    if chi2[0, 0] <= CONSISTENT_CHI2:
        return float(grid["scales"][0]), float(grid["floors"][0])
    return _best_of(grid, chi2 <= max(float(chi2.min()), CONSISTENT_CHI2))


def fit_sigma_conformal(y: np.ndarray, mu: np.ndarray, spread: np.ndarray) -> tuple[float, float]:
    """``(scale, floor)`` as :func:`fit_sigma_calibration`, with split-conformal coverage
    constraints: of the ``n`` rows, at least ``ceil((n + 1) p)`` (at most ``n``) must lie
    within ±1σ (``p`` = 68.3 %) and within ±2σ (``p`` = 95.4 %). For rows exchangeable with
    the test rows this makes the expected test coverage of each interval at least ``p``
    (finite-sample, any error distribution), where matching the nominal levels on the fitting
    rows under-covers new rows by the fit's optimism. Among the maps on the grid that meet
    both constraints, the most likely one is taken (the likelihood fit itself when it does).
    Returns ``(1.0, 0.0)`` with fewer than 5 rows.

    Args:
        y: true values.
        mu: predicted means.
        spread: uncalibrated ensemble spread (same units as ``y``).
    """
    return _fit_on_grid(y, mu, spread, _choose_conformal)


def _choose_conformal(grid: dict[str, np.ndarray], n: int) -> tuple[float, float]:
    need = [min(n, int(np.ceil((n + 1) * level))) for level in INTERVAL_LEVELS]
    accept = (grid["hits"][0] >= need[0]) & (grid["hits"][1] >= need[1])
    if not accept.any():  # cannot happen with the grid's widest floors; kept as a guard
        return float(grid["scales"][0]), float(grid["floors"][0])
    return _best_of(grid, accept)


#: rows per bin of :func:`fit_sigma_quantile` (at least), and its most bins
QUANTILE_BIN_ROWS, QUANTILE_MAX_BINS = 30, 10


def _gaussian_equivalent_sigma(err: np.ndarray) -> float:
    """σ a Gaussian would need to put the 68.3 % and 95.4 % quantiles of ``|err|`` at 1σ and
    2σ (the mean of the two estimates): set by quantiles, so a few huge errors barely move
    it."""
    q1, q2 = np.quantile(err, INTERVAL_LEVELS)
    return float(0.5 * (q1 + q2 / 2.0))


def fit_sigma_quantile(y: np.ndarray, mu: np.ndarray, spread: np.ndarray) -> tuple[float, float]:
    """``(scale, floor)`` of ``sigma = sqrt((scale * spread)^2 + floor^2)`` from error
    quantiles, robust to heavy tails: the rows are sorted by spread into equal-count bins
    (30 rows or more each, at most 10 bins); in each bin the Gaussian-equivalent σ of the
    errors (from their 68.3 % and 95.4 % quantiles) is taken, and ``scale² spread² +
    floor²`` is fitted to these by non-negative least squares in relative terms. Finally,
    when the ±1σ/±2σ coverage of the rows is not consistent with nominal (as in
    :func:`fit_sigma_calibration`), σ is multiplied by the factor that makes it most so.

    Likelihood fits let a few huge errors set σ, and then prefer a flat σ even where the
    spread (or latent distance) ranks the errors; here each bin's typical error sets the
    level of σ for its rows, so σ follows the spread when the errors do. Returns ``(1.0,
    0.0)`` with fewer than 5 rows.

    Args:
        y: true values.
        mu: predicted means.
        spread: uncalibrated spread (same units as ``y``), e.g. ``hypot(spread, w d)``.
    """
    from scipy.optimize import nnls

    prepared = _prepare(y, mu, spread)
    if prepared is None:
        return 1.0, 0.0
    err2, sp2, scale_ref = prepared
    err, u = np.sqrt(err2), np.sqrt(sp2)
    n_bins = int(np.clip(err.size // QUANTILE_BIN_ROWS, 1, QUANTILE_MAX_BINS))
    groups = np.array_split(np.argsort(u, kind="stable"), n_bins)
    level = np.array([_gaussian_equivalent_sigma(err[g]) for g in groups])
    u2 = np.array([float(np.mean(sp2[g])) for g in groups])
    level = np.maximum(level, 1e-9 * scale_ref)  # a bin of exact predictions
    if np.ptp(u2) > 0:
        design = np.stack([u2, np.ones_like(u2)], axis=1) / level[:, None] ** 2
        (a2, b2), _ = nnls(design, np.ones_like(level))
    else:  # one spread for every row: only a floor can be fitted
        a2, b2 = 0.0, float(np.mean(level**2))
    scale, floor = float(np.sqrt(a2)), float(np.sqrt(b2))
    if scale == 0.0 and floor == 0.0:
        floor = _gaussian_equivalent_sigma(err) or scale_ref
    return _coverage_rescaled(err2, sp2, scale, floor)


def _coverage_rescaled(
    err2: np.ndarray, sp2: np.ndarray, scale: float, floor: float
) -> tuple[float, float]:
    """``(scale, floor)`` times the factor (on a grid of 2^(k/32), 1 first) whose ±1σ/±2σ
    coverage of these rows is most consistent with nominal; 1 when already consistent."""
    n = err2.size
    var = scale**2 * sp2 + floor**2
    factors = np.concatenate([[1.0], 2.0 ** (np.arange(-128, 129) / 32.0)])
    with np.errstate(divide="ignore", invalid="ignore"):  # σ = 0 rows count as missed
        z2 = err2[None, :] / (factors[:, None] ** 2 * var[None, :])
    chi2 = np.zeros(factors.size)
    for k, p in zip((1.0, 2.0), INTERVAL_LEVELS, strict=True):
        se = np.sqrt(p * (1.0 - p) / n)
        chi2 += (((z2 <= k * k).mean(axis=1) - p) / se) ** 2
    best = 0 if chi2[0] <= CONSISTENT_CHI2 else int(np.argmin(chi2))
    return scale * float(factors[best]), floor * float(factors[best])


def cross_fitted(
    folds: np.ndarray,
    fit_apply: Callable[[np.ndarray, np.ndarray], np.ndarray],
    seed: int = 0,
) -> np.ndarray:
    """σ of every row from a map fitted on other rows of its fold: each fold's rows are split
    in two random halves and ``fit_apply(fit_rows, score_rows)`` (row indices; returns σ of
    ``score_rows``) is called both ways. Scores a way of fitting σ on validation rows alone.

    Args:
        folds: fold of every row (rows of different folds never share a map).
        fit_apply: fits a map on ``fit_rows`` and returns σ of ``score_rows``.
        seed: seed of the random halves.
    """
    folds = np.asarray(folds)
    rng = np.random.default_rng(seed)
    sigma = np.full(folds.size, np.nan)
    for k in np.unique(folds):
        rows = rng.permutation(np.flatnonzero(folds == k))
        halves = (rows[: rows.size // 2], rows[rows.size // 2 :])
        for fit_rows, score_rows in (halves, halves[::-1]):
            sigma[score_rows] = fit_apply(fit_rows, score_rows)
    return sigma


def fit_spread_weight(
    y: np.ndarray, mu: np.ndarray, first: np.ndarray, second: np.ndarray
) -> float:
    """Weight ``w`` of a second uncertainty signal against a first one (e.g. the noise
    head's std against the members' spread, or a distance to the training rows against the
    spread), by Gaussian maximum likelihood of ``sigma^2 = (a first)^2 + (c second)^2 + b^2``
    on these rows (``w = c / a``, kept within 1e-3..1e3); 1.0 with fewer than 5 rows or
    without both signals. A σ map is then fitted on ``hypot(first, w second)``.

    Args:
        y: true values.
        mu: predicted means.
        first: first signal (same units as ``y``).
        second: second signal.
    """
    from scipy.optimize import minimize

    y, mu, s1, s2 = (np.asarray(a, dtype=np.float64).ravel() for a in (y, mu, first, second))
    ok = np.isfinite(y) & np.isfinite(mu) & np.isfinite(s1) & np.isfinite(s2)
    err2, e2, n2 = (y[ok] - mu[ok]) ** 2, s1[ok] ** 2, s2[ok] ** 2
    if err2.size < MIN_SIGMA_ROWS or not (e2.mean() > 0 and n2.mean() > 0):
        return 1.0
    ref = float(np.sqrt(err2.mean())) or 1.0
    e2, n2, err2 = e2 / ref**2, n2 / ref**2, err2 / ref**2  # unit error level

    def nll(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        # parameters are log a², log c², log b²; the gradient is analytic
        a2, c2, b2 = np.exp(log_params)
        var = a2 * e2 + c2 * n2 + b2 + 1e-12
        d_var = 0.5 * (1.0 / var - err2 / var**2)  # d nll_row / d var
        grad = np.array([np.mean(d_var * e2) * a2, np.mean(d_var * n2) * c2, np.mean(d_var) * b2])
        return float(0.5 * np.mean(np.log(var) + err2 / var)), grad

    # starts: both signals at half the error level, then each signal alone; bounded log
    # parameters keep a and c away from zero (no c / 0) and the best start is kept
    half = 0.25  # (1/2)² of the error level
    starts = [
        [np.log(half / e2.mean()), np.log(half / n2.mean()), np.log(half)],
        [np.log(1.0 / e2.mean()), np.log(1e-4 / n2.mean()), np.log(half)],
        [np.log(1e-4 / e2.mean()), np.log(1.0 / n2.mean()), np.log(half)],
    ]
    best = None
    for start in starts:
        res = minimize(
            nll,
            np.asarray(start),
            jac=True,
            method="L-BFGS-B",
            bounds=[(-30.0, 30.0)] * 3,
            options={"ftol": 1e-12, "gtol": 1e-10},
        )
        if best is None or res.fun < best.fun:
            best = res
    a, c = np.sqrt(np.exp(best.x[:2]))
    return float(np.clip(c / a, 1e-3, 1e3))


def distance_weight(y: np.ndarray, pred: np.ndarray, spread: np.ndarray, d: np.ndarray) -> float:
    """Weight ``w`` of the latent distance ``d`` in ``hypot(spread, w d)``, by Gaussian
    likelihood on these rows (:func:`fit_spread_weight`).
    ``d`` is first put on the spread's scale (ratio of their RMS), so the fit's bounds on the
    weight do not depend on the target's units; with no spread at all (a single member
    without a noise head), ``w`` puts ``d`` on the error's scale."""
    d_rms = float(np.sqrt(np.mean(d**2)))
    if not d_rms > 0:
        return 0.0
    s_rms = float(np.sqrt(np.mean(spread**2)))
    if not s_rms > 0:
        return float(np.sqrt(np.mean((y - pred) ** 2))) / d_rms
    ref = s_rms / d_rms
    return ref * fit_spread_weight(y, pred, spread, d * ref)


#: a σ map fitted on some rows: ``(y, mu, first, second) -> (w, scale, floor)`` of
#: ``sigma = sqrt((scale hypot(first, w second))^2 + floor^2)``
SigmaMapFit = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], tuple[float, float, float]]


def fit_one_part(
    y: np.ndarray, mu: np.ndarray, first: np.ndarray, second: np.ndarray
) -> tuple[float, float, float]:
    """The default map (:func:`fit_sigma_calibration`) on ``first`` alone (``w = 0``)."""
    return (0.0, *fit_sigma_calibration(y, mu, first))


def fit_two_part(
    y: np.ndarray, mu: np.ndarray, first: np.ndarray, second: np.ndarray
) -> tuple[float, float, float]:
    """``w`` by :func:`fit_spread_weight`, then the default map on ``hypot(first, w second)``."""
    w = fit_spread_weight(y, mu, first, second)
    return (w, *fit_sigma_calibration(y, mu, np.hypot(first, w * second)))


def apply_map(
    fitted: tuple[float, float, float], first: np.ndarray, second: np.ndarray
) -> np.ndarray:
    """σ of rows from a :data:`SigmaMapFit` result."""
    w, scale, floor = fitted
    # without a second part, σ keeps the first signal's precision (float32 for model outputs,
    # as the model computes it) instead of taking the second signal's
    combined = first if w == 0 else np.hypot(first, w * second)
    return np.sqrt((scale * combined) ** 2 + floor**2)


def fold_sigmas(
    fit: SigmaMapFit,
    val: dict[str, np.ndarray],
    test: dict[str, np.ndarray],
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """The σ a map gives on a run's rows, fitted on validation rows only: cross-fitted σ of
    the validation rows (:func:`cross_fitted`), σ of the test rows from the map fitted on
    all of their fold's validation rows, and each fold's weight ``w``.

    Args:
        fit: the map's fit.
        val: validation rows: ``y``, ``mu``, ``first``, ``second``, ``fold``.
        test: test rows: ``first``, ``second``, ``fold``.
        seed: seed of the random halves.
    """

    def fit_on(rows: np.ndarray) -> tuple[float, float, float]:
        return fit(*(val[k][rows] for k in ("y", "mu", "first", "second")))

    def fit_apply(fit_rows: np.ndarray, score_rows: np.ndarray) -> np.ndarray:
        return apply_map(fit_on(fit_rows), val["first"][score_rows], val["second"][score_rows])

    val_sigma = cross_fitted(val["fold"], fit_apply, seed)
    test_sigma = np.full(test["fold"].size, np.nan)
    weights = []
    for k in np.unique(test["fold"]):
        fitted = fit_on(np.flatnonzero(val["fold"] == k))
        t = test["fold"] == k
        test_sigma[t] = apply_map(fitted, test["first"][t], test["second"][t])
        weights.append(fitted[0])
    return val_sigma, test_sigma, weights


#: the σ-map fits a model can use on its validation rows (``FlexibleMultiTaskModel(sigma_fit=...)``)
SIGMA_FITS = {
    "matched": fit_sigma_calibration,
    "likelihood": fit_sigma_likelihood,
    "conformal": fit_sigma_conformal,
    "quantile": fit_sigma_quantile,
}
