"""Fine-tuning variants compared on training ids only (how recipe v2 was chosen).

For one Matbench task: fold 0's training ids are shuffled (seed 123) and split 80/20 into
inner-train and inner-test; the fold's test ids are never read. On that split it trains the
scratch network and the pretrained encoder fine-tuned in four ways (encoder lr 1e-4 or 1e-3;
input scaler copied from pre-training or fitted on the task) and prints each inner-test
MAE. Regression tasks only.

    uv run python benchmarks/recipe_inner_split.py --task matbench_steels
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main(argv: list[str] | None = None) -> int:
    """Run the variants and print one line each."""
    import foundation_model.models.fine_tuning as ft
    from foundation_model.cli.lightning_cli import load_fit_config
    from foundation_model.workflows.bench_model import fit_predict_fold
    from foundation_model.workflows.finetune_recipe import FinetuneRecipe
    from foundation_model.workflows.inner_folds import add_inner_arguments, load_inner_data

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_inner_arguments(p, "matbench_steels")
    args = p.parse_args(argv)
    data = load_inner_data(args.task, args.pretrained, args.data_dir, "recipe_inner_split")
    base, x, y = data.base, data.x, data.y
    ids = list(data.train_ids)  # training ids of fold 0 only
    np.random.default_rng(123).shuffle(ids)
    k = len(ids) // 5
    inner_test, inner_train = ids[:k], ids[k:]
    cfgs = FinetuneRecipe().configs(
        load_fit_config(args.recipe), base, "t", "regression", int(len(inner_train) * 0.9)
    )
    uniform = copy.deepcopy(cfgs["full"])
    uniform["model"]["init_args"]["component_lr"] = {"encoder": 1e-3, "heads": 1e-3}
    y_test = y.loc[inner_test].to_numpy()

    def run(name: str, cfg: dict) -> None:
        pred = fit_predict_fold(cfg, x, y, inner_train, inner_test, 0)
        print(f"{args.task} {name}: inner-test MAE {np.abs(pred.values - y_test).mean():.4f}")

    run("scratch", cfgs["scratch"])
    run("full, encoder lr 1e-4", cfgs["full"])
    run("full, encoder lr 1e-3", uniform)
    copied = ft.scaler_prefixes
    ft.scaler_prefixes = lambda c: [] if c == "encoder" else copied(c)  # task-fitted scaler
    try:
        run("full, task scaler, encoder lr 1e-4", cfgs["full"])
        run("full, task scaler, encoder lr 1e-3", uniform)
    finally:
        ft.scaler_prefixes = copied
    return 0


if __name__ == "__main__":
    sys.exit(main())
