"""The point-mass gate vs none, on training ids only (how the recipe's rule was judged).

For one Matbench regression task with a point mass (expt_gap: metals at 0 eV), fold 0's
training ids are split into 5 inner folds (KFold, seed 7); the official test ids are never
read. On each inner fold given by ``--inner-folds`` it trains the recipe's scratch network
and the pretrained encoder fine-tuned in mode ``full_uniform``, each without and with
``point_mass`` (the value found by ``FinetuneRecipe.point_mass`` on the inner-training
rows), one seed, and reports the MAE overall, on the rows at the point mass and on the
others. Results go to ``<out>/point_mass_inner_<task>.{json,md}``.

    uv run python benchmarks/point_mass_inner.py --task matbench_expt_gap --inner-folds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

NETWORKS = ("scratch", "full_uniform")


def run(args: argparse.Namespace) -> dict:
    """Train every network with and without the gate on the inner folds; return the MAEs."""
    from sklearn.model_selection import KFold

    from foundation_model.cli.lightning_cli import load_fit_config
    from foundation_model.workflows.bench_model import fit_predict_fold
    from foundation_model.workflows.finetune_recipe import FinetuneRecipe
    from foundation_model.workflows.inner_folds import load_inner_data

    data = load_inner_data(args.task, args.pretrained, args.data_dir, "point_mass_inner")
    base, x, y, ids = data.base, data.x, data.y, data.train_ids
    recipe_cfg = load_fit_config(args.recipe)
    recipe = FinetuneRecipe()
    rows: list[dict] = []
    start = time.perf_counter()
    for i, (tr, te) in enumerate(KFold(5, shuffle=True, random_state=7).split(ids)):
        if i not in args.inner_folds:
            continue
        train, test = list(ids[tr]), list(ids[te])
        y_test = y.loc[test].to_numpy()
        mass = recipe.point_mass(y.loc[train])
        if mass is None:
            raise SystemExit(f"point_mass_inner: {args.task} has no point mass by the rule.")
        at = y_test == mass
        n_train = int(len(train) * 0.9)
        for gate in (False, True):
            cfgs = recipe.configs(
                recipe_cfg, base, "t", "regression", n_train, mass if gate else None
            )
            for net in NETWORKS:
                pred = fit_predict_fold(cfgs[net], x, y, train, test, 0).values
                err = np.abs(pred - y_test)
                rows.append(
                    {
                        "inner_fold": i,
                        "network": net,
                        "point_mass_gate": gate,
                        "mae": float(err.mean()),
                        "mae_at_point_mass": float(err[at].mean()),
                        "mae_elsewhere": float(err[~at].mean()),
                        "share_at_point_mass": float(at.mean()),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    summary = {}
    for net in NETWORKS:
        for gate in (False, True):
            sel = [r["mae"] for r in rows if r["network"] == net and r["point_mass_gate"] == gate]
            summary[f"{net}_{'gate' if gate else 'none'}"] = float(np.mean(sel))
    return {
        "task": args.task,
        "inner_folds": args.inner_folds,
        "protocol": "KFold(5, seed 7) over fold 0's training ids; official test ids never read",
        "pretrained": str(args.pretrained),
        "recipe": str(args.recipe),
        "rows": rows,
        "mean_mae": summary,
        "seconds": time.perf_counter() - start,
    }


def markdown(result: dict) -> str:
    """Per inner fold and network: MAE without and with the gate."""
    lines = [
        f"# Point-mass gate on {result['task']}, inner folds of fold 0's training ids",
        "",
        f"Inner folds {result['inner_folds']}; {result['protocol']}; one seed. "
        f"{result['seconds']:.0f} s.",
        "",
        "| inner fold | network | gate | MAE | MAE at the point mass | MAE elsewhere |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['inner_fold']} | {r['network']} | {'yes' if r['point_mass_gate'] else 'no'} "
            f"| {r['mae']:.4g} | {r['mae_at_point_mass']:.4g} | {r['mae_elsewhere']:.4g} |"
        )
    lines += ["", "Mean MAE over the inner folds:", ""]
    lines += [f"- {k}: {v:.4g}" for k, v in result["mean_mae"].items()]
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    """Run and write the JSON and Markdown reports."""
    from foundation_model.workflows.inner_folds import add_inner_arguments, write_report

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_inner_arguments(p, "matbench_expt_gap")
    p.add_argument("--inner-folds", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args(argv)
    result = run(args)
    write_report(result, markdown(result), args.out, "point_mass_inner")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
