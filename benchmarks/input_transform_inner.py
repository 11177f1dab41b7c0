"""Standardised vs quantile-normalised descriptors, on training ids only.

Composition descriptors are heavy-tailed (Magpie ranges, ratios, counts), and the model
standardises each column (``(x - mean) / std``) before its first layer. This study asks
whether mapping each column to a normal distribution by its empirical quantiles first
(scikit-learn's ``QuantileTransformer(output_distribution="normal")``, fitted on the
inner-training rows only) helps the network from scratch, the pretrained model's control.

For one Matbench regression task, fold 0's training ids are split into ``--splits`` inner
folds (KFold, seed 7); the official test ids are never read. On every inner fold it trains
the recipe's scratch network on standardised descriptors and on quantile-normalised ones,
``--seeds`` seeds each (the mean over seeds is scored per seed and as an ensemble), with the
RF on the same raw descriptors as the reference (a forest is invariant to monotone maps).
Results go to ``<out>/input_transform_inner_<task>.{json,md}``.

    uv run python benchmarks/input_transform_inner.py --task matbench_steels --seeds 2
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
    "standard": "scratch, standardised descriptors (current)",
    "quantile": "scratch, quantile-normalised descriptors",
    "rf_same_features": "RF (500 trees) on the same descriptors",
}


def quantile_normal(x, train: list[str]):
    """``x`` with every column mapped to N(0, 1) by its quantiles over ``train`` rows.

    Args:
        x: descriptors (NaN = missing; NaNs stay NaN).
        train: the rows the quantiles come from.
    """
    import pandas as pd
    from sklearn.preprocessing import QuantileTransformer

    qt = QuantileTransformer(
        n_quantiles=min(1000, len(train)), output_distribution="normal", random_state=0
    )
    qt.fit(x.loc[train].to_numpy())
    return pd.DataFrame(qt.transform(x.to_numpy()), index=x.index, columns=x.columns)


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

    data = load_inner_data(args.task, args.pretrained, args.data_dir, "input_transform_inner")
    base, x, y, ids = data.base, data.x, data.y, data.train_ids
    recipe = load_fit_config(args.recipe)
    maes: dict[str, list[float]] = {k: [] for k in ENTRIES}
    seed_maes: dict[str, list[list[float]]] = {"standard": [], "quantile": []}
    start = time.perf_counter()
    for fold in inner_folds(ids, y, args.splits):
        train, test, y_test, n_train = fold.train, fold.test, fold.y_test, fold.n_train
        recipe_obj = FinetuneRecipe()
        point_mass = recipe_obj.point_mass(y.loc[train])
        cfg = recipe_obj.configs(recipe, base, "t", "regression", n_train, point_mass)["scratch"]
        for key, xs in (("standard", x), ("quantile", quantile_normal(x, train))):
            preds = [fit_predict_fold(cfg, xs, y, train, test, s).values for s in range(args.seeds)]
            seed_maes[key].append([float(np.abs(p - y_test).mean()) for p in preds])
            maes[key].append(float(np.abs(np.mean(preds, axis=0) - y_test).mean()))
        maes["rf_same_features"].append(rf_same_features_mae(x, y, train, test))
        print(f"inner fold {fold.index}: " + ", ".join(f"{k} {v[-1]:.4g}" for k, v in maes.items()))
    return {
        **study_result(args, maes, time.perf_counter() - start),
        "single_seed_mae_per_inner_fold": seed_maes,
        "single_seed_mae_mean": {k: float(np.mean(v)) for k, v in seed_maes.items()},
    }


def markdown(result: dict) -> str:
    """The table of mean inner-fold MAEs."""
    lines = [
        f"# Descriptor transform on {result['task']}, inner folds of fold 0's training ids",
        "",
        f"{result['inner_folds']} inner folds, {result['seeds']} seeds per network (scored as "
        f"the mean of the seeds' predictions; single seeds in the JSON); {result['protocol']}. "
        f"{result['seconds']:.0f} s.",
        "",
        "| entry | mean MAE | mean single-seed MAE | per inner fold |",
        "|---|---|---|---|",
    ]
    single = result["single_seed_mae_mean"]
    for key, label in ENTRIES.items():
        per = ", ".join(f"{v:.4g}" for v in result["mae_per_inner_fold"][key])
        one = f"{single[key]:.4g}" if key in single else "-"
        lines.append(f"| {label} | {result['mae_mean'][key]:.4g} | {one} | {per} |")
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    """Run and write the JSON and Markdown reports."""
    from foundation_model.workflows.inner_folds import study_main

    return study_main(argv, __doc__.split("\n\n")[0], "input_transform_inner", 2, run, markdown)


if __name__ == "__main__":
    raise SystemExit(main())
