"""Shared pieces of the inner-fold studies: options, refusals, reports."""

from __future__ import annotations

import argparse
import json

import pytest

from foundation_model.workflows.inner_folds import (
    DEFAULT_RECIPE,
    add_inner_arguments,
    load_inner_data,
    write_report,
)


def test_options_and_their_defaults():
    p = argparse.ArgumentParser()
    add_inner_arguments(p, "matbench_steels")
    args = p.parse_args([])
    assert args.task == "matbench_steels" and args.recipe == DEFAULT_RECIPE
    assert p.parse_args(["--task", "matbench_jdft2d"]).task == "matbench_jdft2d"


def test_missing_task_is_refused_with_the_script_name(tmp_path):
    with pytest.raises(SystemExit, match="my_study: run `fm data matbench` first"):
        load_inner_data("matbench_steels", tmp_path / "none.ckpt", tmp_path, "my_study")


def test_report_files_are_named_by_study_and_task(tmp_path):
    write_report({"task": "matbench_steels", "mae": 1.5}, "# table\n", tmp_path, "study")
    assert json.loads((tmp_path / "study_steels.json").read_text())["mae"] == 1.5
    assert (tmp_path / "study_steels.md").read_text() == "# table\n"
