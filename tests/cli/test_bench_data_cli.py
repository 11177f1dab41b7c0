"""``fm data`` / ``fm bench`` report bad input as one-line errors (no heavy work done)."""

from __future__ import annotations

import re

import pytest

from foundation_model.cli.main import main as fm


def test_bench_unknown_task(capsys, tmp_path):
    code = fm(["bench", "matbench", "--task", "steel", "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "Unknown Matbench task 'steel'" in err and "steels" in err
    assert not list(tmp_path.iterdir())


def test_data_unknown_task(capsys, tmp_path):
    code = fm(["data", "matbench", "--out", str(tmp_path), "--tasks", "nope", "--no-matminer"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "choose one of" in err and "\n" not in err


def test_bench_missing_config(tmp_path):
    from foundation_model.workflows.matbench_bench import load_config

    with pytest.raises(FileNotFoundError, match="pass --config"):
        load_config(tmp_path / "none.yaml")


def test_bench_resumes_by_default_and_no_resume_turns_it_off():
    from foundation_model.cli.bench import build_parser

    base = ["matbench", "--task", "steels"]
    assert build_parser().parse_args(base).resume is True
    assert build_parser().parse_args([*base, "--no-resume"]).resume is False


@pytest.mark.parametrize(
    "argv",
    [
        ["data", "matbench", "--tasks", "steels", "--out"],
        ["data", "corpus", "--out"],
        ["bench", "matbench", "--task", "steels", "--out"],
    ],
)
def test_an_output_folder_that_cannot_be_made_is_one_line_before_any_work(argv, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    for out, problem in ((blocker, "is a file, not a folder"), (blocker / "x", "Not a directory")):
        assert fm([*argv, str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"--out {out}" in err[0] and problem in err[0]
    assert blocker.read_text() == "not a folder"


def test_bench_budgets_below_one_are_refused(capsys, tmp_path):
    argv = ["bench", "matbench", "--task", "steels", "--out", str(tmp_path)]
    assert fm([*argv, "--max-epochs", "0"]) == 2
    assert "--max-epochs must be at least 1" in capsys.readouterr().err
    assert fm([*argv, "--rf-estimators", "0"]) == 2
    assert "--rf-estimators must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("task", ["matbench", "table"])
def test_bench_help_gives_each_default_once_and_none_for_flags(task, capsys):
    with pytest.raises(SystemExit):
        fm(["bench", task, "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "(default: None)" not in text
    assert not re.search(r"\(default: [^)]*\) \(default:", text)  # never said twice
    assert "(default: True)" not in text and "(default: False)" not in text
    assert "(default: 500)" in text  # the RF's trees: a real default is still shown


def test_a_relative_checkpoint_that_is_missing_names_the_working_folder(tmp_path, monkeypatch):
    from pathlib import Path

    from foundation_model.utils.checkpoint import CheckpointNotFoundError, check_checkpoint_file

    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointNotFoundError, match=f"relative to the working folder {tmp_path}"):
        check_checkpoint_file("results/pretrained/fm-base/model.ckpt")
    with pytest.raises(CheckpointNotFoundError, match=r"not found: /nowhere/x\.ckpt\.$"):
        check_checkpoint_file(Path("/nowhere/x.ckpt"))
