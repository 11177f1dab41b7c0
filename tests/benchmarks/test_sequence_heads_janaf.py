"""``benchmarks/sequence_heads_janaf.py``: per-curve scores, the paired comparison with kNN
and the seed-repeat report."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark_scripts import load_benchmark


def test_per_curve_errors_split_level_and_shape():
    bench = load_benchmark("sequence_heads_janaf")
    truth = [np.array([1.0, 2.0, 3.0]), np.array([5.0, 5.0])]
    shifted = [t + 0.5 for t in truth]  # right shape, wrong level
    errors = bench.per_curve_errors(shifted, truth)
    assert errors.shape == (2, 4)
    np.testing.assert_allclose(errors[:, 1], [0.5, 0.5])  # level
    np.testing.assert_allclose(errors[:, 2], [0.0, 0.0], atol=1e-12)  # shape
    np.testing.assert_allclose(errors[:, 3], [2.0 / 3.0, 0.0])  # flat line at the true mean
    assert bench.curve_scores(shifted, truth)["mae"] == pytest.approx(0.5)


def test_paired_difference_sees_a_consistent_small_gain_and_not_noise():
    bench = load_benchmark("sequence_heads_janaf")
    rng = np.random.default_rng(0)
    reference = rng.uniform(1.0, 5.0, 80)  # per-curve errors vary a lot between curves
    better = reference - 0.05  # 1-5 % better on every curve
    d = bench.paired_difference(better, reference)
    assert d["mean"] == pytest.approx(-0.05) and d["ci_high"] < 0
    noisy = reference + rng.normal(0.0, 0.5, 80)
    d = bench.paired_difference(noisy, reference)
    assert d["ci_low"] < d["mean"] < d["ci_high"]
    assert d["ci_low"] < 0 < d["ci_high"]


def test_seed_repeats_and_their_table():
    bench = load_benchmark("sequence_heads_janaf")
    rng = np.random.default_rng(1)
    knn = np.abs(rng.normal(2.0, 0.5, (40, 4)))
    seeds = np.stack([knn - 0.1 + rng.normal(0, 0.01, (40, 4)) for _ in range(3)])
    seeds[2, :, 2] += 1.0  # the third seed is worse than kNN on shape
    rep = bench.seed_repeats(seeds, knn, first_seed=2026)
    assert rep["seeds"] == [2026, 2027, 2028]
    assert rep["seeds_beating_knn"] == {"mae": 3, "level": 3, "shape": 2}
    assert rep["std"]["shape"] > rep["std"]["level"]
    assert rep["minus_knn"]["level"]["ci_high"] < 0
    summary = {
        "n_curves": 100,
        "n_train": 60,
        "n_val": 15,
        "n_test": 40,
        "epochs": 2,
        "seed": 2026,
        "seconds": 1.0,
        "methods": {
            "knn": {"chosen": {"k": 5}, "test": {"mae": 2, "level": 1, "shape": 1, "flat": 3}},
            "rnn": {
                "chosen": {"hidden_size": 64},
                "test": {"mae": 1.9, "level": 0.9, "shape": 1.1, "flat": 3},
                "repeats": rep,
            },
        },
    }
    text = bench.markdown(summary)
    assert "refit with 3 torch seeds" in text
    assert "3 / 3 / 2 of 3" in text
