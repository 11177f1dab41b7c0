"""The σ map fitted once on the kept weights vs at every validation epoch: same output, time.

Usage (from the repository root)::

    uv run python benchmarks/deferred_sigma_fit.py                  # expt_gap, jdft2d, steels
    uv run python benchmarks/deferred_sigma_fit.py --tasks matbench_steels --networks scratch \\
        --out /tmp/dsf

A benchmark network (:func:`~foundation_model.workflows.bench_model.fit_predict_fold`) with
the recipe's ``sigma_distance_rows`` refreshes a bank of up to 4096 training rows at every
validation epoch, to refit a σ map of which only the kept (best) epoch's is used.
``defer_sigma=True`` fits it once, on the kept weights
(:meth:`~foundation_model.models.FlexibleMultiTaskModel.refit_sigma`). This study trains the
recipe's networks (``--networks``: the scratch control and fine-tuning modes, full recipe
budget) on inner fold 0 of official fold 0's training ids (the test ids are never read), each
with both settings in alternating order, and records the seconds of each and whether the
predictions, σ and validation arrays are identical. Ratios are per network; the report
quotes their median. Results go to ``<out>/deferred_sigma_fit.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

DEFAULT_TASKS = ("matbench_expt_gap", "matbench_jdft2d", "matbench_steels")


def identical(a: Any, b: Any) -> bool:
    """Same values, probabilities, σ, spread and validation arrays (NaN equal to NaN)."""
    for key in ("values", "proba", "std", "spread"):
        u, v = getattr(a, key), getattr(b, key)
        if (u is None) != (v is None) or (
            u is not None and not np.array_equal(u, v, equal_nan=True)
        ):
            return False
    va, vb = a.val or {}, b.val or {}
    return set(va) == set(vb) and all(np.array_equal(va[k], vb[k], equal_nan=True) for k in va)


def run(args: argparse.Namespace) -> dict:
    """Every network of every task, both settings; seconds and the identity check."""
    import torch

    from foundation_model.cli.lightning_cli import load_fit_config
    from foundation_model.workflows.bench_model import fit_predict_fold
    from foundation_model.workflows.finetune_recipe import FinetuneRecipe
    from foundation_model.workflows.inner_folds import inner_folds, load_inner_data

    recipe_cfg = load_fit_config(args.recipe)
    recipe = FinetuneRecipe()
    rows: list[dict] = []
    k = 0
    for task in args.tasks:
        data = load_inner_data(
            task, args.pretrained, args.data_dir, "deferred_sigma_fit", classification=True
        )
        fold = next(inner_folds(data.train_ids, data.y, 5))
        mass = recipe.point_mass(data.y.loc[fold.train])
        if data.task_type != "regression":
            mass = None
        cfgs = recipe.configs(recipe_cfg, data.base, "t", data.task_type, fold.n_train, mass)
        for net in args.networks:
            seconds: dict[bool, float] = {}
            preds = {}
            order = (True, False) if k % 2 == 0 else (False, True)
            k += 1
            for defer in order:
                t0 = time.perf_counter()
                preds[defer] = fit_predict_fold(
                    cfgs[net], data.x, data.y, fold.train, fold.test, 0, defer_sigma=defer
                )
                seconds[defer] = time.perf_counter() - t0
            row = {
                "task": task,
                "network": net,
                "rows_trained": fold.n_train,
                "epochs": preds[True].epochs,
                "seconds_per_epoch_refit": seconds[False],
                "seconds_deferred": seconds[True],
                "ratio_deferred": seconds[True] / seconds[False],
                "identical": identical(preds[True], preds[False]),
                "has_sigma": preds[True].std is not None,
                "order": ["deferred" if d else "per_epoch" for d in order],
            }
            rows.append(row)
            print(
                f"{task} {net}: per-epoch refit {seconds[False]:.1f} s, deferred "
                f"{seconds[True]:.1f} s ({row['ratio_deferred']:.2f}), identical "
                f"{row['identical']}",
                flush=True,
            )
    return {
        "machine": f"{platform.machine()} {platform.processor()}".strip(),
        "torch_threads": torch.get_num_threads(),
        "recipe": str(args.recipe),
        "pretrained": str(args.pretrained),
        "runs": rows,
        "median_ratio_deferred": statistics.median(r["ratio_deferred"] for r in rows),
        "all_identical": all(r["identical"] for r in rows),
    }


def markdown(result: dict) -> str:
    """The report's table."""
    lines = [
        "# The σ map fitted once vs at every validation epoch",
        "",
        "Each network of the fine-tuning recipe trained twice on inner fold 0 of official "
        "fold 0's training ids (full recipe budget, same seed), with the σ map refitted at "
        "every validation epoch (`defer_sigma=False`, what `fm fit` does) and fitted once on "
        "the kept weights (`defer_sigma=True`), in alternating order; "
        f"{result['machine']}, {result['torch_threads']} torch thread(s). "
        "Made by `benchmarks/deferred_sigma_fit.py`.",
        "",
        "| task | network | rows | epochs | per-epoch refit (s) | deferred (s) | ratio "
        "| identical output | σ |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        lines.append(
            f"| {r['task'].removeprefix('matbench_')} | {r['network']} | {r['rows_trained']} "
            f"| {r['epochs']} | {r['seconds_per_epoch_refit']:.1f} | {r['seconds_deferred']:.1f} "
            f"| {r['ratio_deferred']:.2f} | {'yes' if r['identical'] else 'NO'} "
            f"| {'yes' if r['has_sigma'] else 'none'} |"
        )
    lines += [
        "",
        f"Median ratio deferred / per-epoch: **{result['median_ratio_deferred']:.2f}**; "
        f"outputs identical on every network: {'yes' if result['all_identical'] else 'NO'}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from foundation_model.utils.atomic import write_json, write_text
    from foundation_model.workflows.inner_folds import DEFAULT_PRETRAINED, DEFAULT_RECIPE

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", nargs="+", default=list(DEFAULT_TASKS), help="Matbench tasks")
    p.add_argument(
        "--networks", nargs="+", default=["scratch", "full"], help="recipe networks to time"
    )
    p.add_argument("--pretrained", type=Path, default=DEFAULT_PRETRAINED)
    p.add_argument("--recipe", default=DEFAULT_RECIPE)
    p.add_argument("--data-dir", type=Path, default=Path("data/matbench"))
    p.add_argument("--out", type=Path, default=Path("results/bench"))
    args = p.parse_args(argv)
    result = run(args)
    text = markdown(result)
    write_json(result, args.out / "deferred_sigma_fit.json")
    write_text(text, args.out / "deferred_sigma_fit.md")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
