"""``benchmarks/large_task_budget.py``: the budgets it trains, its report and its guards."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark_scripts import load_benchmark
from synthetic_tables import bench_config


def _data():
    from foundation_model.workflows.finetune_recipe import PretrainedBase
    from foundation_model.workflows.inner_folds import InnerData, InnerFold

    base = PretrainedBase(
        Path("base.ckpt"), {"encoder_dims": [8], "deposit_dim": 4}, ["a", "b"], [0.0, 0.0], "x"
    )
    ids = [f"r{i}" for i in range(20)]
    x = pd.DataFrame({"a": np.arange(20.0), "b": np.ones(20)}, index=ids)
    y = pd.Series(np.arange(20.0), index=ids)
    fold = InnerFold(0, ids[:15], ids[15:], y.loc[ids[15:]].to_numpy(), 13)
    return InnerData(base, x, y, np.array(ids)), fold


def test_every_network_trains_every_budget_with_the_recipe_patience():
    bench = load_benchmark("large_task_budget")
    data, fold = _data()
    recipe = bench_config("val_task_error", stop=True)
    todo = bench.network_calls(data, fold, recipe, [8, 40], 3, {"scratch@8": {}})
    names = [name for name, _ in todo]
    assert names == ["full_uniform@8", "scratch@40", "full_uniform@40"]
    for name, call in todo:
        epochs = int(name.split("@")[1])
        assert call.config["trainer"]["max_epochs"] == epochs
        assert call.config["early_stopping"]["init_args"]["patience"] == max(5, epochs // 6)
        assert call.seed == 3 and call.test_ids == fold.test
    start = {n: c.config["model"]["init_args"].get("init_from_checkpoint") for n, c in todo}
    assert start["scratch@40"] is None and start["full_uniform@40"] == "base.ckpt"


def test_default_budgets_are_the_reduced_and_the_unreduced_rule():
    bench = load_benchmark("large_task_budget")
    args = argparse.Namespace(epochs=None)
    # 61,000 rows, batch 512: 120 steps an epoch, 4,000 steps -> 34 epochs
    assert bench.budgets(args, 61_000) == [8, 34]
    assert bench.budgets(argparse.Namespace(epochs=[16, 8, 16]), 61_000) == [8, 16]


def _result() -> dict:
    entries = {
        f"{net}@{e}": {
            "network": net,
            "budget_epochs": e,
            "epochs_run": e - 1,
            "score": 0.30 - 0.001 * e - (0.01 if net == "full_uniform" else 0.0),
            "seconds": 10.0 * e,
        }
        for net in ("scratch", "full_uniform")
        for e in (8, 27)
    }
    entries["rf_same_features"] = {"score": 0.25, "seconds": 60.0}
    return {
        "task": "matbench_mp_gap",
        "metric": "mae",
        "inner_fold": 0,
        "seed": 0,
        "rf_trees": 100,
        "n_train": 61000,
        "n_test": 17000,
        "protocol": "inner fold 0",
        "entries": entries,
        "seconds": 700.0,
    }


def test_markdown_and_plot(tmp_path):
    bench = load_benchmark("large_task_budget")
    result = _result()
    text = bench.markdown(result)
    assert "| scratch | 27 | 26 | 0.2730 | 270 |" in text
    assert "| full_uniform | 8 | 7 | 0.2820 | 80 |" in text
    assert "| RF on the same descriptors (100 trees) | – | – | 0.2500 | 60 |" in text
    bench.plot(result, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_entries_of_a_partial_file_or_report_with_other_settings_are_not_reused(tmp_path):
    from foundation_model.utils.atomic import write_json

    bench = load_benchmark("large_task_budget")
    key = {"task": "t", "seed": 0}
    done = {"scratch@8": {"score": 1.0}}
    write_json({"key": key, "entries": done}, tmp_path / "p.json")
    write_json({**key, "epochs": [8], "entries": {"x@8": {}}}, tmp_path / "r.json")
    assert bench.read_done([tmp_path / "p.json", tmp_path / "r.json"], key) == done
    # no partial file: the finished report's entries (its settings sit at the top level)
    assert bench.read_done([tmp_path / "none.json", tmp_path / "r.json"], key) == {"x@8": {}}
    assert bench.read_done([tmp_path / "p.json"], {**key, "seed": 1}) == {}


def test_a_missing_task_is_refused(tmp_path):
    bench = load_benchmark("large_task_budget")
    with pytest.raises(SystemExit, match="large_task_budget: matbench_mp_gap is not in"):
        bench.main(["--data-dir", str(tmp_path), "--out", str(tmp_path)])
