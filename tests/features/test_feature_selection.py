"""Tests of the relevance-redundancy descriptor selector."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from foundation_model.features.selection import RelevanceRedundancySelector


def _table(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    x = pd.DataFrame(
        {
            "noise1": rng.normal(size=n),
            "a": a,
            "a_copy": 2.0 * a + 0.01 * rng.normal(size=n),  # a near-copy of a
            "b": b,
            "noise2": rng.normal(size=n),
            "constant": np.ones(n),
        }
    )
    y = pd.Series(2.0 * a + 1.0 * b + 0.05 * rng.normal(size=n))
    return x, y


def test_relevant_columns_first_and_near_copies_skipped():
    x, y = _table()
    sel = RelevanceRedundancySelector(2).fit(x, y)
    # ``a`` or its copy is the most relevant; the second pick must be the independent ``b``,
    # not the other half of the copy pair (which is just as relevant but redundant).
    assert sel.columns_[0] in ("a", "a_copy")
    assert sel.columns_[1] == "b"
    assert list(sel.transform(x).columns) == sel.columns_


def test_constant_columns_never_chosen_and_k_caps_at_varying_columns():
    x, y = _table()
    sel = RelevanceRedundancySelector(50).fit(x, y)
    assert "constant" not in sel.columns_
    assert sorted(sel.columns_) == sorted(c for c in x.columns if c != "constant")
    assert set(sel.relevance_.index) == set(sel.columns_)


def test_missing_values_are_filled_not_fatal():
    x, y = _table()
    x.loc[::7, "b"] = np.nan
    sel = RelevanceRedundancySelector(2).fit(x, y)
    assert "b" in sel.columns_


def test_classification_targets():
    x, y = _table()
    labels = (x["b"] > 0).astype(int)
    sel = RelevanceRedundancySelector(1, task_type="classification").fit(x, labels)
    assert sel.columns_ == ["b"]


def test_bad_input_is_one_clear_error():
    x, y = _table()
    with pytest.raises(ValueError, match="k must be at least 1"):
        RelevanceRedundancySelector(0)
    with pytest.raises(ValueError, match="task_type"):
        RelevanceRedundancySelector(3, task_type="ranking")
    with pytest.raises(ValueError, match="missing values"):
        RelevanceRedundancySelector(3).fit(x, y.where(y > 0))
    with pytest.raises(ValueError, match="rows"):
        RelevanceRedundancySelector(3).fit(x, y.iloc[:10])
    with pytest.raises(ValueError, match="constant"):
        RelevanceRedundancySelector(3).fit(x[["constant"]], y)
    with pytest.raises(RuntimeError, match="fit"):
        RelevanceRedundancySelector(3).transform(x)
    sel = RelevanceRedundancySelector(2).fit(x, y)
    with pytest.raises(ValueError, match="not in the table"):
        sel.transform(x.drop(columns=["b"]))
