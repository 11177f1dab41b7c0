"""``fm featurize`` end to end: outputs, side file, cache hit, errors."""

from __future__ import annotations

import pandas as pd
import pytest

from foundation_model.cli.featurize import main
from foundation_model.features.table_io import read_table


def test_featurize_cli_writes_table_errors_and_uses_cache(tmp_path, capsys):
    src = tmp_path / "my.csv"
    pd.DataFrame({"name": ["r1", "r2", "r3"], "formula": ["Fe2O3", "Zz9", "LiCoO2"]}).to_csv(
        src, index=False
    )
    out = tmp_path / "out" / "my_magpie.parquet"
    argv = [
        "--input",
        str(src),
        "--formula-column",
        "formula",
        "--id-column",
        "name",
        "--preset",
        "magpie",
        "--output",
        str(out),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--quiet",
    ]
    assert main(argv) == 0
    assert "cache miss" in capsys.readouterr().out
    table = read_table(out)
    assert list(table.index) == ["r1", "r3"] and table.shape[1] == 132
    errors = pd.read_csv(tmp_path / "out" / "my_magpie.errors.csv")
    assert errors["id"].tolist() == ["r2"] and errors["input"].tolist() == ["Zz9"]
    assert main(argv) == 0
    assert "cache hit" in capsys.readouterr().out
    pd.testing.assert_frame_equal(read_table(out), table)


