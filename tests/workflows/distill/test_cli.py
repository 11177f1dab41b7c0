"""``fm distill``: the sample configs build a pipeline; the command is registered."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation_model.cli.distill import build_pipeline, main
from foundation_model.cli.main import TOOL_COMMANDS
from foundation_model.workflows.datagen.samplers.direct import DIRECTSampler
from foundation_model.workflows.distill.oracles.emt import EMTOracle
from foundation_model.workflows.distill.oracles.xtb import XTBOracle

# the sample configs sample with SOAP descriptors
pytest.importorskip("dscribe", reason="dscribe not installed: uv sync --extra datagen")


SAMPLES = Path(__file__).resolve().parents[3] / "samples" / "distill"


def test_registered_and_help(capsys) -> None:
    assert TOOL_COMMANDS["distill"][0] == "foundation_model.cli.distill"
    assert main(["--help"]) == 0 and "fm distill run" in capsys.readouterr().out
    assert main(["fly"]) == 2


@pytest.mark.parametrize(
    ("name", "oracle"), [("cu_al_emt.yaml", EMTOracle), ("sn2_xtb.yaml", XTBOracle)]
)
def test_sample_configs_build(name: str, oracle: type, tmp_path: Path) -> None:
    pipe, resume = build_pipeline(
        ["--config", str(SAMPLES / name), "--output_dir", str(tmp_path), "--resume", "--seed", "3"]
    )
    assert resume and pipe.seed == 3 and isinstance(pipe.oracle, oracle)
    assert isinstance(pipe.pool.sampler, DIRECTSampler) and pipe.oracle.budget > 0
    assert pipe.step_directory("pool").parent == tmp_path
    if oracle is XTBOracle:
        assert pipe.oracle.charge == -1
        assert pipe.teacher.backbone["class_path"].endswith("SevenNetBackbone")
    # a setting of a later step changes the hash of that step and the ones after it only
    other, _ = build_pipeline(
        ["--config", str(SAMPLES / name), "--output_dir", str(tmp_path), "--seed", "3",
         "--delta.init_args.oracle_weight", "7"]
    )  # fmt: skip
    a, b = pipe.step_hashes(), other.step_hashes()
    assert a["student"] == b["student"] and a["delta"] != b["delta"]


def test_the_teacher_backbone_may_be_given_by_its_class_path_alone(tmp_path: Path) -> None:
    schnet = "foundation_model.backbones.SchNetBackbone"
    argv = ["--config", str(SAMPLES / "sn2_xtb.yaml"), "--output_dir", str(tmp_path)]
    pipe, _ = build_pipeline([*argv, f"--teacher.backbone={schnet}"])
    assert pipe.teacher.backbone == {"class_path": schnet, "init_args": {}}
    given = f'{{"class_path": "{schnet}", "init_args": {{}}}}'
    full, _ = build_pipeline([*argv, f"--teacher.backbone={given}"])
    assert pipe.step_hashes() == full.step_hashes()  # the same setting, written two ways


def test_bad_config_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    from foundation_model.cli.main import main

    assert main(["distill", "run", "--config", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fm distill: error:") and "nope.yaml" in err[0]


def test_missing_model_files_are_refused_before_any_work(tmp_path: Path, capsys) -> None:
    """A teacher's MACE model file or an explorer's MLIP model that does not exist is a
    one-line error when the config is read: no run folder is opened."""
    from foundation_model.cli.main import main

    out = tmp_path / "run"
    base = ["distill", "run", "--config", str(SAMPLES / "cu_al_emt.yaml"), f"--output_dir={out}"]
    teacher = [
        "--teacher.init_args.backbone",
        '{"class_path": "foundation_model.backbones.MACEBackbone", '
        '"init_args": {"model_path": "missing.model"}}',
    ]
    assert main([*base, *teacher]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model_path missing.model not found" in err[0]
    assert not out.exists()


def test_mlip_spec_checks_its_model_up_front(tmp_path: Path) -> None:
    from foundation_model.workflows.datagen.calculators import MLIPSpec

    with pytest.raises(FileNotFoundError, match="neither a pretrained model name"):
        MLIPSpec(model="sevenet")  # a typo
    with pytest.raises(FileNotFoundError, match="checkpoint .*none.ckpt not found"):
        MLIPSpec(checkpoint=str(tmp_path / "none.ckpt"))
    assert MLIPSpec(model="7net-0").model == "7net-0"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (["--oracle.init_args.budget=3"], "is below the labels active learning needs"),
        (
            ["--pool.init_args.generators.init_args.elements=[Cu,Fe]"],
            "EMT (ASE's effective-medium potential) has no parameters for ['Fe']",
        ),
        # a class's own range check: the line is its sentence, not jsonargparse's dump
        (
            ["--active_learning.committee_size=1"],
            "committee_size must be >= 2, got 1. (command-line argument)",
        ),
        (["--active_learning.rounds=-1"], "active_learning rounds must be >= 0, got -1"),
        (["--teacher.epochs=0"], "teacher epochs and batch_size must be >= 1"),
        (["--student.basis.cutoff=-1"], "student basis cutoff must be > 0 Å, got -1"),
    ],
)
def test_refusals_that_need_no_work_open_no_run_folder(
    override: list[str], message: str, tmp_path: Path, capsys
) -> None:
    from foundation_model.cli.main import main

    out = tmp_path / "run"
    argv = ["distill", "run", "--config", str(SAMPLES / "cu_al_emt.yaml"), f"--output_dir={out}"]
    assert main([*argv, *override]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert "Subtypes" not in err[0] and "Given value" not in err[0]
    assert not out.exists()
