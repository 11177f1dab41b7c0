"""Config forms, settings and the `fm ui` command line (no server started)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from foundation_model.cli import ui as ui_cli
from foundation_model.cli.main import TOOL_COMMANDS
from foundation_model.ui import config_forms as cf
from foundation_model.ui import datagen_config as dg
from foundation_model.ui import distill_config as dc
from foundation_model.ui.safety import UserInputError, error_message
from foundation_model.ui.settings import AppSettings
from foundation_model.ui.workflow_page import cli_command, config_to_yaml, parse_config_text


def test_parse_elements_and_numbers():
    assert cf.parse_elements("Cu, Al  Ni") == ["Cu", "Al", "Ni"]
    with pytest.raises(UserInputError, match="Unknown element"):
        cf.parse_elements("Cu, Xx")
    with pytest.raises(UserInputError, match=r"case-sensitive: Ni, Cu\?"):
        cf.parse_elements("ni, cu")
    with pytest.raises(UserInputError, match="once"):
        cf.parse_elements("Cu Cu")
    assert cf.parse_numbers("300, 600", "T") == [300.0, 600.0]
    with pytest.raises(UserInputError, match="> 0"):
        cf.parse_numbers("300 -1", "T")
    with pytest.raises(UserInputError, match="not a number"):
        cf.parse_numbers("hot", "T")


def test_datagen_choices_validation():
    with pytest.raises(UserInputError, match="sum to"):
        dg.DatagenChoices(fractions=[0.5, 0.6]).validate()
    with pytest.raises(UserInputError, match="one fraction per element"):
        dg.DatagenChoices(fractions=[1.0]).validate()
    with pytest.raises(UserInputError, match="md steps"):
        dg.DatagenChoices(md_steps=0).validate()


def test_parse_fractions_and_formulas():
    assert cf.parse_fractions("Mg:0.5, Ca:0.5", "Cations") == {"Mg": 0.5, "Ca": 0.5}
    assert cf.parse_fractions("O", "Anions") == {"O": 1.0}
    with pytest.raises(UserInputError, match="sum to"):
        cf.parse_fractions("Mg:0.5", "Cations")
    assert cf.formula_elements("TiO2") == ["Ti", "O"]
    with pytest.raises(UserInputError, match="not a chemical formula"):
        cf.formula_elements("Ti(O")


@pytest.mark.parametrize(
    ("system", "raw", "generator_args"),
    [
        ("alloy (random solid solution)", {"elements": "Cu Al", "fractions": "0.75 0.25",
          "lattice": "fcc"}, {"supercell": [2, 2, 2], "fractions": [0.75, 0.25]}),
        ("surface slab", {"elements": "Cu", "fractions": "", "lattice": "fcc", "layers": 3,
          "vacuum": 6.0}, {"size": [2, 2], "layers": 3, "vacuum": 6.0}),
        ("covalent crystal", {"elements": "C", "vacuum": 8.0, "covalent_structure": "graphene"},
         {"structure": "graphene"}),
        ("ionic crystal", {"cations": "Mg:1", "anions": "O:1", "prototype": "rocksalt"},
         {"cations": {"Mg": 1.0}, "anions": {"O": 1.0}}),
        ("from a formula (random symmetric crystals)", {"formula": "TiO2"}, {"formula": "TiO2"}),
    ],
)  # fmt: skip
def test_datagen_config_per_system(system, raw, generator_args):
    pytest.importorskip("dscribe", reason="dscribe not installed: uv sync --extra datagen")
    choices = dg.DatagenChoices(system=system, **dg.parse_system_fields(raw))
    config = dg.datagen_config(choices, output_dir="out")
    assert list(config) == ["output_dir", "seed", "generate", "explore", "sample", "store",
                            "executor"]  # fmt: skip
    (generator,) = config["generate"]["generators"]
    assert generator["class_path"] == dg.SYSTEMS[system]
    for key, value in generator_args.items():
        assert generator["init_args"][key] == value
    explore = config["explore"]["init_args"]
    assert explore["calculator"]["class_path"].endswith("EMTSpec")
    assert explore["temperatures"] == [600.0] and explore["steps"] == 50
    species = config["sample"]["init_args"]["descriptor"]["init_args"]["species"]
    assert species == sorted(choices.species())
    # the datagen CLI's own parser accepts it and builds every stage
    from foundation_model.cli.datagen import build_parser

    cf.check_with_cli_parser(build_parser, config)


def test_datagen_calculator_and_sampler_choices():
    config = dg.datagen_config(dg.DatagenChoices(sampler="random", calculator="GFN2-xTB (tblite)"))
    assert config["sample"] == {"class_path": dg.SAMPLERS["random"],
                                "init_args": {"n_samples": 20}}  # fmt: skip
    assert config["explore"]["init_args"]["calculator"]["init_args"] == {"method": "GFN2-xTB"}
    with pytest.raises(UserInputError, match="fine-tuned checkpoint"):
        dg.DatagenChoices(calculator="Fine-tuned checkpoint (.ckpt)").validate()
    tuned = dg.DatagenChoices(calculator="Fine-tuned checkpoint (.ckpt)", checkpoint="/m.ckpt")
    calc = dg.datagen_config(tuned)["explore"]["init_args"]["calculator"]
    assert calc["init_args"] == {"checkpoint": "/m.ckpt"}
    with pytest.raises(UserInputError, match="Sample interval"):
        dg.DatagenChoices(md_steps=5, sample_interval=10).validate()


def test_cli_parser_refusals_become_messages():
    from foundation_model.cli.datagen import build_parser

    config = dg.datagen_config(dg.DatagenChoices())
    config["explore"]["init_args"]["temperatures"] = "hot"
    with pytest.raises(UserInputError, match="The CLI refuses this config"):
        cf.check_with_cli_parser(build_parser, config, instantiate=False)
    config = dg.datagen_config(dg.DatagenChoices())
    config["generate"]["generators"][0]["init_args"]["lattice"] = "sc"
    with pytest.raises(UserInputError, match="lattice"):
        cf.check_with_cli_parser(build_parser, config)


def test_config_text_round_trip():
    config = {"seed": 1, "generator": cf.class_path("a.B", elements=["Cu"], fractions=None)}
    assert config["generator"] == {"class_path": "a.B", "init_args": {"elements": ["Cu"]}}
    assert parse_config_text(config_to_yaml(config)) == config
    with pytest.raises(UserInputError, match="mapping"):
        parse_config_text("- a\n- b\n")
    with pytest.raises(UserInputError, match="not valid YAML"):
        parse_config_text("a: [1, 2")


def test_cli_command():
    argv = cli_command("datagen", Path("/x/config.yaml"), resume=True)
    assert argv[1:] == [
        "-m", "foundation_model.cli.main", "datagen", "run", "--config", "/x/config.yaml",
        "--resume",
    ]  # fmt: skip


def test_settings_from_env(tmp_path):
    cfg = AppSettings.from_env({"FM_UI_PROJECT_DIR": str(tmp_path), "FM_UI_MAX_UPLOAD_MB": "3"})
    assert cfg.project_dir == tmp_path.resolve() and cfg.data_dir is None
    assert cfg.jobs_dir == tmp_path.resolve() / "results" / "ui" / "jobs"
    assert cfg.max_upload_bytes == 3 * 1024 * 1024
    data = tmp_path / "d"
    cfg = AppSettings.from_env({"FM_UI_PROJECT_DIR": str(tmp_path), "FM_UI_DATA_DIR": str(data)})
    assert cfg.jobs_dir == data.resolve() / "ui_jobs"
    assert cfg.guard.roots == (tmp_path.resolve(), data.resolve())
    assert AppSettings.from_env({"FM_UI_MAX_UPLOAD_MB": "many"}).max_upload_mb == 50


def test_error_message_hides_tracebacks():
    assert error_message(UserInputError("Bad formula.")) == "Bad formula."
    assert error_message(KeyError("x")) == "KeyError: 'x'"
    assert error_message(RuntimeError("first line\nsecond")) == "RuntimeError: first line"


def test_fm_ui_is_registered_and_binds_localhost(tmp_path):
    assert "ui" in TOOL_COMMANDS
    args = ui_cli.build_parser().parse_args(["--data-dir", str(tmp_path)])
    argv = ui_cli.streamlit_command(args)
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert argv[argv.index("--server.port") + 1] == "8501"
    assert argv[argv.index("--server.maxUploadSize") + 1] == "50"
    assert Path(argv[4]).name == "app.py" and Path(argv[4]).is_file()
    env = ui_cli.app_environment(args, tmp_path)
    assert env["FM_UI_DATA_DIR"] == str(tmp_path.resolve())
    assert env["FM_UI_PROJECT_DIR"] == str(tmp_path.resolve())
    args = ui_cli.build_parser().parse_args(["--host", "0.0.0.0", "--port", "9000"])
    argv = ui_cli.streamlit_command(args)
    assert argv[argv.index("--server.address") + 1] == "0.0.0.0"


def test_importing_the_app_has_no_side_effects():
    code = "import foundation_model.ui.app, sys; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_yaml_dump_keeps_lists_readable():
    shared = ["Cu", "Al"]
    text = config_to_yaml({"temperatures": [300.0, 600.0], "a": shared, "b": shared})
    assert yaml.safe_load(text) == {"temperatures": [300.0, 600.0], "a": shared, "b": shared}
    assert "&id" not in text and "[300.0, 600.0]" in text


def test_distill_config_on_the_sample_is_accepted_by_the_cli():
    from foundation_model.cli.distill import build_parser

    root = Path(__file__).resolve().parents[2]
    template = yaml.safe_load((root / "samples" / "distill" / "cu_al_emt.yaml").read_text())
    choices = dc.DistillChoices(
        elements=["Ni", "Al"], fractions=[0.6, 0.4], budget=30, rounds=2, per_round=5,
        teacher="SevenNet-0 (pretrained)", md_temperatures=[500.0], md_steps=50,
    )  # fmt: skip
    config = dc.distill_config(template, choices, output_dir="out")
    assert template["oracle"]["init_args"]["budget"] == 60  # the template is not modified
    assert config["oracle"]["init_args"]["budget"] == 30 and config["output_dir"] == "out"
    assert config["active_learning"]["rounds"] == 2
    assert config["teacher"]["backbone"]["class_path"].endswith("SevenNetBackbone")
    for generator in config["pool"]["generators"]:
        assert generator["init_args"]["elements"] == ["Ni", "Al"]
        assert generator["init_args"]["fractions"] == [0.6, 0.4]
    species = config["pool"]["sampler"]["init_args"]["descriptor"]["init_args"]["species"]
    assert species == ["Al", "Ni"]
    cf.check_with_cli_parser(build_parser, config, instantiate=False)
    # new elements without fractions keep the sample's compositions, one per generator
    same_count = dc.distill_config(template, dc.DistillChoices(elements=["Ni", "Cu"]))
    pool = [g["init_args"] for g in same_count["pool"]["generators"]]
    assert [g["fractions"] for g in pool] == [[0.75, 0.25], [0.5, 0.5]]
    assert all(g["elements"] == ["Ni", "Cu"] for g in pool)
    three = dc.distill_config(template, dc.DistillChoices(elements=["Ni", "Cu", "Al"]))
    assert three["pool"]["generators"][0]["init_args"]["fractions"] == [1 / 3] * 3


def test_distill_config_refusals():
    root = Path(__file__).resolve().parents[2]
    sn2 = yaml.safe_load((root / "samples" / "distill" / "sn2_xtb.yaml").read_text())
    with pytest.raises(UserInputError, match="AlloyGenerator"):
        dc.distill_config(sn2, dc.DistillChoices(elements=["Cu"]))
    with pytest.raises(UserInputError, match="has no 'oracle.init_args.budget'"):
        dc.distill_config({"seed": 0}, dc.DistillChoices(budget=30))
    with pytest.raises(UserInputError, match="one fraction per element"):
        dc.DistillChoices(fractions=[1.0]).validate()


def test_datagen_config_from_structure_files(tmp_path):
    pytest.importorskip("dscribe", reason="dscribe not installed: uv sync --extra datagen")
    from ase.build import bulk
    from ase.io import write

    cif, xyz = tmp_path / "a.cif", tmp_path / "b.extxyz"
    write(cif, bulk("Cu", "fcc", 3.61, cubic=True))
    write(xyz, [bulk("Ni", "fcc", 3.52, cubic=True)] * 2)
    system = "my structure files (CIF, POSCAR, extxyz, ...)"
    raw = {"structure_files": f"{cif}\n{xyz}"}
    choices = dg.DatagenChoices(system=system, **dg.parse_system_fields(raw))
    config = dg.datagen_config(choices, output_dir="out")
    (generator,) = config["generate"]["generators"]
    assert generator["init_args"] == {"paths": [str(cif), str(xyz)]}
    species = config["sample"]["init_args"]["descriptor"]["init_args"]["species"]
    assert species == ["Cu", "Ni"]
    from foundation_model.cli.datagen import build_parser

    cf.check_with_cli_parser(build_parser, config)
    with pytest.raises(UserInputError, match="at least one structure file"):
        dg.DatagenChoices(system=system).validate()
    missing = dg.DatagenChoices(system=system, structure_files=[str(tmp_path / "no.cif")])
    with pytest.raises(UserInputError, match="not found"):
        dg.datagen_config(missing)


DISTILL_SAMPLES = sorted(
    (Path(__file__).resolve().parents[2] / "samples" / "distill").glob("*.yaml")
)


@pytest.mark.parametrize("sample", DISTILL_SAMPLES, ids=lambda p: p.name)
def test_untouched_distill_form_reproduces_the_sample(sample):
    """The form starts from the sample's own values; submitting it unchanged gives the
    sample back exactly (not cu_al_emt's numbers written over it)."""
    template = yaml.safe_load(sample.read_text())
    start = dc.template_choices(template)
    assert start.budget == template["oracle"]["init_args"]["budget"]
    assert start.md_temperatures == template["surrogate_md"]["temperatures"]
    assert dc.distill_config(template, start) == template
    assert dc.distill_config(template, dc.DistillChoices()) == template


def test_distill_form_changes_only_what_the_user_set():
    root = Path(__file__).resolve().parents[2]
    sn2 = yaml.safe_load((root / "samples" / "distill" / "sn2_xtb.yaml").read_text())
    choices = dc.template_choices(sn2)
    choices.budget = 70
    choices.md_temperatures = [300, 500]  # same numbers as the sample's floats: kept as is
    config = dc.distill_config(sn2, choices)
    assert config["oracle"]["init_args"]["budget"] == 70
    assert config["surrogate_md"]["temperatures"] == [300.0, 500.0]
    config["oracle"]["init_args"]["budget"] = 50
    assert config == sn2


def test_datagen_check_runs_the_pipelines_element_check():
    """Fe, Si with EMT is refused when the config is built, with the pipeline's message."""
    pytest.importorskip("dscribe", reason="dscribe not installed: uv sync --extra datagen")
    from foundation_model.ui.views import datagen

    config = dg.datagen_config(dg.DatagenChoices(elements=["Fe", "Si"]))
    with pytest.raises(UserInputError) as err:
        datagen.check(config)
    message = error_message(err.value)
    assert "EMT (ASE's effective-medium potential) has no parameters for ['Fe', 'Si']" in message
    assert "\n" not in message and "ValueError" not in message
    datagen.check(dg.datagen_config(dg.DatagenChoices()))  # Cu, Al: accepted


def test_distill_check_runs_the_pipelines_budget_and_element_checks(tmp_path):
    pytest.importorskip("dscribe", reason="dscribe not installed: uv sync --extra datagen")
    from foundation_model.ui.views import distill

    root = Path(__file__).resolve().parents[2]
    cu_al = yaml.safe_load((root / "samples" / "distill" / "cu_al_emt.yaml").read_text())
    out = str(tmp_path / "run")
    low = dc.distill_config(cu_al, dc.DistillChoices(budget=1), output_dir=out)
    with pytest.raises(UserInputError, match=r"oracle budget \(1\) is below"):
        distill.check(low)
    fe_si = dc.distill_config(cu_al, dc.DistillChoices(elements=["Fe", "Si"]), output_dir=out)
    with pytest.raises(
        UserInputError,
        match=r"EMT \(ASE's effective-medium potential\) has no parameters for \['Fe', 'Si'\]",
    ):
        distill.check(fe_si)
    distill.check(dc.distill_config(cu_al, dc.DistillChoices(), output_dir=out))
    assert not (tmp_path / "run").exists()  # checking writes nothing


def test_port_problem_names_a_busy_port():
    """A port another program listens on is refused with one line before the server
    starts (instead of a "serving on" line followed by Streamlit's own failure)."""
    import socket

    from foundation_model.ui.settings import port_problem

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        message = port_problem("127.0.0.1", port)
        assert message is not None and "\n" not in message
        assert message.startswith(f"fm ui: cannot serve on 127.0.0.1:{port} (")
        assert message.endswith("choose another --port.")
    assert port_problem("127.0.0.1", port) is None
    assert "between 1 and 65535" in port_problem("127.0.0.1", 70000)


def test_fm_ui_on_a_busy_port_is_one_line_and_never_says_serving(capsys):
    pytest.importorskip("streamlit", reason="streamlit not installed: uv sync --extra ui")
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert ui_cli.main(["--port", str(port)]) == 2
    out, err = capsys.readouterr()
    assert "serving on" not in out + err
    assert err.strip().count("\n") == 0 and f"cannot serve on 127.0.0.1:{port}" in err
