"""Does a piecewise-linear bin encoding of the descriptors help? Inner folds only.

Forests beat the network on the alloy tasks (steels, glass) while a kNN on the same
descriptors does not: what the forest has is cuts on single descriptors (the fraction of
one alloying element). ``FlexibleMultiTaskModel(formula_bins=T)`` adds such cuts to the
network: each raw descriptor is encoded in ``T`` quantile bins of the training rows
(Gorishniy, Rubachev & Babenko, NeurIPS 2022) and a linear map of the encoding, starting
at zero, is added to the first encoder layer. The pretrained encoder is unchanged; with a
warm start the branch is new and fitted on the task's training rows.

For one Matbench task, fold 0's training ids are split into ``--splits`` inner folds
(KFold, seed 7); the official test ids are never read. On every inner fold the recipe's
scratch network and its four fine-tuning modes are trained with and without the bins
(``--seeds`` networks each, scored as the mean of their predictions or probabilities,
classification labelled at the training positive rate), and the recipe's mode is picked
on the first seed's validation score among the modes without bins and among the modes
with bins, as ``fm bench`` does. The RF on the same descriptors is the reference.
Results go to ``<out>/formula_bins_inner_<task>.{json,md}``.

    uv run python benchmarks/formula_bins_inner.py --task matbench_steels --seeds 2
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

MODES = ("full", "full_uniform", "full_task", "full_uniform_task")  # FinetuneRecipe's names


def _with_bins(cfg: dict, bins: int) -> dict:
    """``cfg`` with ``model.init_args.formula_bins = bins``."""
    out = copy.deepcopy(cfg)
    out["model"]["init_args"]["formula_bins"] = bins
    return out


def run(args: argparse.Namespace) -> dict:
    """Train every entry on every inner fold; return per-fold scores and the picks."""
    from foundation_model.cli.lightning_cli import load_fit_config
    from foundation_model.workflows.bench_model import fit_predict_fold
    from foundation_model.workflows.finetune_recipe import FinetuneRecipe, pick_mode
    from foundation_model.workflows.inner_folds import (
        add_proba_scores,
        inner_folds,
        load_inner_data,
        prediction_scores,
        rf_same_features_score,
        study_result,
    )
    from foundation_model.workflows.rf_baseline import FoldPrediction

    data = load_inner_data(
        args.task, args.pretrained, args.data_dir, "formula_bins_inner", classification=True
    )
    base, x, y, ids, kind = data.base, data.x, data.y, data.train_ids, data.task_type
    recipe = load_fit_config(args.recipe)
    bins_key = f"bins {args.bins}"
    scores: dict[str, list[float]] = {}
    proba_scores: dict[str, list[float]] = {}
    picks: dict[str, list[str]] = {"no bins": [], bins_key: []}
    start = time.perf_counter()
    for fold in inner_folds(ids, y, args.splits):
        recipe_obj = FinetuneRecipe(modes=MODES)
        point_mass = recipe_obj.point_mass(y.loc[fold.train]) if kind == "regression" else None
        cfgs = recipe_obj.configs(recipe, base, "t", kind, fold.n_train, point_mass)
        val: dict[str, dict[str, float]] = {"no bins": {}, bins_key: {}}
        for key, cfg in cfgs.items():
            for variant, bins in (("no bins", 0), (bins_key, args.bins)):
                preds = [
                    fit_predict_fold(_with_bins(cfg, bins), x, y, fold.train, fold.test, s)
                    for s in range(args.seeds)
                ]
                ens = FoldPrediction.mean_of(preds)
                name = f"{key}, {variant}"
                main, proba = prediction_scores(kind, fold.y_test, ens)
                scores.setdefault(name, []).append(main)
                if proba is not None:
                    proba_scores.setdefault(name, []).append(proba)
                val[variant][key] = preds[0].val_score
        for variant in picks:
            chosen = pick_mode({m: val[variant][m] for m in MODES})
            picks[variant].append(chosen)
            scores.setdefault(f"recipe, {variant}", []).append(scores[f"{chosen}, {variant}"][-1])
            if kind == "classification":
                proba_scores.setdefault(f"recipe, {variant}", []).append(
                    proba_scores[f"{chosen}, {variant}"][-1]
                )
        scores.setdefault("rf_same_features", []).append(
            rf_same_features_score(x, y, fold.train, fold.test, kind)
        )
        print(
            f"inner fold {fold.index}: " + ", ".join(f"{k} {v[-1]:.4g}" for k, v in scores.items())
        )
    result = study_result(args, scores, time.perf_counter() - start)
    result["metric"] = "roc_auc" if kind == "classification" else "mae"
    result["bins"] = args.bins
    result["chosen_modes"] = picks
    add_proba_scores(result, proba_scores)
    return result


def markdown(result: dict) -> str:
    """The table of mean inner-fold scores, bins beside no bins."""
    metric = result["metric"]
    better = "higher" if metric == "roc_auc" else "lower"
    bins_key = f"bins {result['bins']}"
    proba = result.get("roc_auc_proba_mean") or {}
    lines = [
        f"# Descriptor bins (`formula_bins: {result['bins']}`) on {result['task']}, inner folds "
        "of fold 0's training ids",
        "",
        f"{result['inner_folds']} inner folds, every network entry the mean of "
        f"{result['seeds']} seed(s)' predictions"
        + (", labelled at the training positive rate" if metric == "roc_auc" else "")
        + f"; {result['protocol']}. {result['seconds']:.0f} s. Score: {metric}"
        + (" on hard labels" if metric == "roc_auc" else "")
        + f", {better} is better.",
        "",
        "| entry | no bins | with bins | per inner fold (no bins) | per inner fold (with bins) |",
        "|---|---|---|---|---|",
    ]
    per = result["mae_per_inner_fold"]
    mean = result["mae_mean"]
    for key in ("scratch", *MODES, "recipe"):
        a, b = f"{key}, no bins", f"{key}, {bins_key}"
        cells = [f"{mean[a]:.4g}", f"{mean[b]:.4g}"]
        if proba:
            cells = [
                f"{mean[a]:.4g} (proba {proba[a]:.4g})",
                f"{mean[b]:.4g} (proba {proba[b]:.4g})",
            ]
        fa = ", ".join(f"{v:.4g}" for v in per[a])
        fb = ", ".join(f"{v:.4g}" for v in per[b])
        if key == "recipe":
            fa += " (" + ", ".join(result["chosen_modes"]["no bins"]) + ")"
            fb += " (" + ", ".join(result["chosen_modes"][bins_key]) + ")"
        lines.append(f"| {key} | {cells[0]} | {cells[1]} | {fa} | {fb} |")
    rf = ", ".join(f"{v:.4g}" for v in per["rf_same_features"])
    rf_mean = mean["rf_same_features"]
    lines.append(f"| RF (500 trees) on the same descriptors | {rf_mean:.4g} | - | {rf} | - |")
    lines += [
        "",
        "`recipe`: the mode with the lowest first-seed validation score among the four modes "
        "of that column (modes picked in brackets), as `fm bench --pretrained` picks it."
        + (" The RF is labelled by the same rule." if metric == "roc_auc" else ""),
    ]
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    """Run and write the JSON and Markdown reports."""
    from foundation_model.workflows.inner_folds import study_main

    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--bins", type=int, default=8, help="formula_bins of the variant")

    return study_main(argv, __doc__.split("\n\n")[0], "formula_bins_inner", 2, run, markdown, extra)


if __name__ == "__main__":
    raise SystemExit(main())