def test_featurize_cli_bad_column_is_one_line_error(tmp_path, capsys):
    src = tmp_path / "my.csv"
    pd.DataFrame({"comp": ["NaCl"]}).to_csv(src, index=False)
    code = main(["--input", str(src), "--output", str(tmp_path / "o.csv"), "--no-cache", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "formula column 'formula' not in the input" in err and "\n" not in err


def test_backbone_embeddings_feed_the_multitask_data_module(tmp_path):
    pytest.importorskip("sevenn", reason="sevenn not installed: uv sync --extra sevenn")
    import ase.io
    import numpy as np
    import torch
    from ase.build import bulk

    from foundation_model.data import CompoundDataModule
    from foundation_model.models.task_head import RegressionTask

    torch.set_num_threads(1)
    structures = []
    for i, (el, a) in enumerate([("Cu", 3.6), ("Al", 4.05), ("Ni", 3.52)]):
        atoms = bulk(el, "fcc", a=a)
        atoms.info["id"] = f"s{i}"
        structures.append(atoms)
    path = tmp_path / "s.extxyz"
    ase.io.write(path, structures)
    out = tmp_path / "emb.parquet"
    assert main(["--backbone", "sevennet", "--input", str(path), "--output", str(out)]) == 0
    emb = pd.read_parquet(out)
    assert list(emb.index) == ["s0", "s1", "s2"] and emb.shape[1] > 8
    formula = pd.DataFrame(np.eye(3), index=pd.Index(["s0", "s1", "s2"], name="id"))
    attrs = pd.DataFrame({"y": [1.0, 2.0, 3.0]}, index=formula.index)
    dm = CompoundDataModule(formula, [RegressionTask("y")], attrs, structure_desc_source=str(out))
    assert dm.structure_dim == emb.shape[1] and bool(dm.tensors.has_structure.all())


def _run(tmp_path, src, *extra):
    out = tmp_path / "out.parquet"
    argv = ["--input", str(src), "--output", str(out), "--no-cache", "--quiet", *extra]
    return main(argv), out


def test_ids_default_to_the_first_column_like_the_attributes_table(tmp_path):
    from foundation_model.data.tables import load_table

    src = tmp_path / "data.csv"
    pd.DataFrame(
        {"sample": [101, 102, 103], "formula": ["NaCl", "Fe2O3", "GaN"], "y": [1.0, 2.0, 3.0]}
    ).to_csv(src, index=False)
    code, out = _run(tmp_path, src)
    assert code == 0
    features = read_table(out)
    targets = load_table(src, "attributes_source")  # how fm fit reads the same CSV
    assert list(features.index.astype(str)) == ["101", "102", "103"]
    assert list(targets.index) == list(features.index.astype(str))


def test_formula_first_column_gives_formula_ids_and_row_numbers_on_request(tmp_path, capsys):
    src = tmp_path / "f.csv"
    pd.DataFrame({"formula": ["NaCl", "GaN"], "y": [1.0, 2.0]}).to_csv(src, index=False)
    code, out = _run(tmp_path, src)
    assert code == 0 and list(read_table(out).index) == ["NaCl", "GaN"]
    code, out = _run(tmp_path, src, "--row-numbers")
    assert code == 0 and list(read_table(out).index.astype(str)) == ["0", "1"]


def test_duplicated_default_ids_are_a_one_line_error(tmp_path, capsys):
    src = tmp_path / "dup.csv"
    pd.DataFrame({"formula": ["NaCl", "NaCl"], "y": [1.0, 2.0]}).to_csv(src, index=False)
    code, out = _run(tmp_path, src)
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert "first column 'formula'" in err and "--id-column" in err and not out.exists()


def test_no_surviving_row_exits_non_zero(tmp_path, capsys):
    src = tmp_path / "bad.csv"
    pd.DataFrame({"id": ["a", "b"], "formula": ["Zz9", "Qq2"]}).to_csv(src, index=False)
    code, out = _run(tmp_path, src)
    err = capsys.readouterr().err.strip()
    assert code == 1 and "\n" not in err
    assert f"no row of {src} could be featurized (2 input row(s), 2 failure(s)" in err
    assert not out.exists()
    errors = pd.read_csv(tmp_path / "out.errors.csv")
    assert errors["id"].tolist() == ["a", "b"]


def test_empty_and_header_only_inputs(tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, _ = _run(tmp_path, empty)
    err = capsys.readouterr().err.strip()
    assert (
        code == 2 and err == f"fm featurize: error: --input {empty} is empty (no header, no rows)."
    )
    header = tmp_path / "header.csv"
    header.write_text("id,formula\n")
    code, out = _run(tmp_path, header)
    err = capsys.readouterr().err.strip()
    assert code == 1 and "0 input row(s)" in err and "\n" not in err and not out.exists()


def test_unsupported_output_suffix_is_refused_before_any_work(tmp_path, capsys):
    src = tmp_path / "in.csv"
    pd.DataFrame({"id": ["a"], "formula": ["NaCl"]}).to_csv(src, index=False)
    out = tmp_path / "out.xlsx"
    argv = ["--input", str(src), "--output", str(out), "--cache-dir", str(tmp_path / "c")]
    assert main([*argv, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--output" in err and "'.xlsx'" in err
    assert not (tmp_path / "c").exists() and not out.exists()


def test_formula_nan_is_a_formula_not_a_missing_value(tmp_path):
    """pandas reads the text "NaN" as missing; in a formula column it is Na + N."""
    src = tmp_path / "in.csv"
    src.write_text("id,formula\na,NaN\nb,NaCl\n")
    out = tmp_path / "out.parquet"
    argv = ["--input", str(src), "--output", str(out), "--preset", "magpie", "--quiet"]
    assert main([*argv, "--no-cache"]) == 0
    assert list(read_table(out).index) == ["a", "b"]


@pytest.mark.parametrize("flag", ["--output", "--errors", "--structure-output"])
def test_an_output_that_is_the_input_is_refused_and_the_input_kept(tmp_path, capsys, flag):
    src = tmp_path / "my.csv"
    src.write_text("id,formula,target\na,NaCl,1.0\n")
    before = src.read_bytes()
    argv = ["--input", str(src), "--formula-column", "formula", "--output"]
    argv += [str(src) if flag == "--output" else str(tmp_path / "out.csv")]
    if flag != "--output":
        argv += [flag, str(src)]
    assert main(argv) != 0
    assert "is the input file" in capsys.readouterr().err
    assert src.read_bytes() == before


def test_backbone_with_a_table_input_names_the_structure_file_it_needs(tmp_path, capsys):
    table = tmp_path / "s.csv"
    table.write_text("id,structure\na,x\n")
    argv = ["--backbone", "sevennet", "--input", str(table)]
    argv += ["--output", str(tmp_path / "e.parquet")]
    assert main(argv) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--backbone reads a structure file" in err[0]


def test_ids_keep_their_text_through_featurize_and_fit_reading(tmp_path):
    from foundation_model.data.tables import load_table

    src = tmp_path / "data.csv"
    src.write_text("sample,formula,y\n0001,NaCl,1.0\n2.1,Fe2O3,2.0\n2.10,GaN,3.0\n")
    code, out = _run(tmp_path, src)
    assert code == 0
    ids = ["0001", "2.1", "2.10"]
    assert list(read_table(out).index) == ids
    assert list(load_table(src, "attributes_source").index) == ids  # fm fit joins on these
    csv_out = tmp_path / "out.csv"  # a CSV written by featurize reads back the same ids
    assert main(["--input", str(src), "--output", str(csv_out), "--no-cache", "--quiet"]) == 0
    assert list(read_table(csv_out).index) == ids


def test_the_cache_note_names_each_part_when_they_differ():
    from foundation_model.cli.featurize import _cache_note

    assert _cache_note({"cache_hit": True}) == "cache hit"
    assert _cache_note({"cache_hit": False, "structure_cache_hit": False}) == "cache miss"
    both = {"cache_hit": True, "structure_cache_hit": False}
    assert _cache_note(both) == "cache formulas hit, structures miss"
