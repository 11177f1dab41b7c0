"""Predict-page helpers: input parsing, checkpoint discovery, grouping of prediction columns."""

from __future__ import annotations

import os
import time

import pandas as pd
import pytest

from foundation_model.ui import predictions as P
from foundation_model.ui.safety import UserInputError


def test_parse_formulas():
    assert P.parse_formulas("Fe2O3\nNaCl, GaAs ;  SiO2\n\n") == ["Fe2O3", "NaCl", "GaAs", "SiO2"]
    with pytest.raises(UserInputError, match="at least one"):
        P.parse_formulas(" \n ")


def test_read_input_csv():
    table = P.read_input_csv(b'formula,T\nFe2O3,"[300, 400]"\n')
    assert list(P.read_input_csv(b"formula\nNaN\n")["formula"]) == ["NaN"]  # Na + N
    assert table["formula"].tolist() == ["Fe2O3"]
    with pytest.raises(UserInputError, match="no 'formula' column"):
        P.read_input_csv(b"name\nFe2O3\n")
    with pytest.raises(UserInputError, match="The upload is empty"):
        P.read_input_csv(b"")
    with pytest.raises(UserInputError, match="no rows"):
        P.read_input_csv(b"formula\n")
    ids = P.read_input_csv(b"id,formula\n0001,Fe2O3\n0002,NaCl\n")
    assert ids["id"].tolist() == ["0001", "0002"]  # as written, as fm predict keeps them
    with pytest.raises(UserInputError, match="not UTF-8 text.*CSV UTF-8"):
        P.read_input_csv("formula,note\nFe2O3,caf\u00e9\n".encode("latin-1"))
    with pytest.raises(UserInputError, match="separated by ';'"):
        P.read_input_csv(b"id;formula\n1;Fe2O3\n")
    with pytest.raises(UserInputError, match=r"save it with commas\.$"):  # that fix alone
        P.read_input_csv(b"id;formula\n1;Fe2O3\n", descriptor_columns=["a", "b"])
    with pytest.raises(UserInputError, match="case-sensitive: type 'Formula'"):
        P.read_input_csv(b"Formula\nFe2O3\n")
    named = P.read_input_csv(b"composition,y\nFe2O3,1\n", formula_column="composition")
    assert named.columns.tolist() == ["formula", "y"]  # the predictor reads 'formula'
    with pytest.raises(UserInputError, match="both 'composition' and 'formula'"):
        P.read_input_csv(b"composition,formula\nFe2O3,NaCl\n", formula_column="composition")


def test_find_checkpoints_pretrained_first_then_newest(tmp_path):
    old = tmp_path / "results" / "runs" / "a" / "version_0" / "checkpoints" / "best.ckpt"
    new = tmp_path / "results" / "runs" / "b" / "version_0" / "checkpoints" / "last.ckpt"
    extra = tmp_path / "extra" / "x" / "checkpoints" / "best.ckpt"
    for path in (old, new, extra):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"")
    os.utime(old, (time.time() - 100, time.time() - 100))
    assert P.find_checkpoints(tmp_path) == [new, old]
    pretrained = tmp_path / P.PRETRAINED
    pretrained.parent.mkdir(parents=True)
    pretrained.write_bytes(b"")
    found = P.find_checkpoints(tmp_path, [tmp_path / "extra", None])
    assert found[0] == pretrained and set(found[1:]) == {new, old, extra}


def test_find_checkpoints_skips_broken_links_and_links_out_of_the_folder(tmp_path):
    ok = tmp_path / "results" / "runs" / "a" / "checkpoints" / "best.ckpt"
    ok.parent.mkdir(parents=True)
    ok.write_bytes(b"")
    outside = tmp_path / "elsewhere.ckpt"
    outside.write_bytes(b"")
    (ok.parent / "gone.ckpt").symlink_to(tmp_path / "missing.ckpt")  # broke the page before
    (ok.parent / "out.ckpt").symlink_to(outside)  # offered, then refused, before
    assert P.find_checkpoints(tmp_path) == [ok]


@pytest.fixture
def preds():
    return pd.DataFrame(
        {
            "formula": ["NaCl", "Fe2O3"],
            "gap_value": [5.123456, 2.0],
            "gap_std": [0.25, float("nan")],
            "metal_probabilities_no": [0.9, 0.2],
            "metal_probabilities_yes": [0.1, 0.8],
            "metal_label": ["no", "yes"],
            "metal_entropy": [0.3, 0.5],
            "cp_sequence": [[1.0, 2.0, 3.0], "[4.0, 5.0, 6.0]"],
        }
    )


def test_task_columns(preds):
    groups = P.task_columns(preds)
    assert groups.regression == {"gap": ("gap_value", "gap_std")}
    assert groups.classification == {
        "metal": {"no": "metal_probabilities_no", "yes": "metal_probabilities_yes"}
    }
    assert groups.sequence == {"cp": ("cp_sequence", None)}


