"""Prediction from a checkpoint alone: featurize, align, impute with training statistics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import foundation_model
from foundation_model.cli.featurize import main as featurize_main
from foundation_model.cli.main import main

CATIONS = ["Li", "Na", "K", "Mg", "Ca", "Sr", "Al", "Ga", "Zn", "Cu", "Fe", "Ni"]
ANIONS = ["O", "S", "Se", "N", "F", "Cl", "Br"]


def _training_table() -> pd.DataFrame:
    """Binary compounds with targets computed from real elemental data (pymatgen)."""
    from pymatgen.core import Composition

    rows = []
    for i, c in enumerate(CATIONS):
        for j, a in enumerate(ANIONS):
            for n in (1, 2):
                comp = Composition(f"{c}{n}{a}")
                chi = [el.X for el in comp.elements]
                y = abs(chi[0] - chi[1]) + 0.1 * n
                rows.append(
                    {
                        "id": f"r{i}_{j}_{n}",
                        "formula": comp.reduced_formula,
                        "gap": y,
                        "ionic": "ionic" if y > 1.8 else "covalent",
                        "T": json.dumps([300.0, 500.0, 700.0]),
                        "cp": json.dumps([10 + y, 11 + y, 12 + 1.5 * y]),
                    }
                )
    return pd.DataFrame(rows).drop_duplicates("formula")


TASKS = [
    {
        "class_path": "foundation_model.models.task_head.RegressionTask",
        "init_args": {"name": "gap"},
    },
    {
        "class_path": "foundation_model.models.task_head.ClassificationTask",
        "init_args": {"name": "ionic"},
    },
    {
        "class_path": "foundation_model.models.task_head.SequenceRNNTask",
        "init_args": {"name": "cp", "x_column": "T", "y_column": "cp", "hidden_size": 8},
    },
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("predictor")
    table = _training_table()
    table.to_csv(tmp / "train.csv", index=False)
    feats = tmp / "train_magpie.parquet"
    argv = ["--input", str(tmp / "train.csv"), "--formula-column", "formula", "--id-column"]
    argv += ["id", "--preset", "magpie", "--output", str(feats), "--cache-dir", str(tmp / "c")]
    assert featurize_main([*argv, "--quiet"]) == 0
    cfg = {
        "seed_everything": 0,
        "trainer": {
            "max_epochs": 4,
            "enable_progress_bar": False,
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": str(tmp / "runs"), "name": "p"},
            },
            "callbacks": [
                {
                    "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                    "init_args": {"monitor": "val_task_error", "filename": "best"},
                }
            ],
        },
        "model": {
            "class_path": "foundation_model.models.FlexibleMultiTaskModel",
            "init_args": {
                "encoder_dims": [32],
                "deposit_dim": 16,
                "ensemble_size": 3,
                "sigma_distance_rows": 64,  # a subsample of the ~110 training rows
            },
        },
        "data": {
            "class_path": "foundation_model.data.CompoundDataModule",
            "init_args": {
                "formula_desc_source": str(feats),
                "attributes_source": str(tmp / "train.csv"),
                "batch_size": 16,
                "tasks": TASKS,
            },
        },
        "plots": {"enabled": False},
    }
    (tmp / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["fit", "--config", str(tmp / "cfg.yaml")]) == 0
    ckpt = next((tmp / "runs" / "p").glob("version_*/checkpoints/best.ckpt"))
    return {"tmp": tmp, "ckpt": ckpt, "feats": feats}


def test_load_and_predict_formulas_from_the_checkpoint_alone(trained):
    p = foundation_model.load(trained["ckpt"])
    df = p.predict(["Fe2O3", "GaN", "NaCl"])
    assert df["formula"].tolist() == ["Fe2O3", "GaN", "NaCl"]
    for col in ("gap_value", "gap_std", "ionic_probabilities_ionic", "ionic_label"):
        assert col in df.columns, col
    assert np.isfinite(df["gap_value"]).all()
    assert (df["gap_std"] > 0).all()  # an ensemble of 3 heads gives a spread
    # the distance to the kept training rows (sigma_distance_rows) comes as a column
    assert np.isfinite(df["latent_distance"]).all() and (df["latent_distance"] >= 0).all()
    assert ((df["ionic_entropy"] >= 0) & (df["ionic_entropy"] <= np.log(2) + 1e-6)).all()
    curves = [json.loads(s) for s in df["cp_sequence"]]
    assert all(len(c) == 3 for c in curves)  # the training points are the default
    from pymatgen.core import Composition

    comps = p.predict([Composition("Fe2O3"), Composition({"Ga": 1, "N": 1}), "NaCl"])
    assert comps["formula"].tolist() == ["Fe2O3", "Ga1N1", "NaCl"]
    assert np.allclose(comps["gap_value"], df["gap_value"])  # the same rows as text


def test_cli_predict_input_writes_predictions_and_errors(trained, tmp_path):
    new = tmp_path / "new.csv"
    pd.DataFrame({"formula": ["GaN", "Xx2O", "LiF", "", "MgO"]}).to_csv(new, index=False)
    out = tmp_path / "preds.csv"
    code = main(
        ["predict", "--ckpt_path", str(trained["ckpt"]), "--input", str(new)]
        + [
            "--output",
            str(out),
        ]
    )
    assert code == 0
    preds = pd.read_csv(out)
    assert preds["formula"].tolist() == ["GaN", "LiF", "MgO"]
    errors = pd.read_csv(tmp_path / "preds.errors.csv")
    assert errors["row"].tolist() == [1, 3]
    assert "Xx" in errors["reason"].iloc[0]


def test_a_bad_sequence_cell_sends_its_row_to_the_errors(trained, tmp_path):
    new = tmp_path / "seq.csv"
    cells = ["[300, 500, 700]", "abc", "[300, nan]", "", "[1000]"]
    pd.DataFrame({"formula": ["GaN", "LiF", "MgO", "NaCl", "CuS"], "T": cells}).to_csv(
        new, index=False
    )
    out = tmp_path / "seq_preds.csv"
    assert (
        main(
            ["predict", "--ckpt_path", str(trained["ckpt"]), "--input", str(new)]
            + ["--output", str(out)]
        )
        == 0
    )
    assert pd.read_csv(out)["formula"].tolist() == ["GaN", "NaCl", "CuS"]
    errors = pd.read_csv(tmp_path / "seq_preds.errors.csv")
    assert errors["row"].tolist() == [1, 2] and errors["reason"].str.contains("'T'").all()


def test_numeric_ids_in_a_parquet_index_are_ids_not_descriptors(trained, tmp_path):
    feats = pd.read_parquet(trained["feats"]).iloc[:4].reset_index(drop=True)
    feats.index = pd.Index([10, 11, 12, 13], name="id")  # as `fm featurize --row-numbers`
    table = tmp_path / "numeric_ids.parquet"
    feats.to_parquet(table)
    out = tmp_path / "numeric_preds.csv"
    assert (
        main(
            ["predict", "--ckpt_path", str(trained["ckpt"]), "--input", str(table)]
            + ["--output", str(out)]
        )
        == 0
    )
    assert pd.read_csv(out)["id"].tolist() == [10, 11, 12, 13]


def test_cli_predict_names_separator_encoding_and_batch_size_problems(trained, tmp_path, capsys):
    base = ["predict", "--ckpt_path", str(trained["ckpt"]), "--input"]
    semi = tmp_path / "semi.csv"
    semi.write_text("id;formula\na;GaN\n")
    assert main([*base, str(semi)]) == 1
    assert "separated by ';' or tabs" in capsys.readouterr().err
    latin = tmp_path / "latin.csv"
    latin.write_bytes("id,formula\ncafé,GaN\n".encode("cp1252"))
    assert main([*base, str(latin)]) == 1
    err = capsys.readouterr().err
    assert str(latin) in err and "not UTF-8" in err
    with pytest.raises(SystemExit):
        main([*base, str(semi), "--batch-size", "0"])
    assert "--batch-size: must be at least 1" in capsys.readouterr().err


def test_a_text_cell_among_descriptors_is_an_error_not_a_median(trained, tmp_path, capsys):
    """A typo in a descriptor table (``abc``) used to be filled with the training median
    silently; an empty cell still is."""
    feats = pd.read_parquet(trained["feats"]).iloc[:3].copy()
    col = feats.columns[1]
    feats[col] = feats[col].astype(object)
    feats.iloc[1, 1] = "abc"
    table = tmp_path / "typo.csv"
    feats.to_csv(table)
    out = tmp_path / "typo_preds.csv"
    argv = ["predict", "--ckpt_path", str(trained["ckpt"]), "--input", str(table)]
    assert main([*argv, "--output", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert "holds the text 'abc'" in err and repr(col) in err and "\n" not in err
    assert not out.exists()
    feats.iloc[1, 1] = None  # an empty cell: filled with the training median
    feats.to_csv(table)
    assert main([*argv, "--output", str(out)]) == 0


def test_rows_left_out_warn_and_do_not_shift_the_others(trained):
    p = foundation_model.load(trained["ckpt"])
    with pytest.warns(UserWarning, match=r"1 of 3 rows could not be predicted.*'Xx3'"):
        df = p.predict(["Fe2O3", "Xx3", "GaN"])
    assert df.index.tolist() == [0, 2] and df["formula"].tolist() == ["Fe2O3", "GaN"]
    table = pd.DataFrame({"formula": ["GaN", "not a formula", "NaCl"]}, index=["a", "b", "c"])
    with pytest.warns(UserWarning):
        out = p.predict(table)
    assert out.index.tolist() == ["a", "c"]
    table["gap"] = out["gap_value"]  # aligns by label: the bad row gets NaN, not a neighbour's
    assert np.isnan(table.loc["b", "gap"]) and table.loc["c", "gap"] == out.loc["c", "gap_value"]
    _, errors = p.predict_with_errors(["GaN", None, float("nan"), 123])
    assert errors["reason"].tolist()[:2] == ["no formula (empty cell)"] * 2
    assert errors["reason"].iloc[2] == (
        "cannot parse formula '123': a formula is text (e.g. 'Fe2O3'), got int"
    )


def test_predictions_do_not_depend_on_other_rows_or_their_order(trained):
    p = foundation_model.load(trained["ckpt"])
    formulas = ["GaN", "LiF", "MgO", "CuS", "ZnSe"]
    alone = pd.concat([p.predict([f]) for f in formulas], ignore_index=True)
    together = p.predict(list(reversed(formulas))).iloc[::-1].reset_index(drop=True)
    np.testing.assert_allclose(alone["gap_value"], together["gap_value"], rtol=1e-5)
    np.testing.assert_allclose(alone["gap_std"], together["gap_std"], rtol=1e-4)
    np.testing.assert_allclose(alone["latent_distance"], together["latent_distance"], rtol=1e-4)


def test_descriptor_columns_align_by_name_and_missing_ones_error(trained):
    p = foundation_model.load(trained["ckpt"])
    feats = pd.read_parquet(trained["feats"]).iloc[:6]
    ref = p.predict(feats)
    shuffled = feats[list(np.random.default_rng(0).permutation(feats.columns))]
    np.testing.assert_allclose(p.predict(shuffled)["gap_value"], ref["gap_value"], rtol=1e-5)
    with pytest.raises(ValueError, match="missing column"):
        p.predict(feats.drop(columns=[feats.columns[5]]))
    with pytest.raises(ValueError, match="unexpected column"):
        p.predict(feats.assign(extra_descriptor=1.0))


def test_nan_descriptors_are_filled_with_training_medians(trained):
    p = foundation_model.load(trained["ckpt"])
    feats = pd.read_parquet(trained["feats"]).iloc[:3].copy()
    col = p.schema.formula.columns[0]
    filled = feats.copy()
    filled[col] = p.schema.formula.fill[0]
    feats[col] = np.nan
    np.testing.assert_allclose(p.predict(feats)["gap_value"], p.predict(filled)["gap_value"])


def test_bad_checkpoint_files_are_one_line_errors(tmp_path, capsys):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint at all")
    new = tmp_path / "new.csv"
    pd.DataFrame({"formula": ["GaN"]}).to_csv(new, index=False)
    assert main(["predict", "--ckpt_path", str(bad), "--input", str(new)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.ckpt is truncated or not a PyTorch checkpoint" in err[0]
    assert main(["predict", "--ckpt_path", str(tmp_path / "nope.ckpt"), "--input", str(new)]) == 1
    assert "Checkpoint not found" in capsys.readouterr().err


def test_structure_model_predicts_formula_only_rows_and_says_so(tmp_path):
    """A model trained with structure descriptors predicts rows without them (modality
    absent) and reports which rows used a structure."""
    import lightning.pytorch as pl

    from foundation_model.data import CompoundDataModule
    from foundation_model.inference import Predictor
    from foundation_model.models import FlexibleMultiTaskModel
    from foundation_model.models.task_head import RegressionTask

    fake = Path(__file__).resolve().parents[2] / "samples" / "fake_data"
    dm = CompoundDataModule(
        str(fake / "formula_descriptors.csv"),
        [RegressionTask("y_structure")],
        str(fake / "attributes.csv"),
        structure_desc_source=str(fake / "structure_descriptors.csv"),
        batch_size=128,
    )
    model = FlexibleMultiTaskModel(
        dm.tasks, dm.formula_dim, dm.structure_dim, encoder_dims=[16], deposit_dim=8
    )
    trainer = pl.Trainer(
        max_epochs=1, logger=False, enable_progress_bar=False, default_root_dir=tmp_path
    )
    trainer.fit(model, dm)
    p = Predictor(model)
    formula = pd.read_csv(fake / "formula_descriptors.csv").iloc[:4]
    structure = pd.read_csv(fake / "structure_descriptors.csv").set_index("id")
    with_structure = formula.join(structure, on="id")
    with_structure.loc[with_structure.index[1], structure.columns] = np.nan  # row 1: none
    out = p.predict(with_structure, id_column="id")
    assert out["structure_used"].tolist() == [
        bool(i in structure.index) and k != 1 for k, i in enumerate(formula["id"])
    ]
    with pytest.warns(UserWarning, match="also reads structures, but the input has no"):
        alone = p.predict(formula, id_column="id")
    assert not alone["structure_used"].any()
    assert np.isfinite(alone["y_structure_value"]).all()
    # a gap in a row's structure descriptors is filled with the training median, as in
    # training (the row keeps its structure); most columns given, some missing: one line
    gap = with_structure.copy()
    gap.loc[gap.index[0], structure.columns[0]] = np.nan
    assert p.predict(gap, id_column="id")["structure_used"].tolist()[0] == bool(
        formula["id"].iloc[0] in structure.index
    )
    with pytest.raises(ValueError, match=r"structure descriptors: 2 missing column\(s\)"):
        p.predict(with_structure.drop(columns=structure.columns[:2]), id_column="id")
    few = with_structure.drop(columns=structure.columns[2:])  # 2 of 16: not read, but said
    with pytest.warns(UserWarning, match="only 2 of its 16 structure descriptor columns"):
        assert not p.predict(few, id_column="id")["structure_used"].any()
    with pytest.raises(KeyError, match="structure column 'struct' is not in the input"):
        p.predict(formula, id_column="id", structure_column="struct")
    # structures given as text, which this model (descriptors from elsewhere, e.g. MLIP
    # embeddings) cannot featurize: one line, not a silent formula-only prediction
    texts = formula.assign(structure=_cif("Cu", "fcc", 3.6))
    with pytest.raises(ValueError, match="give those descriptor columns instead"):
        p.predict(texts, id_column="id")


def _cif(formula: str, kind: str, a: float) -> str:
    import io

    from ase.build import bulk
    from ase.io import write

    buf = io.BytesIO()
    write(buf, bulk(formula, kind, a=a), format="cif")
    return buf.getvalue().decode()


def test_an_unreadable_structure_is_an_error_row_not_a_formula_only_prediction(tmp_path):
    """A model trained on featurized structures: a row whose structure is given but cannot
    be read goes to the errors (with the reason); a row without one is predicted from its
    formula alone."""
    import lightning.pytorch as pl

    from foundation_model.data import CompoundDataModule
    from foundation_model.inference import Predictor
    from foundation_model.models import FlexibleMultiTaskModel
    from foundation_model.models.task_head import RegressionTask

    kinds = [("Cu", "fcc", 3.61), ("NaCl", "rocksalt", 5.64), ("Si", "diamond", 5.43)]
    rows = [
        {"id": f"r{i}", "formula": f, "structure": _cif(f, k, a * s), "y": a * s}
        for i, ((f, k, a), s) in enumerate(
            (spec, s) for spec in kinds for s in (0.96, 0.98, 1.0, 1.02, 1.04)
        )
    ]
    table = tmp_path / "train.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    feats = tmp_path / "feats.parquet"
    argv = ["--input", str(table), "--formula-column", "formula", "--preset", "magpie"]
    argv += ["--structure-column", "structure", "--output", str(feats)]
    assert featurize_main(argv) == 0
    dm = CompoundDataModule(
        str(feats),
        [RegressionTask("y")],
        str(table),
        structure_desc_source=str(tmp_path / "feats_structure.parquet"),
        batch_size=8,
    )
    model = FlexibleMultiTaskModel(
        dm.tasks, dm.formula_dim, dm.structure_dim, encoder_dims=[16], deposit_dim=8
    )
    pl.Trainer(
        max_epochs=1, logger=False, enable_progress_bar=False, default_root_dir=tmp_path
    ).fit(model, dm)
    new = pd.DataFrame(
        {
            "formula": ["Cu", "NaCl", "NaCl", "NaCl"],
            "structure": [
                _cif("Cu", "fcc", 3.6),
                "",
                "not a structure",
                _cif("Si", "diamond", 5.4),
            ],
        }
    )
    out, errors = Predictor(model).predict_with_errors(new)
    assert out["structure_used"].tolist() == [True, False]
    assert errors["row"].tolist() == [2, 3]
    assert errors["reason"].iloc[0].startswith("structure: cannot parse")
    # another compound's structure: not predicted from two compounds' descriptors
    assert errors["reason"].iloc[1].startswith("structure: the structure is Si, not the formula's")


def test_cli_predict_ids_and_input_errors(trained, tmp_path, capsys):
    """A CSV's first column is the id (as in fit/featurize); a missing --id-column and a
    header-only input are one-line errors that write nothing."""
    new = tmp_path / "ids.csv"
    pd.DataFrame({"mp_id": ["m1", "m2", "m3"], "formula": ["GaN", "Xx2O", "LiF"]}).to_csv(
        new, index=False
    )
    out = tmp_path / "ids_preds.csv"
    base = ["predict", "--ckpt_path", str(trained["ckpt"]), "--input", str(new)]
    assert main([*base, "--output", str(out)]) == 0
    assert pd.read_csv(out)["id"].tolist() == ["m1", "m3"]
    assert pd.read_csv(tmp_path / "ids_preds.errors.csv")["id"].tolist() == ["m2"]
    out.unlink()
    assert main([*base, "--output", str(out), "--id-column", "nope"]) == 1
    assert "id column 'nope' is not in the input" in capsys.readouterr().err
    assert not out.exists()
    empty = tmp_path / "empty.csv"
    empty.write_text("formula\n")
    code = main(["predict", "--ckpt_path", str(trained["ckpt"]), "--input", str(empty)])
    assert code == 1 and "no rows" in capsys.readouterr().err
    assert not (tmp_path / "empty.predictions.csv").exists()


def test_cli_predict_keeps_ids_as_written(trained, tmp_path):
    """Ids that look like numbers stay the text of the file (``0001``, ``2.10``), in the
    first column and under --id-column."""
    new = tmp_path / "num_ids.csv"
    new.write_text("sample,formula,batch\n0001,GaN,07\n2.1,LiF,08\n2.10,NaCl,09\nNA,Si,null\n")
    base = ["predict", "--ckpt_path", str(trained["ckpt"]), "--input", str(new)]
    out = tmp_path / "p.csv"
    assert main([*base, "--output", str(out)]) == 0
    written = pd.read_csv(out, dtype=str, keep_default_na=False)["id"].tolist()
    assert written == ["0001", "2.1", "2.10", "NA"]  # "NA" was read as a missing id
    assert main([*base, "--output", str(out), "--id-column", "batch"]) == 0
    written = pd.read_csv(out, dtype=str, keep_default_na=False)["id"].tolist()
    assert written == ["07", "08", "09", "null"]


def test_cli_predict_checks_the_output_suffix_before_any_work(trained, tmp_path, capsys):
    new = tmp_path / "new.csv"
    new.write_text("id,formula\na,GaN\nb,Xx2O\n")
    argv = ["predict", "--ckpt_path", str(trained["ckpt"]), "--input", str(new)]
    assert main([*argv, "--output", str(tmp_path / "out.ckpt")]) == 1
    assert "unsupported table suffix" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.csv"]  # no errors file either


def test_cli_predict_never_overwrites_its_input_or_earlier_predictions(trained, tmp_path, capsys):
    """--output equal to --input is refused; when no row can be predicted, an earlier
    predictions file is kept (exit 1, reasons in the errors file)."""
    new = tmp_path / "new.csv"
    new.write_text("id,formula\na,GaN\n")
    base = ["predict", "--ckpt_path", str(trained["ckpt"]), "--input"]
    assert main([*base, str(new), "--output", str(new)]) == 1
    assert "is the input file" in capsys.readouterr().err
    assert new.read_text() == "id,formula\na,GaN\n"
    bad, out = tmp_path / "bad.csv", tmp_path / "keep.csv"
    bad.write_text("id,formula\n1,Xx\n2,\n")
    out.write_text("earlier predictions\n")
    assert main([*base, str(bad), "--output", str(out)]) == 1
    assert "no row of" in capsys.readouterr().err
    assert out.read_text() == "earlier predictions\n"
    assert len(pd.read_csv(tmp_path / "keep.errors.csv")) == 2


def test_errors_name_rows_by_their_index_labels(trained):
    p = foundation_model.load(trained["ckpt"])
    table = pd.DataFrame({"formula": ["GaN", "Xx2O"]}, index=["a", "b"])
    _, errors = p.predict_with_errors(table)
    assert errors["row"].tolist() == [1] and errors["id"].tolist() == ["b"]


def test_a_structure_file_input_points_to_the_mlip_command(trained, tmp_path, capsys):
    structures = tmp_path / "new.extxyz"
    structures.write_text("1\nProperties=species:S:1:pos:R:3\nCu 0 0 0\n")
    code = main(["predict", "--ckpt_path", str(trained["ckpt"]), "--input", str(structures)])
    err = capsys.readouterr().err
    assert code == 1 and "--data.init_args.predict_path=" in err and len(err.splitlines()) == 1


def test_sequence_points_outside_the_training_range_warn(trained):
    p = foundation_model.load(trained["ckpt"])
    assert p.schema.sequence_ranges["cp"] == [300.0, 700.0]
    table = pd.DataFrame(
        {"formula": ["Xx2O", "GaN", "LiF"], "T": ["[400]", "[400, 600]", "[300, 1500]"]}
    )
    # the row is named as in the errors file: its input row, counting the one left out
    with pytest.warns(UserWarning, match=r"1 row\(s\) have 'T' points outside .*\(e.g. row 2:"):
        out, errors = p.predict_with_errors(table)
    assert len(out) == 2 and errors["row"].tolist() == [0]


def test_points_under_another_column_name_are_not_silently_replaced(trained):
    """The model reads cp's points from 'T'; a table giving them as 'temperature' gets the
    training points, with a warning naming the unread column. A formula-only table (the
    documented default) gets no warning."""
    import warnings

    p = foundation_model.load(trained["ckpt"])
    table = pd.DataFrame({"formula": ["GaN"], "temperature": ["[400, 600]"]})
    with pytest.warns(UserWarning, match=r"column 'T', which the input lacks.*\['temperature'\]"):
        out = p.predict(table)
    assert json.loads(out["cp_sequence_x"].iloc[0]) != [400, 600]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p.predict(pd.DataFrame({"formula": ["GaN"]}))
        # columns of single values (a target, a second id) are not points under a new name
        p.predict(pd.DataFrame({"formula": ["GaN"], "target": [1.0], "id": ["a"]}))
    table["points"] = [np.array([300.0, 500.0])]  # a list column in memory is a candidate
    table["semicolons"] = ["300;500"]  # the other written form of points
    with pytest.warns(UserWarning, match=r"\['temperature', 'points', 'semicolons'\]"):
        p.predict(table)


def test_sequence_points_are_written_without_float32_noise(trained):
    p = foundation_model.load(trained["ckpt"])
    table = pd.DataFrame({"formula": ["GaN"], "T": ["[298.15, 400.1, 650.35]"]})
    out = p.predict(table)
    assert json.loads(out["cp_sequence_x"].iloc[0]) == [298.15, 400.1, 650.35]


def test_a_series_of_formulas_keeps_its_index(trained):
    p = foundation_model.load(trained["ckpt"])
    out = p.predict(pd.Series(["GaN", "LiF"], index=["x", "y"]))
    assert out.index.tolist() == ["x", "y"] and out["formula"].tolist() == ["GaN", "LiF"]


def test_no_predictable_row_still_gives_every_output_column(trained):
    p = foundation_model.load(trained["ckpt"])
    full, _ = p.predict_with_errors(pd.DataFrame({"formula": ["GaN"]}))
    empty, errors = p.predict_with_errors(pd.DataFrame({"formula": ["Xx", ""]}))
    assert len(empty) == 0 and len(errors) == 2
    assert list(empty.columns) == list(full.columns)
    for nothing in ([], pd.DataFrame({"formula": []})):  # no input row at all
        out = p.predict(nothing)
        assert len(out) == 0 and list(out.columns) == list(full.columns)


def test_bad_arguments_are_refused_before_torch_is_imported(tmp_path):
    """A wrong suffix, a missing input or checkpoint is said at once: the check comes before
    the torch and Lightning imports (many seconds of start-up on a small machine)."""
    import subprocess
    import sys

    new = tmp_path / "new.csv"
    pd.DataFrame({"formula": ["GaN"]}).to_csv(new, index=False)
    ckpt = tmp_path / "model.ckpt"  # never opened: the refusals come first
    ckpt.write_bytes(b"")
    cases = [
        (["--ckpt_path", str(ckpt), "--input", str(new), "--output", "p.txt"], "suffix '.txt'"),
        (["--ckpt_path", str(ckpt), "--input", str(tmp_path / "no.csv")], "file not found"),
        (["--ckpt_path", str(tmp_path / "no.ckpt"), "--input", str(new)], "not found: "),
        (["--ckpt_path", str(ckpt), "--input", str(new)], "is empty (0 bytes)"),
    ]
    script = (
        "import sys\nfrom foundation_model.cli.main import main\n"
        f"for argv, _ in {cases!r}:\n"
        "    print(main(['predict', *argv]), 'torch' in sys.modules, flush=True)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.stdout.split() == ["1", "False"] * len(cases), proc.stderr[-2000:]
    for (_, said), line in zip(cases, proc.stderr.strip().splitlines(), strict=True):
        assert line.startswith("fm predict: error:") and said in line, line


def test_n_jobs_featurizes_in_workers_with_the_same_predictions(trained, tmp_path):
    """``--n-jobs 2`` (past one chunk of 256 formulas, so the workers are used) writes the
    same predictions and errors as one process; ``--n-jobs 0`` is refused."""
    formulas = [f"Fe{i + 1}O{i % 4 + 1}" for i in range(300)] + ["Xx2O"]
    new = tmp_path / "new.csv"
    pd.DataFrame({"formula": formulas}).to_csv(new, index=False)
    outputs = {}
    for jobs in (1, 2):
        out = tmp_path / f"p{jobs}.csv"
        argv = ["predict", "--ckpt_path", str(trained["ckpt"]), "--input", str(new)]
        assert main([*argv, "--output", str(out), "--n-jobs", str(jobs)]) == 0
        outputs[jobs] = (out.read_text(), (tmp_path / f"p{jobs}.errors.csv").read_text())
    assert outputs[2] == outputs[1] and "Xx2O" in outputs[1][1]
    with pytest.raises(ValueError, match="n_jobs must be at least 1"):
        foundation_model.load(trained["ckpt"], n_jobs=0)
    with pytest.raises(SystemExit):
        main(["predict", "--ckpt_path", str(trained["ckpt"]), "--input", str(new), "--n-jobs", "0"])


def test_a_composition_model_says_it_does_not_use_given_structures(trained):
    p = foundation_model.load(trained["ckpt"])
    table = pd.DataFrame({"formula": ["Cu", "GaN"], "structure": [_cif("Cu", "fcc", 3.6), ""]})
    with pytest.warns(UserWarning, match="reads no structures .* column 'structure' is not used"):
        out = p.predict(table)
    assert len(out) == 2
