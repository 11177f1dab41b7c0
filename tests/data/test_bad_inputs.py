"""Every bad input gives a one-line error naming the problem."""

from __future__ import annotations

import json

import numpy as np
import pytest

from foundation_model.data import CompoundDataModule, KFoldSplitter, RandomSplitter
from foundation_model.models.task_head import (
    ClassificationTask,
    RegressionTask,
    SequenceRNNTask,
    TaskSpec,
)


def load(formula, attrs, tasks, **kw):
    dm = CompoundDataModule(formula, tasks, attrs, **kw)
    dm.setup("fit")
    return dm


def test_missing_column(tables):
    with pytest.raises(KeyError, match=r"column\(s\) \['band_gap'\] needed by task 'bg' not found"):
        load(tables["formula"], tables["attributes"], [RegressionTask("bg", column="band_gap")])


def test_non_numeric_descriptor(tables):
    f = tables["formula"].copy()
    f["formula"] = "NaCl"
    with pytest.raises(ValueError, match=r"non-numeric descriptor column\(s\) \['formula'\]"):
        load(f, tables["attributes"], [RegressionTask("y")])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_features(tables, bad):
    """A missing descriptor is filled with the median of the *training* rows, recorded in
    the input schema (so new data is imputed the same way)."""
    f = tables["formula"].copy()
    f.iloc[3, 2] = bad
    dm = load(f, tables["attributes"], [RegressionTask("y")])
    train = dm.splits.train
    col = f.iloc[:, 2].to_numpy(dtype=float)
    expected = np.median(col[train][np.isfinite(col[train])])
    assert dm.tensors.x_formula[3, 2].item() == pytest.approx(expected, rel=1e-6)
    schema = dm.input_schema()["formula"]
    assert schema["columns"][2] == "d2"
    assert schema["fill"][2] == pytest.approx(expected)


def test_non_numeric_target(tables):
    a = tables["attributes"].copy()
    a["y"] = a["y"].astype(object)
    a.iloc[0, a.columns.get_loc("y")] = "high"
    with pytest.raises(ValueError, match="non-numeric value"):
        load(tables["formula"], a, [RegressionTask("y")])


def test_unknown_task_type(tables):
    with pytest.raises(ValueError, match="must be given as"):
        CompoundDataModule(
            tables["formula"], [{"type": "regression", "name": "y"}], tables["attributes"]
        )

    class RankingTask(TaskSpec):
        task_type = "ranking"

        def build_head(self, d_in):
            raise NotImplementedError

        def target_columns(self):
            return ["y"]

    with pytest.raises(TypeError, match="abstract"):  # a task type implements the contract
        RankingTask("r")
    with pytest.raises(ValueError, match="Unknown TaskSpec class"):
        CompoundDataModule(
            tables["formula"], [{"class_path": "foundation_model.models.task_head.Ranking"}], None
        )


def test_sequence_length_mismatch(tables):
    a = tables["attributes"].copy()
    row = a.index[a["cp"].notna()][0]
    a.loc[row, "cp"] = json.dumps([1.0, 2.0])
    with pytest.raises(ValueError, match=rf"sequence length mismatch at row '{row}'"):
        load(tables["formula"], a, [SequenceRNNTask("cp", "T", "cp")])
    b = tables["attributes"].copy()
    b.loc[row, "T"] = None  # values without points: said as such, not "0 points"
    with pytest.raises(ValueError, match=rf"row '{row}' has \d+ 'cp' values but no 'T' points"):
        load(tables["formula"], b, [SequenceRNNTask("cp", "T", "cp")])


def test_missing_file(tmp_path, tables):
    with pytest.raises(FileNotFoundError, match="attributes_source: file not found"):
        load(tables["formula"], str(tmp_path / "nope.csv"), [RegressionTask("y")])


def test_unknown_label_and_bad_splits(tables):
    with pytest.raises(
        ValueError, match=r"training label 'metal' \(row id .*\) is not one of the classes"
    ):
        load(
            tables["formula"],
            tables["attributes"],
            [ClassificationTask("cls", class_names=["insulator", "x"])],
        )
    with pytest.raises(ValueError, match="sum to less than 1"):
        RandomSplitter(0.6, 0.5)
    with pytest.raises(ValueError, match="0 <= fold < n_folds"):
        KFoldSplitter(5, 5)
    with pytest.raises(ValueError, match="Task names must be unique"):
        CompoundDataModule(tables["formula"], [RegressionTask("y"), RegressionTask("y")])


@pytest.mark.parametrize("names", [None, ["metal", "insulator", "semi"]])
def test_single_class_training_rows_refused(tables, names):
    """One class among the training labels cannot train a classifier: refused before
    training, whether the classes are inferred or named in the config."""
    a = tables["attributes"].copy()
    a["cls"] = "metal"
    with pytest.raises(ValueError, match=r"single class 'metal'.*at least two classes"):
        load(tables["formula"], a, [ClassificationTask("cls", class_names=names)])


def test_attribute_rows_without_descriptors_warned(tables):
    a = tables["attributes"].copy()
    a.loc["orphan-1"] = a.iloc[0]
    with pytest.warns(UserWarning, match=r"1 of its \d+ rows have ids not in formula_desc_source"):
        load(tables["formula"], a, [RegressionTask("y")])
