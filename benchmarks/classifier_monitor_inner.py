"""Which validation score should pick a classifier's epoch and fine-tuning mode? Inner folds.

The recipe keeps the epoch with the lowest ``val_task_error`` and picks the fine-tuning
mode with the lowest best value. For a classification task that is the error rate of the
most probable class on a few hundred validation rows: coarse (ties are common) and blind
to ranking, while the benchmark scores ROC-AUC on labels set at the training positive rate.
This study compares it with the validation log loss (``val_<task>_log_loss``: smooth,
threshold-free) as the monitor of checkpointing, early stopping and the mode choice, all
else equal.

For one Matbench classification task, fold 0's training ids are split into ``--splits``
inner folds (KFold, seed 7); the official test ids are never read. On every inner fold the
recipe's scratch network and its four modes are trained under each monitor (``--seeds``
networks each, scored as the mean of their probabilities, labelled at the training positive
rate); the mode is picked on the first seed's validation score, as ``fm bench`` does.
Results go to ``<out>/classifier_monitor_inner_<task>.{json,md}``.

    uv run python benchmarks/classifier_monitor_inner.py --task matbench_glass --splits 3
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

MODES = ("full", "full_uniform", "full_task", "full_uniform_task")  # FinetuneRecipe's names
MONITORS = {"error": "val_task_error", "log_loss": "val_t_log_loss"}  # the head is named "t"


def _with_monitor(cfg: dict, monitor: str) -> dict:
    """``cfg`` with checkpointing and early stopping on ``monitor`` (lower is better)."""
    out = copy.deepcopy(cfg)
    for key in ("model_checkpoint", "early_stopping"):
        out[key]["init_args"]["monitor"] = monitor
        out[key]["init_args"]["mode"] = "min"
    return out


def run(args: argparse.Namespace) -> dict:
    """Train every network on every inner fold; return per-fold scores and the picks."""
    from foundation_model.cli.lightning_cli import load_fit_config
    from foundation_model.workflows.bench_model import fit_predict_fold
    from foundation_model.workflows.bench_report import classification_scores
    from foundation_model.workflows.finetune_recipe import FinetuneRecipe, pick_mode
    from foundation_model.workflows.inner_folds import (
        inner_folds,
        load_inner_data,
        rf_same_features_score,
        study_result,
    )
    from foundation_model.workflows.rf_baseline import FoldPrediction

    data = load_inner_data(
        args.task, args.pretrained, args.data_dir, "classifier_monitor_inner", classification=True
    )
    if data.task_type != "classification":
        raise SystemExit(f"classifier_monitor_inner: {args.task} is not a classification task.")
    base, x, y, ids = data.base, data.x, data.y, data.train_ids
    recipe = load_fit_config(args.recipe)
    scores: dict[str, list[float]] = {}
    proba_scores: dict[str, list[float]] = {}
    picks: dict[str, list[str]] = {m: [] for m in MONITORS}
    start = time.perf_counter()
    for fold in inner_folds(ids, y, args.splits):
        cfgs = FinetuneRecipe(modes=MODES).configs(
            recipe, base, "t", "classification", fold.n_train
        )
        y_test = fold.y_test.astype(int)
        for name, monitor in MONITORS.items():
            val: dict[str, float] = {}
            for key, cfg in cfgs.items():
                cfg = _with_monitor(cfg, monitor)
                preds = [
                    fit_predict_fold(cfg, x, y, fold.train, fold.test, s) for s in range(args.seeds)
                ]
                ens = FoldPrediction.mean_of(preds)
                s = classification_scores(y_test, ens.values.astype(int), ens.proba)
                scores.setdefault(f"{key}, {name}", []).append(s["roc_auc"])
                proba_scores.setdefault(f"{key}, {name}", []).append(s["roc_auc_proba"])
                val[key] = preds[0].val_score
            chosen = pick_mode({m: val[m] for m in MODES})
            picks[name].append(chosen)
            scores.setdefault(f"recipe, {name}", []).append(scores[f"{chosen}, {name}"][-1])
            proba_scores.setdefault(f"recipe, {name}", []).append(
                proba_scores[f"{chosen}, {name}"][-1]
            )
        rf = rf_same_features_score(x, y, fold.train, fold.test, "classification")
        scores.setdefault("rf_same_features", []).append(rf)
        print(
            f"inner fold {fold.index}: " + ", ".join(f"{k} {v[-1]:.4g}" for k, v in scores.items())
        )
    result = study_result(args, scores, time.perf_counter() - start)
    result["metric"] = "roc_auc"
    result["roc_auc_proba_per_inner_fold"] = proba_scores
    result["roc_auc_proba_mean"] = {k: float(np.mean(v)) for k, v in proba_scores.items()}
    result["monitors"] = MONITORS
    result["chosen_modes"] = picks
    return result


def markdown(result: dict) -> str:
    """The table of mean inner-fold scores."""
    lines = [
        f"# Classifier monitor on {result['task']}, inner folds of fold 0's training ids",
        "",
        f"{result['inner_folds']} inner folds, every network entry the mean of "
        f"{result['seeds']} seed(s)' probabilities, labelled at the training positive rate; "
        f"{result['protocol']}. {result['seconds']:.0f} s. Monitors: `error` = "
        f"`{result['monitors']['error']}` (the recipe's), `log_loss` = "
        f"`{result['monitors']['log_loss']}`. Higher is better.",
        "",
        "| entry | mean ROC-AUC (labels) | mean ROC-AUC (probabilities) "
        "| per inner fold (labels) |",
        "|---|---|---|---|",
    ]
    for key, per_fold in result["mae_per_inner_fold"].items():
        per = ", ".join(f"{v:.4g}" for v in per_fold)
        monitor = key.rsplit(", ", 1)[-1]
        if key.startswith("recipe, "):
            per += " (" + ", ".join(result["chosen_modes"][monitor]) + ")"
        proba = result["roc_auc_proba_mean"].get(key)
        shown = f"{proba:.4g}" if proba is not None else "-"
        lines.append(f"| {key} | {result['mae_mean'][key]:.4g} | {shown} | {per} |")
    lines += [
        "",
        "`recipe` rows: the mode with the lowest first-seed validation score under that "
        "monitor (modes picked in brackets). The RF is labelled by the same rule.",
    ]
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    """Run and write the JSON and Markdown reports."""
    from foundation_model.workflows.inner_folds import study_main

    return study_main(argv, __doc__.split("\n\n")[0], "classifier_monitor_inner", 1, run, markdown)


if __name__ == "__main__":
    raise SystemExit(main())
