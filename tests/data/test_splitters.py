from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from foundation_model.data import KFoldSplitter, RandomSplitter, StratifiedSplitter


def _check_partition(s, n):
    allidx = np.concatenate([s.train, s.val, s.test])
    assert len(allidx) == n and len(np.unique(allidx)) == n


def test_random_is_seeded_and_partitions():
    ids = pd.Index([str(i) for i in range(200)])
    a, b = (
        RandomSplitter(0.1, 0.2, seed=3).split(ids, None),
        RandomSplitter(0.1, 0.2, seed=3).split(ids, None),
    )
    assert np.array_equal(a.test, b.test) and len(a.test) == 40 and len(a.val) == 20
    _check_partition(a, 200)
    c = RandomSplitter(0.1, 0.2, seed=4).split(ids, None)
    assert not np.array_equal(a.test, c.test)


def test_stratified_keeps_balance():
    ids = pd.Index([str(i) for i in range(300)])
    attrs = pd.DataFrame({"c": ["a"] * 240 + ["b"] * 60}, index=ids)
    s = StratifiedSplitter("c", 0.1, 0.2).split(ids, attrs)
    assert (attrs["c"].iloc[s.test] == "b").mean() == 0.2
    _check_partition(s, 300)


def test_kfold_folds_cover_all_rows_once():
    ids = pd.Index([str(i) for i in range(103)])
    tests = [KFoldSplitter(5, k, 0.1, seed=1).split(ids, None) for k in range(5)]
    for s in tests:
        _check_partition(s, 103)
    allt = np.concatenate([s.test for s in tests])
    assert sorted(allt.tolist()) == list(range(103))


def test_predefined_split_warns_about_labels_it_does_not_know():
    import warnings

    import pytest

    from foundation_model.data import PredefinedSplitter

    ids = pd.Index([f"r{i}" for i in range(6)])
    attrs = pd.DataFrame(
        {"split": ["train", "train", "Validation", "test", "tset", None]}, index=ids
    )
    with pytest.warns(UserWarning, match=r"1 row\(s\) with split = \['tset'\] are in no split"):
        out = PredefinedSplitter().split(ids, attrs)
    assert out.train.tolist() == [0, 1] and out.val.tolist() == [2] and out.test.tolist() == [3]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an empty cell leaves a row out without a warning
        PredefinedSplitter().split(ids[[0, 5]], attrs.iloc[[0, 5]])


def test_stratified_split_with_a_single_row_class_names_the_class_and_the_fix():
    ids = pd.Index([f"r{i}" for i in range(12)])
    attrs = pd.DataFrame({"c": ["a"] * 6 + ["b"] * 5 + ["lonely"]}, index=ids)
    with pytest.raises(ValueError, match=r"\['lonely'\] have a single row.*RandomSplitter"):
        StratifiedSplitter("c", 0.2, 0.2).split(ids, attrs)
