"""Pre-training vs task statistics for a fine-tuned encoder's inputs, on training ids only.

A warm-started encoder standardises its descriptors with the pre-training corpus's means
and stds (``init_input_scaling: checkpoint``), so its weights see inputs as in
pre-training. On a narrow task (steels: iron with a few per cent of other elements) the
columns that matter vary little in the corpus's units and reach the encoder near zero,
while the scratch network standardises them on the task itself. ``init_input_scaling:
task`` refits the scalers on the fine-tuning rows and keeps the copied weights.

For one Matbench task (regression or classification), fold 0's training ids are split
into ``--splits`` inner folds (KFold, seed 7); the official test ids are never read. On
every inner fold it trains the recipe's scratch network and its two fine-tuning modes with
each input scaling, each entry a ``--seeds`` seed ensemble (mean values, or mean
probabilities labelled at the training positive rate since 2026-12-05), with the RF on the
same descriptors as the reference.
Results go to ``<out>/input_scaling_inner_<task>.{json,md}``.

    uv run python benchmarks/input_scaling_inner.py --task matbench_steels --seeds 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

MODES = ("full", "full_uniform", "full_task", "full_uniform_task")  # FinetuneRecipe's names

ENTRIES = {
    "scratch": "scratch",
    "full_uniform": "full_uniform, checkpoint scaling (current)",
    "full_uniform_task": "full_uniform, task scaling",
    "full": "full, checkpoint scaling (current)",
    "full_task": "full, task scaling",
    "rf_same_features": "RF (500 trees) on the same descriptors",
    "recipe_2": "recipe: full / full_uniform, chosen per fold on validation (current)",
    "recipe_4": "recipe: all four modes, chosen per fold on validation",
}
CANDIDATES = {"recipe_2": ("full", "full_uniform"), "recipe_4": MODES}


def run(args: argparse.Namespace) -> dict:
    """Train every entry on every inner fold; return per-fold scores and their means
    (under the ``mae_*`` keys the inner-fold studies share, with ``metric`` naming them)."""
    from foundation_model.cli.lightning_cli import load_fit_config
    from foundation_model.workflows.bench_model import fit_predict_fold
    from foundation_model.workflows.finetune_recipe import FinetuneRecipe, pick_mode
    from foundation_model.workflows.inner_folds import (
        inner_folds,
        inner_score,
        load_inner_data,
        rf_same_features_score,
        study_result,
    )
    from foundation_model.workflows.rf_baseline import FoldPrediction

    data = load_inner_data(
        args.task, args.pretrained, args.data_dir, "input_scaling_inner", classification=True
    )
    base, x, y, ids, kind = data.base, data.x, data.y, data.train_ids, data.task_type
    recipe = load_fit_config(args.recipe)
    maes: dict[str, list[float]] = {k: [] for k in ENTRIES}
    vals: list[dict[str, float]] = []
    picks: dict[str, list[str]] = {k: [] for k in CANDIDATES}
    start = time.perf_counter()
    for fold in inner_folds(ids, y, args.splits):
        train, test, y_test = fold.train, fold.test, fold.y_test
        recipe_obj = FinetuneRecipe(modes=MODES)
        point_mass = recipe_obj.point_mass(y.loc[train]) if kind == "regression" else None
        cfgs = recipe_obj.configs(recipe, base, "t", kind, fold.n_train, point_mass)
        val: dict[str, float] = {}
        for key, cfg in cfgs.items():
            preds = [fit_predict_fold(cfg, x, y, train, test, s) for s in range(args.seeds)]
            maes[key].append(inner_score(kind, y_test, FoldPrediction.mean_of(preds).values))
            val[key] = preds[0].val_score  # the bench chooses on the first seed's models
        vals.append(val)
        maes["rf_same_features"].append(rf_same_features_score(x, y, train, test, kind))
        for entry, modes in CANDIDATES.items():  # the mode the recipe would pick, and its score
            chosen = pick_mode({m: val[m] for m in modes})
            picks[entry].append(chosen)
            maes[entry].append(maes[chosen][-1])
        print(f"inner fold {fold.index}: " + ", ".join(f"{k} {v[-1]:.4g}" for k, v in maes.items()))
    result = study_result(args, maes, time.perf_counter() - start)
    result["metric"] = "roc_auc" if kind == "classification" else "mae"
    result["val_task_error_first_seed"] = vals
    result["chosen_modes"] = picks
    return result


def markdown(result: dict) -> str:
    """The table of mean inner-fold scores."""
    metric = result.get("metric", "mae")
    better = " on hard labels, higher is better" if metric == "roc_auc" else ", lower is better"
    lines = [
        f"# Input scaling of the fine-tuned encoder on {result['task']}, inner folds of fold "
        "0's training ids",
        "",
        f"{result['inner_folds']} inner folds, every network entry the mean of "
        f"{result['seeds']} seeds' predictions; {result['protocol']}. "
        f"{result['seconds']:.0f} s. Score: {metric}{better}.",
        "",
        f"| entry | mean {metric} | per inner fold |",
        "|---|---|---|",
    ]
    for key, label in ENTRIES.items():
        per = ", ".join(f"{v:.4g}" for v in result["mae_per_inner_fold"][key])
        if key in result.get("chosen_modes", {}):
            per += " (" + ", ".join(result["chosen_modes"][key]) + ")"
        lines.append(f"| {label} | {result['mae_mean'][key]:.4g} | {per} |")
    lines += [
        "",
        "The two `recipe` rows pick, on each inner fold, the candidate with the lowest "
        "inner-validation error of its first seed (as `fm bench --pretrained` does); the "
        "modes picked are in brackets.",
    ]
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    """Run and write the JSON and Markdown reports."""
    from foundation_model.workflows.inner_folds import study_main

    return study_main(argv, __doc__.split("\n\n")[0], "input_scaling_inner", 2, run, markdown)


if __name__ == "__main__":
    raise SystemExit(main())
