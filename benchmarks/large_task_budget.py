"""Does the reduced budget of large tasks cost the networks their place? Inner fold only.

Until 2026-12-07 the recipe trained tasks of 50k+ training rows for 8 epochs
(``FinetuneRecipe.large_max_epochs``, a reduced budget marked in the reports) instead of
the ~4,000 optimizer steps of every other task, and on mp_gap and mp_is_metal the random
forest on the same descriptors beat both networks on every official fold. This study asked
whether the budget is the reason (it is; the recipe has no reduced budget since):
one inner fold of fold 0's training ids (KFold, seed 7; the official test ids are never
read), the scratch network and the pretrained encoder fine-tuned in mode ``full_uniform``,
each trained with every budget in ``--epochs`` (default: the reduced 8 epochs and the
epochs the unreduced rule gives this many rows; patience by the recipe's rule, a sixth of
the epochs and at least 5), one seed, two at a time with ``--workers 2``; the forest on
the same descriptors (``--rf-trees``, as the reduced budget's 100) on the same rows as the
reference. Finished entries are kept in ``<out>/large_task_budget_<task>.partial.json`` and
read back by the same command, as are those of a finished report with the same settings (so
adding a budget to ``--epochs`` trains only the new one). Results:
``<out>/large_task_budget_<task>.{json,md,png}``.

How it is read (set before the first run): if the fine-tuned network at the unreduced
budget closes at least half of the gap between its 8-epoch score and the forest's, the
budget is a main reason and rerunning the large tasks at the full budget is worth its cost
(about three times the networks' time); if it closes less, the budget is not the reason.

    uv run python benchmarks/large_task_budget.py --task matbench_mp_gap --workers 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

NETWORKS = ("scratch", "full_uniform")
STEM = "large_task_budget"
REDUCED_EPOCHS = 8  # the large tasks' budget until 2026-12-07 (FinetuneRecipe.large_max_epochs)


def budgets(args: argparse.Namespace, n_train: int) -> list[int]:
    """``--epochs``, or the reduced budget and the unreduced rule's epochs for ``n_train``."""
    from foundation_model.workflows.finetune_recipe import FinetuneRecipe

    if args.epochs:
        return sorted(set(args.epochs))
    full = FinetuneRecipe(large_max_epochs=None).sizes(n_train)["max_epochs"]
    return sorted({REDUCED_EPOCHS, full})


def settings_key(args: argparse.Namespace) -> dict:
    """What a partial file or an earlier report must match for its entries to be reused."""
    return {
        "task": args.task,
        "pretrained": str(args.pretrained),
        "recipe": str(args.recipe),
        "inner_fold": args.inner_fold,
        "splits": args.splits,
        "rf_trees": args.rf_trees,
        "seed": args.seed,
    }


def read_done(paths: list[Path], key: dict) -> dict:
    """Finished entries of earlier runs with the same settings: the first of ``paths`` (a
    partial file, then a finished report) that exists and matches ``key``; else none."""
    for path in paths:
        if path.exists():
            saved = json.loads(path.read_text())
            if saved.get("key", {k: saved.get(k) for k in key}) == key:
                return dict(saved.get("entries", {}))
    return {}


def network_calls(data, fold, recipe_cfg: dict, epochs: list[int], seed: int, done: dict) -> list:
    """``(name, FitCall)`` for every network and budget not in ``done``: the recipe's
    configs with the budget as the large-task epochs (patience by the recipe's rule)."""
    from foundation_model.workflows.finetune_recipe import FinetuneRecipe
    from foundation_model.workflows.fit_pool import FitCall

    kind = data.task_type
    mass = FinetuneRecipe().point_mass(data.y.loc[fold.train]) if kind == "regression" else None
    todo = []
    for e in epochs:
        recipe = FinetuneRecipe(large_max_epochs=e, large_rows=0)  # every size gets e epochs
        cfgs = recipe.configs(recipe_cfg, data.base, "t", kind, fold.n_train, mass)
        for net in NETWORKS:
            if f"{net}@{e}" not in done:
                call = FitCall(cfgs[net], data.x, data.y, fold.train, fold.test, seed)
                todo.append((f"{net}@{e}", call))
    return todo


