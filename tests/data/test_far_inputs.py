"""Held-out descriptors thousands of training stds out are named in a warning."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from foundation_model.data import CompoundDataModule, PredefinedSplitter
from foundation_model.data.far_inputs import FarInputWarning
from foundation_model.models.task_head import RegressionTask


def _tables(value: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    ids = [f"r{i}" for i in range(12)]
    x = pd.DataFrame(rng.normal(size=(12, 2)), columns=["a", "b"], index=ids)
    # nearly constant on the training rows: 0 with float noise on two of them (the Magpie
    # column 'mode GSmagmom' of an audit), and a real value on a validation row
    x["gsmagmom"] = 0.0
    x.loc[["r1", "r2"], "gsmagmom"] = 6e-6
    x.loc["r9", "gsmagmom"] = value
    split = ["train"] * 8 + ["val"] * 2 + ["test"] * 2
    y = pd.DataFrame({"y": rng.normal(size=12), "split": split}, index=ids)
    return x, y


def test_a_held_out_value_far_outside_a_nearly_constant_column_is_named():
    x, y = _tables(0.595)
    dm = CompoundDataModule(x, [RegressionTask("y")], y, splitter=PredefinedSplitter("split"))
    with pytest.warns(FarInputWarning, match=r"formula_desc_source: .*'gsmagmom' \(training "):
        dm.setup("fit")
    x, y = _tables(6e-6)  # within the training values: nothing to say
    dm = CompoundDataModule(x, [RegressionTask("y")], y, splitter=PredefinedSplitter("split"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FarInputWarning)
        dm.setup("fit")


def test_the_same_message_is_shown_once_per_process_and_another_one_still_is():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")  # as under Lightning: the registry would not dedupe
        for value in (0.595, 0.595, 0.9):  # a benchmark's networks on one table, then another
            x, y = _tables(value)
            dm = CompoundDataModule(
                x, [RegressionTask("y")], y, splitter=PredefinedSplitter("split")
            )
            dm.setup("fit")
    far = [str(w.message) for w in seen if issubclass(w.category, FarInputWarning)]
    assert len(far) == 2 and far[0] != far[1]
