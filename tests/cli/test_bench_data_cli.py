"""``fm data`` / ``fm bench`` report bad input as one-line errors (no heavy work done)."""

from __future__ import annotations

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
