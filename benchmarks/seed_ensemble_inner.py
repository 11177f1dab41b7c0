"""Seed ensembles vs single networks, on training ids only (how ``--seeds`` was judged).

For one Matbench regression task, fold 0's training ids are split into ``--splits`` inner
folds (KFold, seed 7); the official test ids are never read. On every inner fold it trains
the recipe's scratch network and the pretrained encoder fine-tuned in mode ``full_uniform``
(``samples/generated_configs/finetune_from_base.yaml``), each with ``--seeds`` seeds
(0, 1, ...), and scores the first seed alone and the mean of all seeds; the RF on the same
descriptors is the reference. Results go to ``<out>/seed_ensemble_inner_<task>.{json,md}``.

    uv run python benchmarks/seed_ensemble_inner.py --task matbench_steels --seeds 3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

ENTRIES = {
    "scratch_1": "scratch, 1 seed",
    "scratch_n": "scratch, mean of the seeds",
    "finetuned_1": "fine-tuned (full_uniform), 1 seed",
    "finetuned_n": "fine-tuned (full_uniform), mean of the seeds",
    "rf_same_features": "RF (500 trees) on the same descriptors",
}


def run(args: argparse.Namespace) -> dict:
    """Train every entry on every inner fold; return per-fold MAEs and their means."""
    from foundation_model.cli.lightning_cli import load_fit_config
    from foundation_model.workflows.bench_model import fit_predict_fold
    from foundation_model.workflows.finetune_recipe import FinetuneRecipe
    from foundation_model.workflows.inner_folds import (
        inner_folds,
        load_inner_data,
        rf_same_features_mae,
        study_result,
    )

    data = load_inner_data(args.task, args.pretrained, args.data_dir, "seed_ensemble_inner")
    base, x, y, ids = data.base, data.x, data.y, data.train_ids
    recipe = load_fit_config(args.recipe)
    maes: dict[str, list[float]] = {k: [] for k in ENTRIES}
    start = time.perf_counter()
    for fold in inner_folds(ids, y, args.splits):
        train, test, y_test, n_train = fold.train, fold.test, fold.y_test, fold.n_train
        cfgs = FinetuneRecipe().configs(recipe, base, "t", "regression", n_train)
        for key, cfg in (("scratch", cfgs["scratch"]), ("finetuned", cfgs["full_uniform"])):
            preds = [fit_predict_fold(cfg, x, y, train, test, s).values for s in range(args.seeds)]
            maes[f"{key}_1"].append(float(np.abs(preds[0] - y_test).mean()))
            maes[f"{key}_n"].append(float(np.abs(np.mean(preds, axis=0) - y_test).mean()))
        maes["rf_same_features"].append(rf_same_features_mae(x, y, train, test))
        print(f"inner fold {fold.index}: " + ", ".join(f"{k} {v[-1]:.4g}" for k, v in maes.items()))
    return study_result(args, maes, time.perf_counter() - start)


def markdown(result: dict) -> str:
    """The table of mean inner-fold MAEs."""
    lines = [
        f"# Seed ensembles on {result['task']}, inner folds of fold 0's training ids",
        "",
        f"{result['inner_folds']} inner folds, {result['seeds']} seeds per network; "
        f"{result['protocol']}. {result['seconds']:.0f} s.",
        "",
        "| entry | mean MAE | per inner fold |",
        "|---|---|---|",
    ]
    for key, label in ENTRIES.items():
        per = ", ".join(f"{v:.4g}" for v in result["mae_per_inner_fold"][key])
        lines.append(f"| {label} | {result['mae_mean'][key]:.4g} | {per} |")
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    """Run and write the JSON and Markdown reports."""
    from foundation_model.workflows.inner_folds import study_main

    return study_main(argv, __doc__.split("\n\n")[0], "seed_ensemble_inner", 3, run, markdown)


if __name__ == "__main__":
    raise SystemExit(main())
