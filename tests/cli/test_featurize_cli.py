"""``fm featurize`` end to end: outputs, side file, cache hit, errors."""

from __future__ import annotations

import pandas as pd

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
