"""Browser: predict formulas from a checkpoint trained here on Magpie features.

The fixture trains a tiny three-task model (regression, classification, sequence) with
`fm featurize --preset magpie` + `fm fit` on binary compounds whose targets come from real
elemental data, in the server's --data-dir, where the predict page finds its checkpoint.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

import foundation_model
from conftest import screenshot, skip_without_browser
from foundation_model.ui.predictions import summary_table

METALS = ["Li", "Na", "K", "Mg", "Ca", "Ba", "Al", "Zn", "Cd", "Ag"]
NONMETALS = ["O", "S", "Se", "Te", "F", "Cl", "I"]
TASKS = [
    {"class_path": "foundation_model.models.task_head.RegressionTask",
     "init_args": {"name": "dchi"}},
    {"class_path": "foundation_model.models.task_head.ClassificationTask",
     "init_args": {"name": "bond"}},
    {"class_path": "foundation_model.models.task_head.SequenceRNNTask",
     "init_args": {"name": "heat", "x_column": "T", "y_column": "heat", "hidden_size": 8}},
]  # fmt: skip


def _training_table() -> pd.DataFrame:
    """Binary compounds; targets from Pauling electronegativities and atomic masses."""
    from pymatgen.core import Composition

    rows = []
    for metal in METALS:
        for nonmetal in NONMETALS:
            comp = Composition(f"{metal}{nonmetal}")
            dchi = abs(comp.elements[0].X - comp.elements[1].X)
            mass = comp.weight / comp.num_atoms
            rows.append({
                "id": f"{metal}{nonmetal}",
                "formula": comp.reduced_formula,
                "dchi": dchi,
                "bond": "ionic" if dchi > 1.7 else "polar",
                "T": json.dumps([200.0, 400.0, 600.0]),
                "heat": json.dumps([25 - mass / 50, 26 - mass / 60, 27 - mass / 70]),
            })  # fmt: skip
    return pd.DataFrame(rows).drop_duplicates("formula")


@pytest.fixture(scope="module")
def checkpoint(ui_data_dir):
    skip_without_browser()  # before the training, which only these tests need
    from foundation_model.cli.featurize import main as featurize
    from foundation_model.cli.main import main

    work = ui_data_dir / "tiny_model"
    work.mkdir()
    _training_table().to_csv(work / "train.csv", index=False)
    feats = work / "train_magpie.parquet"
    argv = ["--input", str(work / "train.csv"), "--id-column", "id", "--preset", "magpie"]
    argv += ["--output", str(feats), "--cache-dir", str(work / "cache"), "--quiet"]
    assert featurize(argv) == 0
    config = {
        "seed_everything": 0,
        "trainer": {
            "max_epochs": 2,
            "enable_progress_bar": False,
            "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger",
                       "init_args": {"save_dir": str(ui_data_dir / "runs"), "name": "tiny"}},
            "callbacks": [{"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                           "init_args": {"filename": "best"}}],
        },
        "model": {"class_path": "foundation_model.models.FlexibleMultiTaskModel",
                  "init_args": {"encoder_dims": [16], "deposit_dim": 8, "ensemble_size": 3}},
        "data": {"class_path": "foundation_model.data.CompoundDataModule",
                 "init_args": {"formula_desc_source": str(feats),
                               "attributes_source": str(work / "train.csv"),
                               "batch_size": 16, "tasks": TASKS}},
        "plots": {"enabled": False},
    }  # fmt: skip
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    assert main(["fit", "--config", str(work / "config.yaml")]) == 0
    return next((ui_data_dir / "runs" / "tiny").glob("version_*/checkpoints/best.ckpt"))


def predict_on_page(page, url: str, checkpoint, formulas: str) -> None:
    page.goto(url)  # the default page lives at the root URL
    page.get_by_text("Checkpoint", exact=True).wait_for()
    page.locator("[data-testid='stSelectbox']").first.click()
    page.get_by_role("option", name=str(checkpoint)).click()
    box = page.get_by_label("Formulas (one per line, or separated by commas)")
    box.fill(formulas)
    box.press("Control+Enter")
    button = page.get_by_role("button", name="Predict", exact=True)
    page.wait_for_function(
        "() => [...document.querySelectorAll('button')].some("
        "b => b.innerText.trim() === 'Predict' && !b.disabled)"
    )
    button.click()
    page.get_by_text("Predictions (").wait_for(timeout=120_000)


def test_predict_three_formulas_shows_the_values(checkpoint, page, ui_server):
    formulas = ["NaCl", "MgO", "ZnSe"]
    predict_on_page(page, ui_server, checkpoint, "\n".join(formulas))
    expected = summary_table(foundation_model.load(checkpoint).predict(formulas))
    table = page.locator("[data-testid='stTable']").first
    text = table.inner_text()
    for row in expected.itertuples(index=False):
        assert row.formula in text
        assert row.dchi in text  # "value ± std", as computed by the predictor itself
        assert row.bond in text
    page.get_by_text("heat: predicted curves").wait_for()
    page.get_by_role("button", name="Download predictions (CSV)").wait_for()
    screenshot(page, "predict")


def test_bad_formula_shows_its_reason(checkpoint, page, ui_server):
    predict_on_page(page, ui_server, checkpoint, "NaCl, Xx2O")
    page.get_by_text("1 row could not be predicted").wait_for()
    page.get_by_text("Predictions (1 row)", exact=True).wait_for()
    errors = page.locator("[data-testid='stTable']").nth(1).inner_text()
    assert "Xx2O" in errors and "Xx" in errors
    assert "Traceback" not in page.inner_text("body")


def _predict_upload(page, ui_server, checkpoint, path, rows: str) -> None:
    """Choose ``checkpoint``, upload the CSV at ``path`` and predict (``rows``: the count
    the page then shows, e.g. ``"2 rows"``)."""
    page.goto(ui_server)
    page.locator("[data-testid='stSelectbox']").first.click()
    page.get_by_role("option", name=str(checkpoint)).click()
    page.get_by_text("Upload CSV").click()
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(path))
    page.get_by_text(path.name).wait_for()
    page.get_by_role("button", name="Predict", exact=True).click()
    page.get_by_text(f"Predictions ({rows})").wait_for(timeout=120_000)


def test_uploaded_csv_with_own_sequence_points(checkpoint, page, ui_server, tmp_path):
    table = pd.DataFrame({"formula": ["KBr", "CaS"], "T": ["[250, 350, 450, 550]", None]})
    path = tmp_path / "new.csv"
    table.to_csv(path, index=False)
    _predict_upload(page, ui_server, checkpoint, path, "2 rows")
    text = page.locator("[data-testid='stTable']").first.inner_text()
    assert "KBr" in text and "4 points" in text and "3 points" in text


def test_a_misnamed_points_column_is_said_on_the_page(checkpoint, page, ui_server, tmp_path):
    """The predictor's warning (points read from 'T', the upload has 'temperature') is
    shown on the page, not only in the server's log."""
    path = tmp_path / "renamed.csv"
    pd.DataFrame({"formula": ["KBr"], "temperature": ["[250, 350]"]}).to_csv(path, index=False)
    _predict_upload(page, ui_server, checkpoint, path, "1 row")
    page.get_by_text("which the input lacks").wait_for(timeout=30_000)
    assert (
        "['temperature'] are not read"
        in page.locator("[data-testid='stAlert']").all_inner_texts()[0]
    )


def test_viewer_shows_the_training_run_metrics(checkpoint, page, ui_server):
    run_folder = checkpoint.parents[1]  # .../version_0 with metrics.csv
    page.goto(f"{ui_server}/results")
    field = page.get_by_label("Path of an ASE database (.db) or a run folder")
    field.fill(str(run_folder))
    field.press("Enter")
    page.get_by_text("Metrics: ").wait_for()
    page.locator("[data-testid='stVegaLiteChart']").first.wait_for()
    screenshot(page, "viewer_training_run")


def test_predict_url_opens_the_predict_page(page, ui_server):
    """The /predict URL (shown in the menu's links) opens the page, no "Page not found"."""
    skip_without_browser()
    page.goto(f"{ui_server}/predict")
    page.get_by_text("Predict properties from formulas").wait_for()
    page.wait_for_timeout(1500)  # a not-found dialog would appear by now
    assert "Page not found" not in page.inner_text("body")
    assert page.url.rstrip("/") == ui_server
