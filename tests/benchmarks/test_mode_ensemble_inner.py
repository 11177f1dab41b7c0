"""``benchmarks/mode_ensemble_inner.py``: which networks each entry averages, its report."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark_scripts import load_benchmark


def _nets(bench, seeds: int):
    from foundation_model.workflows.rf_baseline import FoldPrediction

    nets = {}
    for i, m in enumerate((*bench.MODES, "scratch")):
        for j in range(seeds):
            nets[m, j] = FoldPrediction(np.array([10.0 * i + j]), val_score=float(i + j))
    return nets


def _ids(preds) -> list[int]:
    return [id(p) for p in preds]


def test_entries_average_the_networks_the_protocol_names():
    bench = load_benchmark("mode_ensemble_inner")
    nets = _nets(bench, 5)
    # seed 0 picks full_task; the 2-seed means pick full_uniform_task
    val = {"full": [3.0, 3.0], "full_uniform": [2.0, 2.0], "full_task": [1.0, 9.0]}
    val["full_uniform_task"] = [1.5, 1.5]
    out = bench.entries(nets, val, "full_task", 5)
    assert _ids(out["recipe"]) == _ids(nets["full_task", j] for j in range(5))
    assert _ids(out["scratch"]) == _ids(nets["scratch", j] for j in range(5))
    assert len(out["all modes"]) == 8
    assert set(_ids(out["all modes"])) == set(_ids(nets[m, j] for m in bench.MODES for j in (0, 1)))
    assert _ids(out["pick on 2-seed validation"]) == _ids(
        nets["full_uniform_task", j] for j in (0, 1)
    )
    assert _ids(out["full, 2 seeds"]) == _ids([nets["full", 0], nets["full", 1]])


def test_a_mode_without_two_validation_scores_is_not_picked_on_them():
    bench = load_benchmark("mode_ensemble_inner")
    nets = _nets(bench, 3)
    val = {m: [5.0, 5.0] for m in bench.MODES}
    val["full"] = [0.1, None]  # best, but one network has no score
    out = bench.entries(nets, val, "full", 3)
    assert _ids(out["pick on 2-seed validation"]) == _ids(nets["full_uniform", j] for j in (0, 1))


@pytest.mark.parametrize("metric", ["mae", "roc_auc"])
def test_markdown_counts_the_folds_all_modes_wins(metric):
    bench = load_benchmark("mode_ensemble_inner")
    per = {"recipe": [2.0, 1.0, 3.0], "all modes": [1.0, 2.0, 2.0], "scratch": [4.0, 4.0, 4.0]}
    result = {
        "task": "matbench_steels",
        "seeds": 5,
        "inner_folds": 3,
        "protocol": "inner",
        "pretrained": "ckpt",
        "recipe": "recipe.yaml",
        "mae_per_inner_fold": per,
        "mae_mean": {k: float(np.mean(v)) for k, v in per.items()},
        "seconds": 1.0,
        "metric": metric,
        "picked": ["full", "full_task", "full"],
    }
    text = bench.markdown(result)
    wins = 2 if metric == "mae" else 1  # lower MAE / higher ROC-AUC is better
    assert f"better than `recipe` on {wins} of 3 inner folds" in text
    assert "| recipe | 2 | 2, 1, 3 (full, full_task, full) |" in text
    assert "the same 8 fine-tunings" in text


def test_too_few_seeds_are_refused(tmp_path):
    bench = load_benchmark("mode_ensemble_inner")
    with pytest.raises(SystemExit, match="--seeds must be > 2"):
        bench.main(["--seeds", "2", "--data-dir", str(tmp_path), "--out", str(tmp_path)])
