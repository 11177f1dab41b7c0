"""Pick one fine-tuning mode, or average them all? Inner folds only, same training cost.

``fm bench --pretrained`` with ``--seeds S`` trains the recipe's four fine-tuning modes once
(seed 0), keeps the mode whose network has the lowest validation score, and trains ``S - 1``
more seeds of that mode: ``4 + S - 1`` fine-tunings, of which ``S`` are averaged. The pick
rests on one network's validation part (25 rows on steels), and on the inner folds the
picked mode scored worse than the best single mode on all three tasks studied
(``formula_bins_inner_<task>.md``). The alternative spends the same ``4 + S - 1``
fine-tunings differently for ``S = 5``: every mode with seeds 0 and 1, all eight averaged
(no pick at all).

For one Matbench task, fold 0's training ids are split into ``--splits`` inner folds
(KFold, seed 7); the official test ids are never read. On every inner fold: the four modes
with seeds 0 and 1, the picked mode (on seed 0's validation scores, as ``fm bench`` picks)
with seeds 2 .. S - 1, and the scratch network with seeds 0 .. S - 1 (member ``j`` trains
with seed ``j * 1000``, as in ``fm bench``). Entries, fixed before the run:

* ``recipe``: the picked mode's ``S``-seed ensemble (what ``fm bench`` reports now);
* ``all modes``: the mean of the eight networks of the four modes with seeds 0 and 1;
* ``scratch``: the scratch network's ``S``-seed ensemble (the control);
* for information: each mode's 2-seed ensemble, and the mode picked on the mean of its two
  networks' validation scores (its 2-seed ensemble).

Decision rule, set before any fold was run: ``all modes`` replaces the pick when it beats
``recipe`` on at least two of steels, glass and expt_gap and is at most 1 % worse on the
third. Each finished inner fold is saved to ``<out>/mode_ensemble_inner_<task>.partial.json``
and read back by the same command, so an interrupted run resumes. Results go to
``<out>/mode_ensemble_inner_<task>.{json,md}``.

    uv run python benchmarks/mode_ensemble_inner.py --task matbench_steels     # 5 inner folds
    uv run python benchmarks/mode_ensemble_inner.py --task matbench_expt_gap --splits 3
    uv run python benchmarks/mode_ensemble_inner.py --task matbench_glass --splits 3
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from foundation_model.workflows.finetune_recipe import RECIPE_MODES as MODES  # noqa: E402

PAIR = 2  # seeds per mode in the ``all modes`` entry


def entries(nets: dict, val: dict[str, list[float | None]], picked: str, seeds: int) -> dict:
    """The study's ensembles from the trained networks.

    Args:
        nets: ``(name, seed index) -> FoldPrediction`` for the modes and ``scratch``.
        val: per mode, the validation score of seeds 0 and 1.
        picked: the mode picked on seed 0's validation scores.
        seeds: ``S``.

    Returns:
        entry name -> list of member predictions.
    """
    from foundation_model.workflows.finetune_recipe import pick_mode

    out = {
        "recipe": [nets[picked, j] for j in range(seeds)],
        "all modes": [nets[m, j] for m in MODES for j in range(PAIR)],
        "scratch": [nets["scratch", j] for j in range(seeds)],
    }
    for m in MODES:
        out[f"{m}, 2 seeds"] = [nets[m, j] for j in range(PAIR)]

    def mean_val(m: str) -> float | None:
        v = [s for s in val[m] if s is not None and np.isfinite(s)]
        return float(np.mean(v)) if len(v) == PAIR else None

    picked2 = pick_mode({m: mean_val(m) for m in MODES})
    out["pick on 2-seed validation"] = [nets[picked2, j] for j in range(PAIR)]
    return out


def run_fold(args, data, fold, recipe) -> dict:
    """Train one inner fold's networks and score every entry."""
    from foundation_model.workflows.bench_model import SEED_STRIDE, fit_predict_fold
    from foundation_model.workflows.finetune_recipe import FinetuneRecipe, pick_mode
    from foundation_model.workflows.inner_folds import prediction_scores, rf_same_features_score
    from foundation_model.workflows.rf_baseline import FoldPrediction

    kind, x, y = data.task_type, data.x, data.y
    rec = FinetuneRecipe(modes=MODES)
    point_mass = rec.point_mass(y.loc[fold.train]) if kind == "regression" else None
    cfgs = rec.configs(recipe, data.base, "t", kind, fold.n_train, point_mass)
    nets: dict = {}

    def fit(name: str, j: int) -> None:
        nets[name, j] = fit_predict_fold(cfgs[name], x, y, fold.train, fold.test, j * SEED_STRIDE)

    for m in MODES:
        fit(m, 0)
    picked = pick_mode({m: nets[m, 0].val_score for m in MODES})
    for m in MODES:
        fit(m, 1)
    for j in range(PAIR, args.seeds):
        fit(picked, j)
    for j in range(args.seeds):
        fit("scratch", j)
    val = {m: [nets[m, j].val_score for j in range(PAIR)] for m in MODES}
    result: dict = {"picked": picked, "val": val, "score": {}, "proba": {}}
    for name, members in entries(nets, val, picked, args.seeds).items():
        main, proba = prediction_scores(kind, fold.y_test, FoldPrediction.mean_of(members))
        result["score"][name] = main
        if proba is not None:
            result["proba"][name] = proba
    result["score"]["rf_same_features"] = rf_same_features_score(x, y, fold.train, fold.test, kind)
    return result


