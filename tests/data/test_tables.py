"""``load_table``: empty and header-only files name the file and its role in one line."""

from __future__ import annotations

import pandas as pd
import pytest

from foundation_model.data import CompoundDataModule
from foundation_model.data.tables import load_table, parse_sequence
from foundation_model.models.task_head import RegressionTask


def _one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


def test_empty_csv_names_file_and_role(tmp_path):
    path = tmp_path / "targets.csv"
    path.write_text("")
    with pytest.raises(ValueError) as err:
        load_table(path, "attributes_source")
    assert _one_line(err) == f"attributes_source: {path} is empty (no header, no rows)."


def test_header_only_csv_is_an_error_unless_rows_are_optional(tmp_path):
    path = tmp_path / "desc.csv"
    path.write_text("id,d0,d1\n")
    with pytest.raises(ValueError, match=r"formula_desc_source: .*desc\.csv has no rows") as err:
        load_table(path, "formula_desc_source")
    assert "['d0', 'd1']" in _one_line(err)
    assert load_table(path, "formula_desc_source", require_rows=False).empty


def test_empty_parquet_and_dataframe(tmp_path):
    path = tmp_path / "s.parquet"
    pd.DataFrame({"s0": pd.Series([], dtype=float)}).to_parquet(path)
    with pytest.raises(ValueError, match=r"structure_desc_source: .*s\.parquet has no rows"):
        load_table(path, "structure_desc_source")
    with pytest.raises(ValueError, match=r"attributes_source: the DataFrame given has no rows"):
        load_table(pd.DataFrame(), "attributes_source")


def test_rows_load_with_string_ids(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,y\n1,2.5\n2,3.5\n")
    df = load_table(path, "attributes_source")
    assert list(df.index) == ["1", "2"] and list(df["y"]) == [2.5, 3.5]


def test_datamodule_reports_the_empty_attributes_file(tmp_path, tables):
    formula = tmp_path / "f.csv"
    tables["formula"].to_csv(formula)
    attrs = tmp_path / "attrs.csv"
    attrs.write_text("")
    dm = CompoundDataModule(str(formula), [RegressionTask("y")], str(attrs))
    with pytest.raises(ValueError, match=r"attributes_source: .*attrs\.csv is empty"):
        dm.setup("fit")


@pytest.mark.parametrize("id_column", [None, "sample"])
def test_ids_are_read_as_the_text_in_the_file(tmp_path, id_column):
    """``0001`` and ``2.10`` are ids, not the numbers 1 and 2.1 (which would collide)."""
    path = tmp_path / "t.csv"
    path.write_text("sample,y\n0001,1.5\n2.1,2.5\n2.10,3.5\n1e3,\nNA,NA\nnull,4\nN/A,5\n")
    df = load_table(path, "attributes_source", id_column=id_column)
    # pandas' missing-value words are ids too (they were all NaN, one duplicated id)
    assert list(df.index) == ["0001", "2.1", "2.10", "1e3", "NA", "null", "N/A"]
    assert df["y"].iloc[:3].tolist() == [1.5, 2.5, 3.5] and pd.isna(df["y"].iloc[3])
    assert pd.isna(df["y"].iloc[4]) and df["y"].iloc[5:].tolist() == [4.0, 5.0]  # NA target


def test_a_header_one_name_short_keeps_the_first_cells_as_ids(tmp_path):
    """R's write.table(sep=",") leaves the id column without a name: the first cells of the
    rows are the ids, and every named column is data."""
    path = tmp_path / "r.csv"
    path.write_text("a,y\nr1,1,2\nr2,3,4\n")
    df = load_table(path, "formula_desc_source")
    assert list(df.index) == ["r1", "r2"] and list(df.columns) == ["a", "y"]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("[1.5, 2, 3]", [1.5, 2.0, 3.0]), ("1.5;2;3", [1.5, 2.0, 3.0]), ("", None), (None, None)],
)
def test_sequence_cells_in_both_written_forms(cell, expected):
    assert parse_sequence(cell, "attributes_source", "r1") == expected


@pytest.mark.parametrize(
    ("cell", "words"),
    [
        ("1.5,2,3", "JSON list"),  # commas without brackets
        ('["a", "b"]', "not all numbers"),
        ("[1, NaN]", "NaN/inf inside a sequence"),
    ],
)
def test_bad_sequence_cells_name_the_row_and_the_format(cell, words):
    with pytest.raises(ValueError, match="row 'r1'") as err:
        parse_sequence(cell, "attributes_source", "r1")
    assert words in str(err.value)


def test_duplicated_ids_name_the_file(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("id,formula,y\n0009,Fe2O3,1\n0009,NaCl,2\n")
    with pytest.raises(ValueError, match=r"duplicated row ids \['0009'\] in .*dup\.csv") as err:
        load_table(path, "--data", id_column="id", first_column_ids=False)
    _one_line(err)


def test_id_column_names_a_parquet_index_as_fm_featurize_writes_it(tmp_path):
    """``fm featurize --id-column sample_id`` writes the ids as the Parquet's named index:
    ``data.init_args.id_column=sample_id`` must find them there too."""
    desc = pd.DataFrame({"d0": [0.1, 0.2]}, index=pd.Index(["X1", "X2"], name="sample_id"))
    desc.to_parquet(tmp_path / "desc.parquet")
    df = load_table(tmp_path / "desc.parquet", "formula_desc_source", id_column="sample_id")
    assert df.index.tolist() == ["X1", "X2"] and list(df.columns) == ["d0"]
    with pytest.raises(KeyError, match=r"id column 'id' not found.*\(index: 'sample_id'\)"):
        load_table(tmp_path / "desc.parquet", "formula_desc_source", id_column="id")
