"""Pages run headless through Streamlit's AppTest (no browser): errors become messages."""

from __future__ import annotations

import pytest
import yaml

pytest.importorskip("streamlit", reason="the ui extra is not installed")
from streamlit.testing.v1 import AppTest  # noqa: E402


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "project"
    (root / "results").mkdir(parents=True)
    monkeypatch.setenv("FM_UI_PROJECT_DIR", str(root))
    monkeypatch.delenv("FM_UI_DATA_DIR", raising=False)
    return root


def _failing_page():
    from foundation_model.ui.safety import guarded

    def body():
        raise RuntimeError("boom\nsecond line with details")

    guarded(body)()


def _viewer_page():
    from foundation_model.ui.safety import guarded
    from foundation_model.ui.views import viewer

    guarded(viewer.render)()


def _predict_page():
    from foundation_model.ui.safety import guarded
    from foundation_model.ui.views import predict

    guarded(predict.render)()


def test_an_unexpected_error_is_one_line_on_the_page(project):
    app = AppTest.from_function(_failing_page).run()
    assert not app.exception
    assert [e.value for e in app.error] == ["RuntimeError: boom"]


def test_viewer_refuses_paths_outside_the_project(project):
    app = AppTest.from_function(_viewer_page).run()
    app.text_input(key="viewer_path").input("../../etc/passwd").run()
    assert not app.exception
    assert "outside the folders this app may use" in app.error[0].value


def test_viewer_reports_a_file_that_is_not_a_database(project):
    (project / "results" / "notes.db").write_text("not sqlite")
    app = AppTest.from_function(_viewer_page).run()
    app.text_input(key="viewer_path").input("results/notes.db").run()
    assert not app.exception
    assert app.error[0].value == "notes.db is not an ASE database (SQLite or JSON)."


def test_predict_page_without_checkpoints_says_so(project):
    app = AppTest.from_function(_predict_page).run()
    assert not app.exception and not app.error
    assert "No checkpoint found" in app.info[0].value
    app.text_input(key="predict-ckpt-path").input("results/missing.ckpt").run()
    assert "does not exist" in app.error[0].value


def _datagen_page():
    from foundation_model.ui.safety import guarded
    from foundation_model.ui.views import datagen

    guarded(datagen.render)()


def test_datagen_form_builds_a_config_the_cli_accepts(project):
    app = AppTest.from_function(_datagen_page, default_timeout=120).run()
    assert not app.exception and not app.error
    app.text_input(key="dg-el").input("Cu, Xx")
    app.button[0].click().run(timeout=120)  # the form's "Build config"
    assert app.error[0].value == "Unknown element(s): Xx."
    app.text_input(key="dg-el").input("Ni, Al")
    app.text_input(key="dg-temps").input("500, 700")
    app.button[0].click().run(timeout=120)
    assert not app.error
    config = yaml.safe_load(app.code[0].value)
    generator = config["generate"]["generators"][0]["init_args"]
    assert generator["elements"] == ["Ni", "Al"]
    assert config["explore"]["init_args"]["temperatures"] == [500.0, 700.0]
    assert [b.label for b in app.button][-1] == "Launch datagen run"


def test_datagen_form_from_structure_files(project):
    """The user's structure files as seeds: a path outside the project or a missing file is
    a message; files inside it give a FileGenerator config the CLI accepts."""
    from ase.build import bulk
    from ase.io import write

    write(project / "results" / "mine.cif", bulk("Cu", "fcc", 3.61, cubic=True))
    app = AppTest.from_function(_datagen_page, default_timeout=120).run()
    app.selectbox(key="dg-system").select("my structure files (CIF, POSCAR, extxyz, ...)").run()
    app.text_area(key="dg-files").input("results/none.cif")
    app.button[0].click().run(timeout=120)
    assert not app.exception and "does not exist" in app.error[0].value
    app.text_area(key="dg-files").input("results/mine.cif")
    app.button[0].click().run(timeout=120)
    assert not app.exception and not app.error
    config = yaml.safe_load(app.code[0].value)
    (generator,) = config["generate"]["generators"]
    assert generator["class_path"].endswith("FileGenerator")
    assert generator["init_args"]["paths"] == [str(project / "results" / "mine.cif")]


def _distill_page():
    from foundation_model.ui.safety import guarded
    from foundation_model.ui.views import distill

    guarded(distill.render)()


def test_distill_form_is_filled_from_the_chosen_sample(project):
    """Switching the sample refills the form; an untouched form gives the sample back."""
    import shutil
    from pathlib import Path

    samples = Path(__file__).resolve().parents[2] / "samples" / "distill"
    shutil.copytree(samples, project / "samples" / "distill")
    sn2 = yaml.safe_load((samples / "sn2_xtb.yaml").read_text())
    app = AppTest.from_function(_distill_page, default_timeout=120).run()
    assert app.number_input(key="ds-budget-cu_al_emt.yaml").value == 60
    app.selectbox(key="ds-template").select("sn2_xtb.yaml").run()
    assert app.number_input(key="ds-budget-sn2_xtb.yaml").value == 50
    assert app.text_input(key="ds-temps-sn2_xtb.yaml").value == "300, 500"
    app.button[0].click().run(timeout=120)  # the form's "Build config"
    assert not app.exception and not app.error
    assert yaml.safe_load(app.code[0].value) == sn2
    app.number_input(key="ds-budget-sn2_xtb.yaml").set_value(1)
    app.button[0].click().run(timeout=120)
    assert "oracle budget (1) is below" in app.error[0].value


def test_a_bad_database_does_not_hide_the_rest_of_a_run_folder(project):
    """A run folder whose only database is a foreign SQLite file (a label cache): that
    file's message is shown, the metrics curves below it too, and the file is unchanged."""
    import sqlite3
    from contextlib import closing

    run = project / "results" / "run1"
    run.mkdir()
    cache = run / "oracle_labels.db"
    with closing(sqlite3.connect(cache)) as con:
        con.execute("CREATE TABLE labels (key TEXT PRIMARY KEY, energy REAL)")
        con.commit()
    before = cache.read_bytes()
    (run / "metrics.csv").write_text("epoch,step,train_loss\n0,1,1.0\n1,2,0.5\n")
    app = AppTest.from_function(_viewer_page).run()
    app.text_input(key="viewer_path").input("results/run1").run()
    assert not app.exception
    assert [e.value for e in app.error] == [
        "oracle_labels.db is not an ASE database (an SQLite file without ASE's 'systems' "
        "table); open an ASE .db file instead."
    ]
    assert any("Metrics: metrics.csv" in h.value for h in app.subheader)
    assert cache.read_bytes() == before


def test_summaries_of_any_json_shape_and_a_broken_one_are_shown(project):
    """A summary.json holding a list of records (as results/bench/calibration ships) is
    shown as JSON; a broken one is one message; the folder's other files stay visible."""
    run = project / "results" / "bench"
    run.mkdir()
    (run / "summary.json").write_text('[{"task": "steels", "mae": 95.8}]')
    (run / "report.json").write_text("{not json")
    (run / "metrics.csv").write_text("epoch,step,train_loss\n0,1,1.0\n1,2,0.5\n")
    app = AppTest.from_function(_viewer_page).run()
    app.text_input(key="viewer_path").input("results/bench").run()
    assert not app.exception
    assert len(app.json) >= 1 and app.json[0].value.startswith("[{")
    assert [e.value.split(" could not be read")[0] for e in app.error] == ["report.json"]
    assert any("Metrics: metrics.csv" in h.value for h in app.subheader)
