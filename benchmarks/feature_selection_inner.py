"""Relevance-redundancy descriptor selection for the networks, on training ids only.

MODNet's answer to small experimental tasks is to hand its network a few dozen columns
chosen by relevance and redundancy instead of every descriptor. This study asks whether
the same idea (``foundation_model.features.selection.RelevanceRedundancySelector``,
fitted on each inner fold's training rows only) helps the recipe's networks:

* scratch: the network sees only the ``k`` chosen columns;
* fine-tuned (``full_uniform``): the pretrained encoder keeps its input layer, and every
  column not chosen is held at its training median (a constant, which the input scaler
  maps to 0), so only the chosen columns vary.

For one Matbench regression task, fold 0's training ids are split into ``--splits`` inner
folds (KFold, seed 7); the official test ids are never read. Every network entry is the mean
of ``--seeds`` seeds; RFs on all and on the chosen columns are the references. Results go to
``<out>/feature_selection_inner_<task>.{json,md}``.

    uv run python benchmarks/feature_selection_inner.py --task matbench_steels --seeds 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

KS = (128, 64, 32)


def entries(ks: tuple[int, ...]) -> dict[str, str]:
    """Report key -> label, for the column counts ``ks``."""
    out = {"scratch_all": "scratch, all descriptors (current)"}
    out.update({f"scratch_k{k}": f"scratch, {k} chosen descriptors" for k in ks})
    out["finetuned_all"] = "fine-tuned (full_uniform), all descriptors (current)"
    out.update({f"finetuned_k{k}": f"fine-tuned, {k} chosen vary, rest held" for k in ks})
    out["rf_all"] = "RF (500 trees), all descriptors"
    out.update({f"rf_k{k}": f"RF (500 trees), {k} chosen descriptors" for k in ks})
    return out


def run(args: argparse.Namespace) -> dict:
    """Train every entry on every inner fold; return per-fold MAEs and their means."""
    from foundation_model.cli.lightning_cli import load_fit_config
    from foundation_model.features.selection import RelevanceRedundancySelector
    from foundation_model.workflows.bench_model import fit_predict_fold
    from foundation_model.workflows.finetune_recipe import FinetuneRecipe
    from foundation_model.workflows.inner_folds import (
        inner_folds,
        load_inner_data,
        rf_same_features_mae,
        study_result,
    )

    ks = tuple(args.ks)
    data = load_inner_data(args.task, args.pretrained, args.data_dir, "feature_selection_inner")
    base, x, y, ids = data.base, data.x, data.y, data.train_ids
    recipe = load_fit_config(args.recipe)
    maes: dict[str, list[float]] = {k: [] for k in entries(ks)}
    chosen: list[dict[str, list[str]]] = []
    start = time.perf_counter()
    for fold in inner_folds(ids, y, args.splits):
        train, test, y_test = fold.train, fold.test, fold.y_test
        recipe_obj = FinetuneRecipe()
        point_mass = recipe_obj.point_mass(y.loc[train])
        cfgs = recipe_obj.configs(recipe, base, "t", "regression", fold.n_train, point_mass)
        order = RelevanceRedundancySelector(max(ks)).fit(x.loc[train], y.loc[train]).columns_
        chosen.append({f"k{k}": order[:k] for k in ks})
        medians = x.loc[train].median()

        def mean_mae(cfg: dict, xs, train=train, test=test, y_test=y_test) -> float:
            preds = [fit_predict_fold(cfg, xs, y, train, test, s).values for s in range(args.seeds)]
            return float(np.abs(np.mean(preds, axis=0) - y_test).mean())

        maes["scratch_all"].append(mean_mae(cfgs["scratch"], x))
        maes["finetuned_all"].append(mean_mae(cfgs["full_uniform"], x))
        maes["rf_all"].append(rf_same_features_mae(x, y, train, test))
        for k in ks:
            keep = order[:k]
            held = x.copy()
            rest = [c for c in x.columns if c not in set(keep)]
            held[rest] = medians[rest].to_numpy()
            maes[f"scratch_k{k}"].append(mean_mae(cfgs["scratch"], x[keep]))
            maes[f"finetuned_k{k}"].append(mean_mae(cfgs["full_uniform"], held))
            maes[f"rf_k{k}"].append(rf_same_features_mae(x[keep], y, train, test))
        print(f"inner fold {fold.index}: " + ", ".join(f"{k} {v[-1]:.4g}" for k, v in maes.items()))
    result = study_result(args, maes, time.perf_counter() - start)
    result["ks"] = list(ks)
    result["chosen_columns_per_inner_fold"] = chosen
    return result


def markdown(result: dict) -> str:
    """The table of mean inner-fold MAEs."""
    top = f"k{max(result['ks'])}"
    varying = ", ".join(str(len(c[top])) for c in result["chosen_columns_per_inner_fold"])
    lines = [
        f"# Descriptor selection on {result['task']}, inner folds of fold 0's training ids",
        "",
        f"{result['inner_folds']} inner folds, every network entry the mean of "
        f"{result['seeds']} seeds' predictions; {result['protocol']}. Columns chosen on each "
        f"inner fold's training rows only (the JSON lists them); a k larger than the number "
        f"of non-constant columns keeps them all ({varying} per inner fold here). "
        f"{result['seconds']:.0f} s.",
        "",
        "| entry | mean MAE | per inner fold |",
        "|---|---|---|",
    ]
    for key, label in entries(tuple(result["ks"])).items():
        per = ", ".join(f"{v:.4g}" for v in result["mae_per_inner_fold"][key])
        lines.append(f"| {label} | {result['mae_mean'][key]:.4g} | {per} |")
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    """Run and write the JSON and Markdown reports."""
    from foundation_model.workflows.inner_folds import study_main

    def column_counts(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--ks", type=int, nargs="+", default=list(KS), help="columns kept")

    return study_main(
        argv, __doc__.split("\n\n")[0], "feature_selection_inner", 2, run, markdown, column_counts
    )


if __name__ == "__main__":
    raise SystemExit(main())
