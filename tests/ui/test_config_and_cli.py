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


def test_distill_config_refusals():
    root = Path(__file__).resolve().parents[2]
    sn2 = yaml.safe_load((root / "samples" / "distill" / "sn2_xtb.yaml").read_text())
    with pytest.raises(UserInputError, match="AlloyGenerator"):
        dc.distill_config(sn2, dc.DistillChoices(elements=["Cu"]))
    with pytest.raises(UserInputError, match="has no 'oracle.init_args.budget'"):
        dc.distill_config({"seed": 0}, dc.DistillChoices())
    with pytest.raises(UserInputError, match="one fraction per element"):
        dc.DistillChoices(fractions=[1.0]).validate()


def test_datagen_config_from_structure_files(tmp_path):
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
