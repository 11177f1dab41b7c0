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
