"""``benchmarks/fm_base_uncertainty.py``: σ scored in and out of distribution."""

from __future__ import annotations

import numpy as np

from benchmark_scripts import load_benchmark


def test_distance_bins_show_an_error_that_grows_with_distance():
    bench = load_benchmark("fm_base_uncertainty")
    rng = np.random.default_rng(0)
    d = rng.uniform(1.0, 5.0, 5000)
    y = rng.normal(0.0, 0.1 * d)  # the error grows with the distance
    pred = np.zeros_like(y)
    std = 0.1 * d  # a σ that follows it
    bins = bench.by_distance_bin(y, pred, std, d)
    assert len(bins) == bench.BINS and sum(b["rows"] for b in bins) == 5000
    rmse = [b["rmse"] for b in bins]
    assert all(a < b for a, b in zip(rmse, rmse[1:], strict=False))
    assert all(abs(b["coverage_1sigma"] - 0.683) < 0.05 for b in bins)
    assert bench.distance_rank(y, pred, d) > 0.3
    # a constant σ covers the near rows too often and the far rows too rarely
    flat = bench.by_distance_bin(y, pred, np.full_like(y, std.mean()), d)
    assert flat[0]["coverage_1sigma"] > 0.8 > 0.5 > flat[-1]["coverage_1sigma"]