def run(args: argparse.Namespace) -> dict:
    """Every inner fold (resuming from the partial file); the JSON dict of the study."""
    from foundation_model.cli.lightning_cli import load_fit_config
    from foundation_model.workflows.inner_folds import (
        PartialFolds,
        add_proba_scores,
        inner_folds,
        load_inner_data,
        study_result,
    )

    if args.seeds <= PAIR:
        raise SystemExit(f"mode_ensemble_inner: --seeds must be > {PAIR}, got {args.seeds}.")
    data = load_inner_data(
        args.task, args.pretrained, args.data_dir, "mode_ensemble_inner", classification=True
    )
    recipe = load_fit_config(args.recipe)
    key = {"seeds": args.seeds, "splits": args.splits, "recipe": str(args.recipe)}
    done = PartialFolds(args.out, "mode_ensemble_inner", args.task, key)
    for fold in inner_folds(data.train_ids, data.y, args.splits):
        if fold.index < len(done.folds):
            continue
        res = run_fold(args, data, fold, recipe)
        done.add(res)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in res["score"].items())
        print(f"inner fold {fold.index}: {shown}")
    folds = done.folds
    scores = {k: [f["score"][k] for f in folds] for k in folds[0]["score"]}
    result = study_result(args, scores, done.seconds)
    result["metric"] = "roc_auc" if data.task_type == "classification" else "mae"
    result["picked"] = [f["picked"] for f in folds]
    result["val_task_error"] = [f["val"] for f in folds]
    add_proba_scores(result, {k: [f["proba"][k] for f in folds] for k in folds[0]["proba"]})
    done.finish()
    return result


def markdown(result: dict) -> str:
    """The table of mean inner-fold scores, ``all modes`` beside ``recipe``."""
    metric = result["metric"]
    sign = 1.0 if metric == "mae" else -1.0  # > 0: all modes better
    from foundation_model.workflows.inner_folds import mean_table

    per, mean = result["mae_per_inner_fold"], result["mae_mean"]
    gain = [sign * (r - a) for r, a in zip(per["recipe"], per["all modes"], strict=True)]
    lines = [
        f"# One picked mode or all modes averaged, {result['task']}: inner folds of fold 0's "
        "training ids",
        "",
        f"{result['inner_folds']} inner folds, recipe `{result['recipe']}` on "
        f"`{result['pretrained']}`; {result['protocol']}. `recipe` is the picked mode's "
        f"{result['seeds']}-seed ensemble, `all modes` the four modes with 2 seeds each (the "
        f"same {len(MODES) + result['seeds'] - 1} fine-tunings). {result['seconds']:.0f} s. "
        f"Score: {metric}"
        + (" on hard labels, higher" if metric == "roc_auc" else ", lower")
        + " is better.",
        "",
        *mean_table(result, notes={"recipe": " (" + ", ".join(result["picked"]) + ")"}),
    ]
    lines += [
        "",
        f"`all modes` better than `recipe` on {sum(g > 0 for g in gain)} of {len(gain)} inner "
        f"folds; mean gain {np.mean(gain):+.4g} ({100 * np.mean(gain) / abs(mean['recipe']):+.2f} "
        "% of the recipe's score).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run and write the JSON and Markdown reports."""
    from foundation_model.workflows.inner_folds import study_main

    return study_main(argv, __doc__.split("\n\n")[0], "mode_ensemble_inner", 5, run, markdown)


if __name__ == "__main__":
    raise SystemExit(main())
