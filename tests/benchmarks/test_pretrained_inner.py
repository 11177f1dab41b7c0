"""``benchmarks/pretrained_inner.py``: which networks each checkpoint's entry trains, its report."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark_scripts import load_benchmark
from synthetic_tables import bench_config


def _base(path: str):
    from foundation_model.workflows.finetune_recipe import PretrainedBase

    arch = {"encoder_dims": [8], "deposit_dim": 4}
    return PretrainedBase(Path(path), arch, ["a", "b"], [0.0, 0.0], "magpie")


def _calls(scratch: bool, seeds: int = 5, candidate_set: list[str] | None = None) -> dict:
    from foundation_model.workflows.inner_folds import InnerData, InnerFold

    bench = load_benchmark("pretrained_inner")
    ids = [f"r{i}" for i in range(20)]
    x = pd.DataFrame({"a": np.arange(20.0), "b": np.ones(20)}, index=ids)
    y = pd.Series(np.arange(20.0), index=ids)
    data = InnerData(_base("shipped.ckpt"), x, y, np.array(ids))
    fold = InnerFold(0, ids[:15], ids[15:], y.loc[ids[15:]].to_numpy(), 13)
    args = argparse.Namespace(seeds=seeds, scratch=scratch, candidate_set=candidate_set)
    recipe = bench_config("val_task_error", stop=True)
    return bench.fold_calls(args, data, _base("candidate.ckpt"), fold, recipe)


def test_each_checkpoint_trains_every_mode_with_the_same_seeds():
    calls = _calls(scratch=False)
    assert set(calls) == {"pretrained", "candidate"}
    for entry, path in (("pretrained", "shipped.ckpt"), ("candidate", "candidate.ckpt")):
        members = calls[entry]
        assert len(members) == 8  # 4 modes x ceil(5 / 4) seeds, as fm bench --seeds 5
        starts = {c.config["model"]["init_args"]["init_from_checkpoint"] for c in members}
        assert starts == {path}
        assert sorted(c.seed for c in members) == [0] * 4 + [1000] * 4
        assert all(c.test_ids == [f"r{i}" for i in range(15, 20)] for c in members)
    # the two entries differ in the checkpoint only
    for a, b in zip(calls["pretrained"], calls["candidate"], strict=True):
        ca, cb = a.config["model"]["init_args"], b.config["model"]["init_args"]
        assert {k: v for k, v in ca.items() if k != "init_from_checkpoint"} == {
            k: v for k, v in cb.items() if k != "init_from_checkpoint"
        }


def test_candidate_settings_change_the_candidate_configs_only():
    calls = _calls(
        scratch=True,
        candidate_set=["model.init_args.formula_bin_edges=dominant", "model.init_args.dropout=0.2"],
    )
    for entry in ("pretrained", "scratch"):
        assert all("formula_bin_edges" not in c.config["model"]["init_args"] for c in calls[entry])
    for c in calls["candidate"]:
        args = c.config["model"]["init_args"]
        assert args["formula_bin_edges"] == "dominant" and args["dropout"] == 0.2
    for a, b in zip(calls["pretrained"], calls["candidate"], strict=True):
        ca, cb = a.config["model"]["init_args"], b.config["model"]["init_args"]
        changed = {k for k in ca.keys() | cb.keys() if ca.get(k) != cb.get(k)}
        assert changed == {"formula_bin_edges", "dropout", "init_from_checkpoint"}


@pytest.mark.parametrize("item", ["dropout=0.2", "model.init_args.dropout"])
def test_a_candidate_setting_outside_the_model_or_without_a_value_is_refused(item):
    bench = load_benchmark("pretrained_inner")
    with pytest.raises(SystemExit, match="model.init_args.KEY=VALUE"):
        bench.candidate_settings(argparse.Namespace(candidate_set=[item]))


def test_scratch_is_trained_only_when_asked():
    calls = _calls(scratch=True)
    assert len(calls["scratch"]) == 8
    assert all(
        "init_from_checkpoint" not in c.config["model"]["init_args"] for c in calls["scratch"]
    )


@pytest.mark.parametrize("metric", ["mae", "roc_auc"])
def test_markdown_counts_the_folds_the_candidate_wins(metric):
    bench = load_benchmark("pretrained_inner")
    per = {
        "pretrained": [2.0, 1.0, 3.0],
        "candidate": [1.0, 2.0, 2.0],
        "rf_same_features": [4.0] * 3,
    }
    result = {
        "task": "matbench_steels",
        "inner_folds": 3,
        "protocol": "inner",
        "pretrained": "shipped.ckpt",
        "candidate": "candidate.ckpt",
        "recipe": "recipe.yaml",
        "networks_per_entry": 8,
        "mae_per_inner_fold": per,
        "mae_mean": {k: float(np.mean(v)) for k, v in per.items()},
        "seconds": 1.0,
        "metric": metric,
    }
    text = bench.markdown(result)
    wins = 2 if metric == "mae" else 1  # lower MAE / higher ROC-AUC is better
    assert f"The candidate is better on {wins} of 3 inner folds" in text
    assert "| recipe from `candidate.ckpt` | 1.667 | 1, 2, 2 |" in text
    assert "mean of 8 networks" in text
    assert text.startswith("# Which checkpoint transfers better, matbench_steels")
    result["candidate_settings"] = {"model.init_args.formula_bin_edges": "dominant"}
    text = bench.markdown(result)
    assert text.startswith("# Does `model.init_args.formula_bin_edges=dominant` help,")
    assert "| recipe from `candidate.ckpt`, `model.init_args.formula_bin_edges=dominant` |" in text
    assert "Network time" not in text  # a study from before the time was recorded
    result["network_seconds"] = {"pretrained": 100.0, "candidate": 130.0}
    assert "pretrained 100 s, candidate 130 s; candidate / shipped 1.30." in bench.markdown(result)


def test_a_candidate_is_required(tmp_path):
    bench = load_benchmark("pretrained_inner")
    with pytest.raises(SystemExit, match=r"give --candidate \(a checkpoint\) or --candidate-set"):
        bench.main(["--data-dir", str(tmp_path), "--out", str(tmp_path)])