def test_summary_table(preds):
    summary = P.summary_table(preds)
    assert summary["gap"].tolist() == ["5.123 ± 0.25", "2"]
    assert summary["metal"].tolist() == ["no (p=0.90)", "yes (p=0.80)"]
    assert summary["cp"].tolist() == ["3 points", "3 points"]
    assert "distance to training rows" not in summary
    with_distance = P.summary_table(preds.assign(latent_distance=[0.12345, 2.5]))
    assert with_distance["distance to training rows"].tolist() == [0.123, 2.5]


def test_sequence_and_probability_frames(preds):
    curves = P.sequence_frame(preds, "cp")
    assert curves.index.tolist() == [0, 1, 2] and curves["Fe2O3"].tolist() == [4.0, 5.0, 6.0]
    x = pd.Series([[300, 400, 500], [300, 400, 500]])
    assert P.sequence_frame(preds, "cp", x).index.tolist() == [300, 400, 500]
    # each row at points of its own: every curve is a line through its own points
    own = P.sequence_frame(preds, "cp", pd.Series([[300, 600, 900], [350, 650, 950]]))
    assert own.index.tolist() == [300, 350, 600, 650, 900, 950]
    nacl, fe2o3 = own["NaCl"], own["Fe2O3"]
    assert nacl.loc[[300, 600, 900]].notna().all() and nacl.loc[350] == pytest.approx(
        (nacl.loc[300] * 250 + nacl.loc[600] * 50) / 300
    )
    assert pd.isna(fe2o3.loc[300]) and fe2o3.loc[[350, 650, 950]].tolist() == [4.0, 5.0, 6.0]
    probs = P.probability_frame(preds, "metal")
    assert probs.loc["Fe2O3", "yes"] == 0.8 and list(probs.columns) == ["no", "yes"]


def test_sequence_x_values_follow_kept_rows():
    inputs = pd.DataFrame({"formula": ["A", "Bad", "C"], "T": ["[1, 2]", "[5]", None]})
    errors = pd.DataFrame({"row": [1], "formula": ["Bad"], "reason": ["unknown element"]})
    assert P.kept_rows(3, errors) == [0, 2] and P.kept_rows(2, None) == [0, 1]
    x = P.sequence_x_values(inputs, errors, "T", default=[7.0, 8.0])
    assert x.tolist() == [[1.0, 2.0], [7.0, 8.0]]
    assert P.sequence_x_values(["A", "B"], None, "T", default=None) is None
    assert P.sequence_x_values(["A"], None, "T", default=[3.0]).tolist() == [[3.0]]


def test_uploads_over_the_cap_are_refused():
    pytest.importorskip("streamlit", reason="the ui extra is not installed")
    from streamlit.proto.Common_pb2 import FileURLs
    from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec

    from foundation_model.ui.context import read_upload

    data = b"formula\n" + b"NaCl\n" * 400
    upload = UploadedFile(UploadedFileRec("1", "big.csv", "text/csv", data), FileURLs())
    assert read_upload(upload, max_bytes=len(data)) == data
    with pytest.raises(UserInputError, match="big.csv is .* the limit is"):
        read_upload(upload, max_bytes=len(data) - 1)


def test_parse_formulas_keeps_hydrates_whole():
    """Spaces never split: only newlines, commas and semicolons separate formulas."""
    assert P.parse_formulas("CuSO4 · 5H2O, Fe2O3") == ["CuSO4·5H2O", "Fe2O3"]
    assert P.parse_formulas("CuSO4 * 5H2O\r\nNa Cl; GaAs") == ["CuSO4*5H2O", "NaCl", "GaAs"]


def test_count_rows():
    assert [P.count_rows(n) for n in (0, 1, 2)] == ["0 rows", "1 row", "2 rows"]


def test_read_input_csv_with_descriptor_columns_only():
    data = b"id,f0,f1\na,1.0,2.0\nb,3.0,4.0\n"
    table = P.read_input_csv(data, descriptor_columns=["f0", "f1"])
    assert list(table.columns) == ["id", "f0", "f1"] and len(table) == 2
    with pytest.raises(UserInputError) as err:
        P.read_input_csv(data, descriptor_columns=["f0", "f1", "f2"])
    assert str(err.value) == (
        "The CSV has no 'formula' column nor the model's 3 descriptor columns "
        "(columns: id, f0, f1): type the name of its formula column in 'Formula column' "
        "or add the descriptor columns (missing: f2)."
    )


def test_plain_message_has_no_class_name():
    assert P.plain_message(KeyError("input: no 'formula' column")) == "input: no 'formula' column"
    assert P.plain_message(ValueError("bad")) == "bad"


def test_summary_table_without_formulas_names_rows_by_id():
    preds = pd.DataFrame({"id": ["a", "b"], "y_value": [1.0, 2.0], "y_std": [0.1, 0.2]})
    preds.index = [0, 2]  # rows kept after a failure keep their input labels
    summary = P.summary_table(preds)
    assert list(summary.columns) == ["id", "y"]
    assert summary["y"].tolist() == ["1 ± 0.1", "2 ± 0.2"]
