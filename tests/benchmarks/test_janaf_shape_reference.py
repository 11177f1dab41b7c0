"""``benchmarks/janaf_shape_reference.py``: the composition-free typical curve and its report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmark_scripts import load_benchmark


def _curves() -> pd.DataFrame:
    # three training curves on different grids; the middle one is the median everywhere
    return pd.DataFrame(
        {
            "cp_T": [[100.0, 300.0], [200.0, 400.0], [100.0, 500.0]],
            "cp": [[10.0, 20.0], [15.0, 25.0], [30.0, 30.0]],
        },
        index=pd.Index(["A", "B", "C"], name="formula"),
    )


def test_typical_curve_interpolates_each_training_curve_then_averages():
    bench = load_benchmark("janaf_shape_reference")
    temps = [np.array([100.0, 200.0, 300.0, 400.0])]
    # A: 10, 15, 20, 20 (held past 300 K); B: 15, 15, 20, 25 (held below 200 K); C: 30 flat
    mean = bench.typical_curve(_curves(), temps, "mean")[0]
    np.testing.assert_allclose(mean, [55 / 3, 20.0, 70 / 3, 25.0])
    median = bench.typical_curve(_curves(), temps, "median")[0]
    np.testing.assert_allclose(median, [15.0, 15.0, 20.0, 25.0])
    # the prediction follows the query's grid, not the training curves'
    assert bench.typical_curve(_curves(), [np.array([250.0])], "mean")[0].shape == (1,)
    with pytest.raises(ValueError, match="mean' or 'median"):
        bench.typical_curve(_curves(), temps, "mode")


def test_compare_and_report_split_the_shape_gain():
    bench = load_benchmark("janaf_shape_reference")
    curves = _curves()
    data = {"test": pd.Index(["A", "B", "C"])}
    truth = [np.asarray(v) for v in curves["cp"]]
    exact = {"predictions": truth}  # kNN right on every curve
    level_only = {"predictions": [np.full_like(t, t.mean()) for t in truth]}
    out = bench.compare(curves, data, exact, level_only)
    d = out["knn_minus_typical"]
    assert d["level"]["mean"] == pytest.approx(0.0)
    assert d["shape"]["mean"] == pytest.approx(-out["flat"])  # the flat line's whole error
    summary = {
        "n_curves": 3,
        "n_train": 2,
        "n_val": 0,
        "n_test": 1,
        "seed": 2026,
        "seconds": 1.0,
        "methods": {
            "knn": {"chosen": {"k": 5}, "test": {"mae": 1.0, "level": 0.5, "shape": 2.0}},
            "typical curve": {
                "chosen": {"average": "median"},
                "test": {"mae": 3.0, "level": 2.5, "shape": 2.5},
            },
        },
        **out,
    }
    summary["flat"] = 4.0
    text = bench.markdown(summary)
    assert "| typical curve | `{'average': 'median'}` | 3.000 | 2.500 | 2.500 |" in text
    assert "the temperature grid alone gives 1.500" in text
    assert "composition, through the neighbours, 0.500" in text
