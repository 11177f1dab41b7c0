"""Matbench v0.1 data: official ids, fold reconstruction, written files (steels, 312 rows)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foundation_model.data import matbench_sources as sources
from foundation_model.data.matbench import (
    canonical_name,
    load_matbench_task,
    official_ids,
    read_matbench_task,
    write_matbench,
)

WHEELS = Path(__file__).resolve().parents[2] / "data" / "cache" / "wheels"


@pytest.fixture(scope="module")
def wheel_cache() -> Path:
    have = list(WHEELS.glob("crabnet-2.0.8-*.whl")) and list(WHEELS.glob("matbench-0.6-*.whl"))
    if not have and not sources.host_reachable("https://pypi.org", timeout=5):
        pytest.skip(
            "PyPI is unreachable and the crabnet/matbench wheels are not cached "
            "in data/cache/wheels"
        )
    sources.wheel_path(*sources.CRABNET, WHEELS)
    sources.wheel_path(*sources.MATBENCH, WHEELS)
    return WHEELS


def test_steels_rows_ids_and_folds_match_official_file(wheel_cache):
    task = load_matbench_task("steels", wheel_cache, try_matminer=False)
    official = sources.load_validation(wheel_cache)["splits"]["matbench_steels"]
    assert len(task.table) == 312 and task.task_type == "regression" and task.unit == "MPa"
    assert task.table.index[0] == "mb-steels-001" and task.table.index[-1] == "mb-steels-312"
    assert task.table.loc["mb-steels-001", "target"] == pytest.approx(2411.5)
    assert [len(test) for _, test in task.folds] == [63, 63, 62, 62, 62]
    all_test = [i for _, test in task.folds for i in test]
    assert sorted(all_test) == sorted(task.table.index)  # folds partition the rows
    for k, (train, test) in enumerate(task.folds):
        assert train == official[f"fold_{k}"]["train"] and test == official[f"fold_{k}"]["test"]
        assert not set(train) & set(test)


def test_written_files_reload_identically(wheel_cache, tmp_path):
    paths = write_matbench(
        tmp_path, ["matbench_steels", "expt_is_metal"], wheel_cache, try_matminer=False
    )
    assert {p.name for p in paths} >= {
        "matbench_steels.csv",
        "matbench_steels_folds.json",
        "tasks.json",
    }
    info = json.loads((tmp_path / "tasks.json").read_text())
    assert info["matbench_expt_is_metal"]["n_rows"] == 4921
    again = read_matbench_task(tmp_path, "steels")
    fresh = load_matbench_task("steels", wheel_cache, try_matminer=False)
    assert again.folds == fresh.folds
    assert (again.table["formula"] == fresh.table["formula"]).all()
    metal = read_matbench_task(tmp_path, "expt_is_metal")
    assert set(metal.table["target"].unique()) == {0, 1}


def test_id_padding_follows_official_width():
    splits = {"fold_0": {"test": ["mb-mp-e-form-000001"], "train": []}}
    assert official_ids("matbench_mp_e_form", 2, splits) == [
        "mb-mp-e-form-000001",
        "mb-mp-e-form-000002",
    ]


def test_unknown_task_name_lists_choices():
    with pytest.raises(ValueError, match="choose one of"):
        canonical_name("steel")
