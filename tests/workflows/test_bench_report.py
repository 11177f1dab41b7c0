import warnings

import pytest

from foundation_model.workflows.bench_report import _transfer_lines, summarize


def test_summarize_means_over_folds_and_a_metric_nan_everywhere_is_none():
    folds = [
        {"mae": 1.0, "coverage_1sigma": float("nan"), "r2": 0.5},
        None,  # a failed fold
        {"mae": 3.0, "coverage_1sigma": float("nan"), "r2": float("nan")},
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "Mean of empty slice"
        out = summarize(folds, "mae")
    assert out["mean"] == 2.0 and out["n_folds_ok"] == 2
    assert out["per_fold"] == [1.0, None, 3.0]
    assert out["mean_coverage_1sigma"] is None
    assert out["mean_r2"] == 0.5  # NaN folds left out of a secondary metric's mean
    assert out["n_folds_r2"] == 1 and out["n_folds_coverage_1sigma"] == 0  # and said so
    every = summarize([{"mae": 1.0, "r2": 0.5}, {"mae": 2.0, "r2": 0.7}], "mae")
    assert "n_folds_r2" not in every  # every fold has it: no count needed


@pytest.mark.parametrize("combine", ["pick", "all"])
def test_transfer_lines_name_the_pick_per_fold_or_the_average_once(combine):
    selection = (
        "lowest inner-validation val_task_error on each fold's training ids"
        if combine == "pick"
        else "none: the mean of every mode's networks (8 in all, scratch as many)"
    )
    mode = "full" if combine == "pick" else "all"
    result = {
        "pretrained": "base.ckpt",
        "recipe": {
            "config": "recipe.yaml",
            "sizes": {"batch_size": 32, "max_epochs": 100, "patience": 20},
            "modes": ["full", "full_uniform", "full_task", "full_uniform_task"],
            "combine": combine,
            "selection": selection,
        },
        "folds": [{"fold": i, "mode": mode, "seconds_finetune_all_modes": 10.0} for i in (0, 1)],
    }
    text = "\n".join(_transfer_lines(result))
    if combine == "pick":
        assert "fold 0: full, fold 1: full" in text and selection in text
    else:
        assert "fold 0" not in text  # nothing was chosen per fold
        assert "no mode chosen, the mean of every mode's networks (8 in all" in text
    assert "median 10 s" in text and "4 modes" in text
    assert "Whole entries" not in text  # runs before 2026-12-07 did not record it
    for fold in result["folds"]:
        fold["network_seconds"] = {"model_pretrained": 160.0, "model_scratch": 80.0}
        fold["networks_trained"] = {"model_pretrained": 8, "model_scratch": 8}
        fold["workers"] = 2
    text = "\n".join(_transfer_lines(result))
    assert "fine-tuned 160 s (8 networks; ~80 s wall), scratch 80 s (8 networks; ~40 s" in text
    assert _transfer_lines({"pretrained": "x"}) == []  # not a transfer run
