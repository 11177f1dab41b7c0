"""Calibration metrics and recalibration on synthetic data with known noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from foundation_model.models.calibration import (
    calibration_metrics,
    fit_sigma_calibration,
    fit_spread_weight,
)
from foundation_model.models.components.head_ensemble import member_keep


def _noisy(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=n)
    sigma = rng.uniform(0.2, 2.0, size=n)
    return mu + sigma * rng.normal(size=n), mu, sigma


def test_true_sigma_is_calibrated_and_wrong_sigmas_are_not():
    y, mu, sigma = _noisy(20000)
    good = calibration_metrics(y, mu, sigma)
    assert good["coverage_1sigma"] == pytest.approx(0.683, abs=0.015)
    assert good["coverage_2sigma"] == pytest.approx(0.954, abs=0.01)
    assert good["miscalibration_area"] < 0.01
    assert good["spearman_error_sigma"] > 0.3  # errors grow with sigma
    narrow = calibration_metrics(y, mu, 0.5 * sigma)
    assert narrow["coverage_1sigma"] < 0.45 and narrow["miscalibration_area"] > 0.1
    flat = calibration_metrics(y, mu, np.full_like(sigma, sigma.mean()))
    assert np.isnan(flat["spearman_error_sigma"])  # constant sigma ranks nothing


def test_fit_recovers_scale_and_floor():
    rng = np.random.default_rng(1)
    n = 20000
    mu = rng.normal(size=n)
    spread = rng.uniform(0.1, 1.0, size=n)  # what the members see
    true = np.sqrt((3.0 * spread) ** 2 + 0.5**2)
    y = mu + true * rng.normal(size=n)
    scale, floor = fit_sigma_calibration(y, mu, spread)
    assert scale == pytest.approx(3.0, rel=0.05)
    assert floor == pytest.approx(0.5, rel=0.15)
    calibrated = np.sqrt((scale * spread) ** 2 + floor**2)
    assert calibration_metrics(y, mu, calibrated)["miscalibration_area"] < 0.01
    assert fit_sigma_calibration(y[:3], mu[:3], spread[:3]) == (1.0, 0.0)


def test_member_subsets_are_fixed_and_of_the_asked_size():
    index = torch.arange(5000)
    keep = member_keep(index, 5, 0.8, seed=3)
    assert keep.shape == (5, 5000)
    assert keep.float().mean(dim=1).sub(0.8).abs().max() < 0.03
    assert torch.equal(keep, member_keep(index, 5, 0.8, seed=3))  # same rows every epoch
    assert not torch.equal(keep[0], keep[1])  # members differ
    assert member_keep(index, 1, 0.8, seed=3).all()  # a single head sees every row


def _heavy_tailed(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Laplace errors whose scale follows the spread plus a floor (heavier tails than a
    Gaussian, as on real Matbench errors)."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=n)
    spread = rng.uniform(0.1, 1.0, size=n)
    scale = np.sqrt((2.0 * spread) ** 2 + 0.3**2)
    return mu + rng.laplace(scale=scale / np.sqrt(2.0)), mu, spread


def test_heavy_tails_get_intervals_with_nominal_coverage():
    y, mu, spread = _heavy_tailed(400, seed=2)  # a validation set
    scale, floor = fit_sigma_calibration(y, mu, spread)
    y_test, mu_test, spread_test = _heavy_tailed(40000, seed=3)
    sigma = np.sqrt((scale * spread_test) ** 2 + floor**2)
    got = calibration_metrics(y_test, mu_test, sigma)
    assert 0.61 <= got["coverage_1sigma"] <= 0.75
    assert 0.91 <= got["coverage_2sigma"] <= 0.99
    # the likelihood fit alone (the variance of a Laplace) leaves ±2σ short
    a0 = np.sqrt(2.0) * 2.0 / np.sqrt(2.0)
    plain = calibration_metrics(y_test, mu_test, np.sqrt((a0 * spread_test) ** 2 + 0.3**2))
    assert plain["coverage_2sigma"] < 0.945


def test_conformal_fit_covers_new_rows_from_small_validation_sets():
    """With 40 validation rows per fit, matching the nominal levels on those rows leaves new
    rows under-covered at ±2σ on average; the conformal constraints do not."""
    from foundation_model.models.calibration import fit_sigma_conformal

    y_test, mu_test, spread_test = _heavy_tailed(20000, seed=99)
    cover: dict[str, list[float]] = {"matched": [], "conformal": []}
    for seed in range(60):
        y, mu, spread = _heavy_tailed(40, seed=seed)
        for name, fit in (("matched", fit_sigma_calibration), ("conformal", fit_sigma_conformal)):
            scale, floor = fit(y, mu, spread)
            sigma = np.sqrt((scale * spread_test) ** 2 + floor**2)
            cover[name].append(calibration_metrics(y_test, mu_test, sigma)["coverage_2sigma"])
    assert np.mean(cover["conformal"]) >= 0.945
    assert np.mean(cover["conformal"]) > np.mean(cover["matched"])
    assert fit_sigma_conformal(y_test[:3], mu_test[:3], spread_test[:3]) == (1.0, 0.0)


def test_spread_weight_recovers_the_noise_parts_scale():
    rng = np.random.default_rng(3)
    n = 4000
    ens, noise = rng.uniform(0.05, 0.5, n), rng.uniform(0.05, 0.5, n)
    mu = rng.normal(size=n)
    y = mu + np.hypot(2.0 * ens, 6.0 * noise) * rng.normal(size=n)  # weight 6 / 2 = 3
    assert fit_spread_weight(y, mu, ens, noise) == pytest.approx(3.0, rel=0.2)
    assert fit_spread_weight(y[:4], mu[:4], ens[:4], noise[:4]) == 1.0  # too few rows
    assert fit_spread_weight(y, mu, np.zeros(n), noise) == 1.0  # one signal only


def _profile_nll(y: np.ndarray, mu: np.ndarray, first: np.ndarray, second: np.ndarray, w: float):
    """Gaussian NLL of ``sigma^2 = a^2 (first^2 + w^2 second^2) + b^2`` at its best ``a, b``
    (the likelihood profiled over the map's scale and floor, from several starts)."""
    from scipy.optimize import minimize

    err2, u2 = (y - mu) ** 2, first**2 + w**2 * second**2
    err2, u2 = err2 / err2.mean(), u2 / u2.mean()

    def nll(p: np.ndarray) -> float:
        var = np.exp(p[0]) * u2 + np.exp(p[1])
        return float(0.5 * np.mean(np.log(var) + err2 / var))

    opts = {"xatol": 1e-10, "fatol": 1e-14, "maxiter": 20000}
    return min(
        minimize(nll, np.asarray(s), method="Nelder-Mead", options=opts).fun
        for s in ([0.0, -3.0], [-3.0, 0.0], [0.0, 0.0])
    )


def _signals(case: str, rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    if case == "both":  # Gaussian errors, true weight 3
        first, second = rng.uniform(0.05, 0.5, n), rng.uniform(0.05, 0.5, n)
        return first, second, np.hypot(2.0 * first, 6.0 * second) * rng.normal(size=n)
    # heavy-tailed errors set by the second signal; the first is a wide, uninformative one
    # (a simplex search from one start stopped at w = 1e3 here, away from the maximum)
    first, second = rng.lognormal(0.0, 1.0, n) * 1e-3, rng.uniform(0.05, 0.5, n)
    return first, second, 2.0 * second * rng.standard_t(4, n)


@pytest.mark.parametrize("case", ["both", "second_only_heavy_tails"])
def test_spread_weight_is_the_likelihoods_maximum(case: str):
    rng = np.random.default_rng(0)
    n = 2000
    first, second, err = _signals(case, rng, n)
    mu = np.zeros(n)
    y = mu + err
    with np.errstate(divide="raise", invalid="raise"):
        w = fit_spread_weight(y, mu, first, second)
    assert 1e-3 <= w <= 1e3
    best = _profile_nll(y, mu, first, second, w)
    for other in [w * 1.5, w / 1.5, *np.geomspace(1e-3, 1e3, 25)]:
        assert best <= _profile_nll(y, mu, first, second, other) + 1e-7


def _rare_gross_errors(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Student-t errors whose scale grows with the signal ``d``, plus 0.3 % gross errors
    of any ``d`` (as fm-base's corpus validation rows: a few errors 100× the typical one)."""
    rng = np.random.default_rng(seed)
    d = rng.uniform(0.5, 5.0, n)
    err = rng.standard_t(4, n) * 0.1 * d / np.sqrt(2.0)
    gross = rng.random(n) < 0.003
    err[gross] = rng.normal(size=int(gross.sum())) * 20.0
    return err, np.zeros(n), d


def _coverage_by_fifth(z: np.ndarray, d: np.ndarray) -> np.ndarray:
    return np.array([(z[g] <= 1.0).mean() for g in np.array_split(np.argsort(d), 5)])


def test_quantile_fit_follows_the_signal_where_likelihood_fits_go_flat():
    from foundation_model.models.calibration import fit_sigma_quantile

    y, mu, d = _rare_gross_errors(4000, seed=0)  # validation rows
    y_test, mu_test, d_test = _rare_gross_errors(40000, seed=1)
    by_fit = {}
    for name, fit in (("matched", fit_sigma_calibration), ("quantile", fit_sigma_quantile)):
        scale, floor = fit(y, mu, d)
        sigma = np.sqrt((scale * d_test) ** 2 + floor**2)
        by_fit[name] = _coverage_by_fifth(np.abs(y_test - mu_test) / sigma, d_test)
        if name == "quantile":
            got = calibration_metrics(y_test, mu_test, sigma)
            assert 0.61 <= got["coverage_1sigma"] <= 0.75
            assert 0.91 <= got["coverage_2sigma"] <= 0.99
    assert np.ptp(by_fit["matched"]) > 0.3  # flat σ: over-covers near, under-covers far
    assert np.all((by_fit["quantile"] > 0.65) & (by_fit["quantile"] < 0.8))


def test_quantile_fit_edge_cases():
    from foundation_model.models.calibration import fit_sigma_quantile

    y, mu, d = _rare_gross_errors(600, seed=2)
    assert fit_sigma_quantile(y[:3], mu[:3], d[:3]) == (1.0, 0.0)
    scale, floor = fit_sigma_quantile(y, mu, np.ones_like(d))  # one spread: a constant σ
    assert scale == 0.0 and floor > 0.0
    z = np.abs(y - mu) / floor
    assert 0.6 < (z <= 1.0).mean() < 0.77
    exact = fit_sigma_quantile(mu, mu, d)  # no error at all: finite, no warnings
    assert np.isfinite(exact).all()