def run(args: argparse.Namespace) -> dict:
    """Train every network at every budget, fit the forest; return the study's JSON dict."""
    from foundation_model.cli.lightning_cli import load_fit_config
    from foundation_model.utils.atomic import write_json
    from foundation_model.workflows.fit_pool import FitPool
    from foundation_model.workflows.inner_folds import (
        inner_folds,
        load_inner_data,
        prediction_scores,
        rf_same_features_score,
    )

    start = time.perf_counter()
    data = load_inner_data(args.task, args.pretrained, args.data_dir, STEM, classification=True)
    folds = list(inner_folds(data.train_ids, data.y, args.splits))
    if not 0 <= args.inner_fold < len(folds):
        raise SystemExit(f"{STEM}: --inner-fold must be in 0..{len(folds) - 1}.")
    fold = folds[args.inner_fold]
    epochs = budgets(args, fold.n_train)
    key = settings_key(args)
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"{STEM}_{args.task.removeprefix('matbench_')}"
    partial = args.out / f"{name}.partial.json"
    entries = read_done([partial, args.out / f"{name}.json"], key)
    kind = data.task_type
    todo = network_calls(data, fold, load_fit_config(args.recipe), epochs, args.seed, entries)
    if todo:
        print(f"{STEM}: training {len(todo)} networks on {fold.n_train} rows", flush=True)
        with FitPool(args.workers) as pool:
            for (entry, _), res in zip(todo, pool.run([c for _, c in todo]), strict=True):
                score, _ = prediction_scores(kind, fold.y_test, res.prediction)
                net, budget = entry.split("@")
                entries[entry] = {
                    "network": net,
                    "budget_epochs": int(budget),
                    "epochs_run": int(res.prediction.epochs or 0),
                    "score": score,
                    "seconds": res.seconds,
                }
        write_json({"key": key, "entries": entries}, partial)
    if "rf_same_features" not in entries:
        t0 = time.perf_counter()
        score = rf_same_features_score(
            data.x, data.y, fold.train, fold.test, kind, args.rf_trees, args.workers
        )
        entries["rf_same_features"] = {"score": score, "seconds": time.perf_counter() - t0}
        write_json({"key": key, "entries": entries}, partial)
    result = {
        **key,
        "epochs": epochs,
        "task_type": kind,
        "metric": "roc_auc" if kind == "classification" else "mae",
        "n_train": fold.n_train,
        "n_test": len(fold.test),
        "protocol": f"inner fold {args.inner_fold} of KFold({args.splits}, seed 7) over fold "
        "0's training ids; official test ids never read",
        "entries": {
            k: v for k, v in entries.items() if "network" not in v or v["budget_epochs"] in epochs
        },
        "seconds": time.perf_counter() - start,
    }
    partial.unlink(missing_ok=True)
    return result


def markdown(result: dict) -> str:
    """One row per network and budget, the forest below them."""
    metric = "ROC-AUC" if result["metric"] == "roc_auc" else "MAE"
    rf = result["entries"]["rf_same_features"]
    lines = [
        f"# Epoch budget on {result['task']}, one inner fold",
        "",
        f"{result['protocol']}; {result['n_train']} training rows after the networks' "
        f"validation part, {result['n_test']} scored rows; one seed ({result['seed']}). "
        f"Wall time {result['seconds']:.0f} s.",
        "",
        f"| network | epoch budget | epochs run | {metric} | seconds |",
        "|---|---|---|---|---|",
    ]
    nets = [v for k, v in result["entries"].items() if k != "rf_same_features"]
    for r in sorted(nets, key=lambda r: (r["network"], r["budget_epochs"])):
        lines.append(
            f"| {r['network']} | {r['budget_epochs']} | {r['epochs_run']} | {r['score']:.4f} "
            f"| {r['seconds']:.0f} |"
        )
    lines.append(
        f"| RF on the same descriptors ({result['rf_trees']} trees) | – | – | "
        f"{rf['score']:.4f} | {rf['seconds']:.0f} |"
    )
    return "\n".join([*lines, ""])


def plot(result: dict, path: Path) -> None:
    """Score against the epoch budget per network, the forest as a horizontal line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for net in NETWORKS:
        rows = sorted(
            (v for v in result["entries"].values() if v.get("network") == net),
            key=lambda r: r["budget_epochs"],
        )
        ax.plot([r["budget_epochs"] for r in rows], [r["score"] for r in rows], "o-", label=net)
    ax.axhline(
        result["entries"]["rf_same_features"]["score"],
        color="k",
        ls="--",
        label="RF, same descriptors",
    )
    ax.set_xlabel("epoch budget")
    ax.set_ylabel("ROC-AUC" if result["metric"] == "roc_auc" else "MAE")
    ax.set_title(f"{result['task']}: inner fold {result['inner_fold']}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Run and write the JSON, Markdown and PNG reports."""
    from foundation_model.workflows.inner_folds import add_inner_arguments, write_report

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_inner_arguments(p, "matbench_mp_gap")
    p.add_argument(
        "--epochs",
        type=int,
        nargs="+",
        help="epoch budgets (default: the reduced one and the unreduced rule's)",
    )
    p.add_argument("--inner-fold", type=int, default=0)
    p.add_argument("--splits", type=int, default=5, help="inner folds the one is taken from")
    p.add_argument("--rf-trees", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args(argv)
    result = run(args)
    write_report(result, markdown(result), args.out, STEM)
    plot(result, args.out / f"{STEM}_{result['task'].removeprefix('matbench_')}.png")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
