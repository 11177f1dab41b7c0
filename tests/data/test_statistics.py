"""``data.statistics.bin_edges``: where the descriptor bins' edges go."""

from __future__ import annotations

import numpy as np
import pytest

from foundation_model.data.statistics import bin_edges


def _n_bins(edges: np.ndarray) -> list[int]:
    return [np.unique(edges[:, j]).size - 1 for j in range(edges.shape[1])]


def _table(rows: int = 1000) -> np.ndarray:
    rng = np.random.default_rng(0)
    sparse = np.where(rng.random(rows) < 0.8, 0.0, rng.uniform(0.1, 0.9, rows))  # 80 % zeros
    middle = np.where(rng.random(rows) < 0.5, 2.0, rng.uniform(0.0, 5.0, rows))  # 50 % at 2
    return np.c_[sparse, rng.random(rows), np.zeros(rows), middle]


def test_quantile_edges_collapse_where_one_value_holds_many_rows():
    x = _table()
    edges = bin_edges(x, 8, "quantile")
    assert np.allclose(edges, np.quantile(x, np.linspace(0, 1, 9), axis=0))
    assert _n_bins(edges)[:3] == [2, 8, 0]
    # float32 training tensors keep their precision: the same edges, bit for bit, as before
    x32 = x.astype(np.float32)
    q32 = np.quantile(x32, np.linspace(0, 1, 9), axis=0)
    assert np.array_equal(bin_edges(x32, 8, "quantile"), q32)
    assert not np.array_equal(q32, np.quantile(x, np.linspace(0, 1, 9), axis=0))


def test_dominant_edges_cut_the_other_values_too():
    x = _table()
    edges = bin_edges(x, 8, "dominant")
    assert edges.shape == (9, 4)
    assert np.all(np.diff(edges, axis=0) >= 0)
    assert _n_bins(edges) == [8, 8, 0, 8]
    sparse = edges[:, 0]
    nonzero = x[:, 0][x[:, 0] != 0]
    assert sparse[0] == 0.0 and sparse[1] == nonzero.min() and sparse[-1] == nonzero.max()
    assert 2.0 in edges[:, 3]  # a dominant value inside the range is one edge
    # a column with no dominant value keeps its quantiles
    assert np.allclose(edges[:, 1], np.quantile(x[:, 1], np.linspace(0, 1, 9)))


def test_bad_rule_and_bin_count_are_errors():
    with pytest.raises(ValueError, match="must be one of"):
        bin_edges(np.zeros((4, 2)), 4, "zeros")
    with pytest.raises(ValueError, match="n_bins must be >= 1"):
        bin_edges(np.zeros((4, 2)), 0)
