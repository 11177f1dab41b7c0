"""table_task: a benchmark task from the user's own table (checked before any work)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from foundation_model.data.table_task import table_task

FORMULAS = [f"Fe{a}Ni{b}Co" for a in range(1, 7) for b in range(1, 6)]  # 30 distinct alloys


def _write(tmp_path, **columns) -> str:
    path = tmp_path / "my.csv"
    pd.DataFrame({"formula": FORMULAS[: len(next(iter(columns.values())))], **columns}).to_csv(
        path, index=False
    )
    return str(path)


def test_regression_folds_partition_every_row_once(tmp_path):
    y = np.linspace(0.0, 3.0, 30)
    task = table_task(_write(tmp_path, y=y), "y", n_folds=5, seed=3)
    assert task.task_type == "regression" and task.name == "my" and task.unit is None
    assert list(task.table.columns) == ["formula", "target"]
    assert task.table.index[0] == "row-0"  # row numbers without an id column
    tests = [te for _, te in task.folds]
    assert sorted(sum(tests, [])) == sorted(task.table.index)  # each row tested once
    for train, test in task.folds:
        assert not set(train) & set(test) and len(train) + len(test) == 30
    again = table_task(_write(tmp_path, y=y), "y", n_folds=5, seed=3)
    assert again.folds == task.folds  # the seed fixes the shuffle
    assert "5 shuffled folds (seed 3)" in task.extra["protocol"]
    named = table_task(_write(tmp_path, y=y), "y", name="../my run")
    assert named.name == "my_run"  # a file name inside --out, never a path out of it


def test_two_text_labels_are_a_stratified_classification(tmp_path):
    labels = ["glass"] * 20 + ["crystal"] * 10
    task = table_task(_write(tmp_path, gfa=labels), "gfa", n_folds=5)
    assert task.task_type == "classification"
    assert task.extra["classes"] == ["crystal", "glass"]  # the later sorted label is class 1
    assert task.table["target"].sum() == 20
    for _, test in task.folds:  # stratified: every fold holds 4 glass and 2 crystal rows
        assert task.table.loc[test, "target"].tolist().count(1) == 4
    flipped = table_task(_write(tmp_path, gfa=labels), "gfa", positive_class="crystal")
    assert flipped.extra["classes"] == ["glass", "crystal"] and flipped.table["target"].sum() == 10
    zero_one = table_task(_write(tmp_path, m=[0, 1] * 15), "m")
    assert zero_one.task_type == "classification" and zero_one.extra["classes"] == ["0", "1"]


def test_id_column_names_the_rows(tmp_path):
    path = tmp_path / "ids.csv"
    pd.DataFrame({"key": [f"k{i}" for i in range(30)], "formula": FORMULAS, "y": range(30)}).to_csv(
        path, index=False
    )
    task = table_task(path, "y", id_column="key")
    assert list(task.table.index[:2]) == ["k0", "k1"] and task.task_type == "regression"


@pytest.mark.parametrize(
    ("columns", "kwargs", "message"),
    [
        ({"y": range(30)}, {"target": "band_gap"}, r"column\(s\) \['band_gap'\] not found"),
        ({"y": [1.0] * 29 + [np.nan]}, {}, r"1 row\(s\) have no 'y' value, first at data row 30"),
        ({"y": ["a", "b", "c"] * 10}, {}, "exactly two classes; 'y' has 3"),
        ({"y": ["x", "1.5"] * 15}, {"task_type": "regression"}, r"'y' is not numeric \(data row 1"),
        # mostly numbers, a few typos: read as a regression target, the typo named
        ({"y": [str(i / 10) for i in range(29)] + ["<0.1"]}, {}, r"not numeric \(data row 30"),
        ({"y": [f"{i},5" for i in range(30)]}, {}, r"decimal commas \(data row 1: '0,5'"),
        # plain floats asked to be classes: not a decimal-comma problem
        ({"y": np.linspace(0, 3, 30)}, {"task_type": "classification"}, r"has 30 .* leave out"),
        ({"y": ["a"] * 28 + ["b"] * 2}, {}, "class 'b' has 2 row"),
        ({"y": range(30)}, {"n_folds": 1}, "--n-folds must be in 2..30"),
        ({"y": [0, 1] * 15}, {"positive_class": "yes"}, "--positive-class 'yes' is not one of"),
        ({"y": range(30)}, {"task_type": "ranking"}, "--task-type must be one of"),
    ],
)
def test_bad_tables_are_one_line_errors(tmp_path, columns, kwargs, message):
    kwargs = {"target": "y", **kwargs}
    with pytest.raises((ValueError, KeyError), match=message) as err:
        table_task(_write(tmp_path, **columns), **kwargs)
    assert "\n" not in str(err.value)


def test_unreadable_formulas_are_counted_and_the_first_named(tmp_path):
    path = tmp_path / "bad.csv"
    formulas = [*FORMULAS[:28], "Fe2Qq", ""]
    pd.DataFrame({"formula": formulas, "y": range(30)}).to_csv(path, index=False)
    with pytest.raises(
        ValueError,
        match=r"2 formula\(s\) in column 'formula' cannot be read, "
        r"first 'Fe2Qq' \(data row 29\)",
    ):
        table_task(path, "y")
    with pytest.raises(FileNotFoundError, match="file not found"):
        table_task(tmp_path / "nope.csv", "y")


def test_the_formula_nan_is_sodium_nitride_not_a_missing_value(tmp_path):
    path = tmp_path / "nitrides.csv"
    rows = "".join(f"{f},{i}\n" for i, f in enumerate(["NaN", "Li3N"] * 3))
    path.write_text("formula,y\n" + rows)
    task = table_task(str(path), "y", n_folds=2)
    assert list(task.table["formula"][:2]) == ["NaN", "Li3N"]


def test_rows_of_one_compound_share_a_fold(tmp_path):
    """Fe2O3 written twice, a hydrate in two spellings, an alloy as fractions and as
    integers: each compound is tested in one fold only, never trained on in the same fold."""
    formulas = ["Fe2O3", "Fe4O6", "CuSO4·5H2O", "CuH10SO9", "Fe0.7Ni0.3", "Fe7Ni3"]
    formulas += [f"Li{i}O" for i in range(1, 15)] + ["GaN", "AlN", "InN", "BN"]
    path = tmp_path / "dup.csv"
    pd.DataFrame({"formula": formulas, "y": np.arange(len(formulas), dtype=float)}).to_csv(
        path, index=False
    )
    task = table_task(path, "y", n_folds=4, seed=1)
    pairs = [("row-0", "row-1"), ("row-2", "row-3"), ("row-4", "row-5")]
    for train, test in task.folds:
        for a, b in pairs:
            assert (a in test) == (b in test) and (a in train) == (b in train)
    assert "24 rows' 21 compounds kept whole" in task.extra["protocol"]
    with pytest.raises(ValueError, match=r"--n-folds must be in 2\.\.21 \(the 21 distinct"):
        table_task(path, "y", n_folds=22)


def test_a_class_of_one_compound_is_refused_before_any_work(tmp_path):
    """Five NaCl rows are one compound: grouped, they share one fold, so the other folds
    would have no row of their class."""
    formulas = FORMULAS[:20] + ["NaCl"] * 5
    path = tmp_path / "onepos.csv"
    pd.DataFrame({"formula": formulas, "y": [0] * 20 + [1] * 5}).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"class '1' has 1 distinct compound\(s\), fewer than"):
        table_task(path, "y", n_folds=5)
