"""Predict page with a checkpoint trained on a descriptor table (no featurizer recorded).

The model is trained here (two epochs of ``samples/generated_configs/head_regression.yaml``
on ``samples/fake_data``); the page runs headless through Streamlit's AppTest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("streamlit", reason="the ui extra is not installed")
from streamlit.testing.v1 import AppTest  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DESCRIPTORS = REPO / "samples" / "fake_data" / "formula_descriptors.csv"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project folder whose results/runs holds the descriptor model's checkpoint."""
    root = tmp_path_factory.mktemp("descriptor_project")
    argv = [sys.executable, "-m", "foundation_model.cli.main", "fit", "--config",
            str(REPO / "samples" / "generated_configs" / "head_regression.yaml"),
            "--trainer.max_epochs=2", "--trainer.enable_progress_bar=false",
            f"--trainer.logger.init_args.save_dir={root / 'results' / 'runs'}"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return root


@pytest.fixture
def app(project, monkeypatch) -> AppTest:
    monkeypatch.setenv("FM_UI_PROJECT_DIR", str(project))
    monkeypatch.delenv("FM_UI_DATA_DIR", raising=False)
    return AppTest.from_function(_predict_page, default_timeout=120).run()


def _predict_page():
    from foundation_model.ui.safety import guarded
    from foundation_model.ui.views import predict

    guarded(predict.render)()


def test_pasted_formulas_say_the_checkpoint_has_no_featurizer(app):
    assert not app.exception and not app.error
    app.text_area(key="predict-formulas").input("Fe2O3").run()
    app.button(key="predict-run").click().run()
    assert not app.exception
    assert [e.value for e in app.error] == [
        "This checkpoint records no featurizer, so it cannot turn formulas into its 32 "
        "descriptor columns: upload a CSV with those columns instead (or train on a table "
        "made by fm featurize)."
    ]


def test_descriptor_csv_without_formulas_is_predicted(app, project):
    import foundation_model

    table = pd.read_csv(DESCRIPTORS).head(3)
    app.radio(key="predict-mode").set_value("Upload CSV").run()
    app.file_uploader(key="predict-upload").upload(
        "descriptors.csv", table.to_csv(index=False).encode(), "text/csv"
    )
    app.run()
    assert not app.exception and not app.error
    app.button(key="predict-run").click().run()
    assert not app.exception and not app.error
    assert app.subheader[0].value == "Predictions (3 rows)"
    ckpt = next(project.glob("results/runs/**/best.ckpt"))
    expected, _ = foundation_model.load(ckpt).predict_with_errors(table, id_column="id")
    shown = app.table[0].value
    assert list(shown.index) == table["id"].tolist()
    assert shown["y_easy"].iloc[0].startswith(f"{expected['y_easy_value'].iloc[0]:.4g} ± ")


def test_a_csv_missing_descriptor_columns_names_them(app):
    table = pd.read_csv(DESCRIPTORS).head(2).drop(columns=["f31"])
    app.radio(key="predict-mode").set_value("Upload CSV").run()
    app.file_uploader(key="predict-upload").upload(
        "partial.csv", table.to_csv(index=False).encode(), "text/csv"
    )
    app.run()
    assert not app.exception
    message = app.error[0].value
    assert message.startswith("The CSV has no 'formula' column nor the model's 32 descriptor")
    assert message.endswith("(missing: f31).")
