"""Rows repeated across a split are reported, once, with the counts per split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from foundation_model.data import CompoundDataModule, PredefinedSplitter
from foundation_model.data.shared_rows import SharedRowsWarning, shared_rows
from foundation_model.data.splitters import SplitIndices
from foundation_model.models.task_head import RegressionTask


def test_counts_rows_with_a_training_twin():
    x = np.array([[1.0, 2.0], [1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [3.0, 4.0]])
    splits = SplitIndices(train=np.array([0, 2]), val=np.array([1]), test=np.array([3, 4]))
    assert shared_rows(x, None, splits) == {"val": 1, "test": 1}
    # the same formula with another structure (a polymorph) is another input
    s = np.array([[0.0], [9.0], [0.0], [0.0], [7.0]])
    assert shared_rows(x, s, splits) == {"val": 0, "test": 0}
    # rows without any descriptor (filled alike with the medians later) are not compounds
    empty = np.full((5, 2), np.nan)
    assert shared_rows(empty, None, splits) == {"val": 0, "test": 0}


def test_the_data_module_warns_when_a_compound_straddles_the_split(tmp_path):
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(12, 3)), columns=["a", "b", "c"])
    x.iloc[11] = x.iloc[0]  # row 11 repeats row 0
    x.index = [f"r{i}" for i in range(12)]
    split = ["train"] * 8 + ["val"] * 2 + ["test"] * 2
    y = pd.DataFrame({"y": rng.normal(size=12), "split": split}, index=x.index)
    dm = CompoundDataModule(x, [RegressionTask("y")], y, splitter=PredefinedSplitter("split"))
    with pytest.warns(SharedRowsWarning, match=r"^1 of 2 test rows have a training row"):
        dm.setup("fit")
    y.loc["r11", "split"] = "train"
    y.loc["r7", "split"] = "test"
    clean = CompoundDataModule(x, [RegressionTask("y")], y, splitter=PredefinedSplitter("split"))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", SharedRowsWarning)
        clean.setup("fit")
