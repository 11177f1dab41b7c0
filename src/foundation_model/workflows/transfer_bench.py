"""Transfer on Matbench: the pretrained encoder fine-tuned vs the same network from scratch.

Per official fold, in one run and on the same rows:

* ``model_scratch`` — the recipe's network (the pretrained architecture) from a random start;
* ``model_pretrained`` — the pretrained encoder fine-tuned; the mode (full / full_uniform /
  full_task / full_uniform_task, see :mod:`foundation_model.workflows.finetune_recipe`) is
  the one with the lowest inner-validation error on the fold's training ids;
* ``rf_scm_magpie`` — the leaderboard's RF on Magpie descriptors;
* ``rf_same_features`` — the same RF on the model's own descriptors (the fair control);
* ``dummy`` — train mean / majority class.

Classification labels: the two networks and ``rf_same_features`` label ``p >= pi`` (``pi``:
the fold's training positive rate, the rule for label-based ROC-AUC);
``rf_scm_magpie`` keeps the leaderboard's ``p >= 0.5``.

Writes ``<out>/<task>.json`` (each entry with ``mean``, ``std``, ``per_fold``, ``folds``),
``<task>.md`` and ``<task>.png``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from foundation_model.data.matbench import MatbenchTask
from foundation_model.workflows.finetune_recipe import FinetuneRecipe, PretrainedBase, pick_mode
from foundation_model.workflows.fit_pool import FitCall, FitPool
from foundation_model.workflows.fold_store import FoldRecord, file_sha256
from foundation_model.workflows.rf_baseline import FoldPrediction

RECIPE_CONFIG = "finetune_from_base.yaml"
ENTRIES = ("model_pretrained", "model_scratch", "rf_scm_magpie", "rf_same_features", "dummy")


def transfer_fold(
    configs: dict[str, dict],
    x: pd.DataFrame,
    y: pd.Series,
    train: list[str],
    test: list[str],
    seed: int,
    opts: Any,
    pool: FitPool | None = None,
    recipe: FinetuneRecipe | None = None,
) -> tuple[FoldPrediction, FoldPrediction, dict[str, Any]]:
    """Train scratch and every fine-tuning mode on one fold; combine them by the recipe.

    With ``recipe.combine == "all"`` (the default recipe's) every mode trains
    ``ceil(opts.seeds / modes)`` networks and the fine-tuned prediction is the mean of all
    of them; scratch gets as many networks (:meth:`FinetuneRecipe.members`). With ``"pick"``
    the mode with the lowest inner-validation score of its first network is kept, and with
    ``opts.seeds > 1`` the scratch network and that mode are seed ensembles of that many
    networks.
    ``pool`` trains the networks of each round side by side (default: one after the other);
    the modes are queued before the scratch network, so ``seconds_finetune_all_modes`` is
    the wall time until the last mode's first network finished. ``network_seconds`` sums the
    training time of every network of each entry (every candidate mode's for the
    fine-tuned one) and ``networks_trained`` counts them.

    Returns:
        ``(scratch, pretrained, info)``; ``info`` has the chosen mode (``all`` when none is
        chosen), each mode's inner-validation score and the seconds spent.
    """
    from foundation_model.workflows.bench_model import seed_members

    pool = pool or FitPool(1)
    recipe = recipe or FinetuneRecipe()
    modes = [m for m in configs if m != "scratch"]

    def calls(name: str, members: range) -> list[FitCall]:
        base = FitCall(configs[name], x, y, train, test, seed, opts.max_epochs, opts.val_fraction)
        return seed_members(base, members)

    first_round = pool.run([c for m in [*modes, "scratch"] for c in calls(m, range(1))])
    *tuned_first, scratch_first = first_round
    candidates = {m: r.prediction for m, r in zip(modes, tuned_first, strict=True)}
    scores = {m: p.val_score for m, p in candidates.items()}
    chosen = pick_mode(scores) if recipe.combine == "pick" else "all"
    if set(modes) != set(recipe.modes):
        raise ValueError(f"transfer_fold: configs for modes {modes}, recipe {recipe.modes}.")
    n = recipe.members(opts.seeds)
    info = {
        "mode": chosen,
        "val_task_error": scores,
        "val_task_error_scratch": scratch_first.prediction.val_score,
        "seconds_scratch": scratch_first.seconds,
        "seconds_finetune_all_modes": max(r.finished_at for r in tuned_first),
        "workers": pool.workers,
        "epochs_first_network": {
            **{m: r.prediction.epochs for m, r in zip(modes, tuned_first, strict=True)},
            "scratch": scratch_first.prediction.epochs,
        },
    }
    if chosen == "all":  # every mode the same number of seeds
        more = range(1, n // len(modes))
        tuned_calls = [c for m in modes for c in calls(m, more)]
    else:
        tuned_calls = calls(chosen, range(1, n))
    second = pool.run(calls("scratch", range(1, n)) + tuned_calls)
    scratch = FoldPrediction.mean_of(
        [scratch_first.prediction, *(r.prediction for r in second[: n - 1])]
    )
    first = list(candidates.values()) if chosen == "all" else [candidates[chosen]]
    tuned = FoldPrediction.mean_of([*first, *(r.prediction for r in second[n - 1 :])])
    info["seeds"] = opts.seeds
    info["members"] = n
    info["seconds_extra_seeds"] = max((r.finished_at for r in second), default=0.0)
    # what each entry cost: every network it trained, candidates not kept included
    trained = {
        "model_pretrained": [*tuned_first, *second[n - 1 :]],
        "model_scratch": [scratch_first, *second[: n - 1]],
    }
    info["network_seconds"] = {k: sum(r.seconds for r in v) for k, v in trained.items()}
    info["networks_trained"] = {k: len(v) for k, v in trained.items()}
    return scratch, tuned, info


def run_transfer(opts: Any, start: float) -> dict:
    """The transfer comparison of ``opts.task`` (see the module docstring).

    Args:
        opts: :class:`~foundation_model.workflows.matbench_bench.BenchOptions` with
            ``pretrained`` set.
        start: ``time.perf_counter()`` at the start of the run.
    """
    from tqdm.auto import tqdm

    from foundation_model.workflows.bench_report import holdout_share, summarize
    from foundation_model.workflows.matbench_bench import (
        _load_task,
        add_fold,
        config_dir,
        fold_store,
        load_config,
        task_features,
        write_outputs,
    )

    base = PretrainedBase.read(opts.pretrained)  # a bad checkpoint fails before any work
    recipe_path = opts.config or config_dir() / RECIPE_CONFIG
    recipe_cfg = load_config(recipe_path)
    task: MatbenchTask = _load_task(opts)
    recipe = FinetuneRecipe(combine=opts.combine) if opts.combine else FinetuneRecipe()
    folds = list(range(len(task.folds))) if opts.folds is None else list(opts.folds)
    if any(not 0 <= k < len(task.folds) for k in folds):
        raise ValueError(f"--folds must be in 0..{len(task.folds) - 1}, got {folds}.")
    preset = base.preset or "magpie"
    raw_model, n_bad = task_features(task, preset, opts)
    x_model = base.align(raw_model, empty_columns_only=True)  # gaps: per-fold medians
    x_magpie = raw_model if preset == "magpie" else task_features(task, "magpie", opts)[0]
    scores: dict[str, list] = {k: [] for k in ENTRIES}
    pooled: dict[str, dict[str, list]] = {"model_pretrained": {}, "rf_scm_magpie": {}}
    fold_info: list[dict[str, Any]] = []
    failed: list[dict] = []
    sizes: dict[str, Any] = {}
    store = fold_store(
        opts,
        task,
        {
            "recipe_text": Path(recipe_path).read_text(),
            "pretrained_sha256": file_sha256(base.path),
            "preset": preset,
            "modes": list(recipe.modes),
            "combine": recipe.combine,
        },
    )
    with FitPool(opts.workers) as pool:  # worker processes start once per run
        for k in tqdm(folds, desc=f"{task.name} folds", disable=not opts.progress):
            train, test = task.folds[k]
            n_train = len(train) - max(1, int(round(opts.val_fraction * len(train))))
            sizes = recipe.sizes(n_train)
            record = store.load(k)
            if record is not None:
                if opts.progress:
                    tqdm.write(f"fold {k}: finished before, read from {store.folder}")
            else:
                record = _transfer_fold_record(
                    k, task, recipe, recipe_cfg, base, (x_model, x_magpie), n_train, opts, pool
                )
                if "error" in record.info:
                    failed.append(record.info)
                else:
                    store.save(k, record)
            add_fold(record, scores, pooled)
            if "error" not in record.info:
                fold_info.append({"fold": k, **record.info})
            if opts.progress and "error" not in record.info:
                key = "mae" if task.task_type == "regression" else "roc_auc"
                pre, scr, rfm = (record.scores[e][key] for e in ENTRIES[:3])
                tqdm.write(
                    f"fold {k}: pretrained[{record.info['mode']}] {key} {pre:.4f} "
                    f"| scratch {scr:.4f} | RF {rfm:.4f}"
                )
    metric = "mae" if task.task_type == "regression" else "roc_auc"
    result: dict[str, Any] = {
        "task": task.name,
        "metric": metric,
        "unit": task.unit,
        "task_type": task.task_type,
        "n_rows": len(task.table),
        "folds_run": folds,
        "holdout_share": holdout_share(task.folds, folds),
        "pretrained": str(base.path),
        "recipe": {
            "config": str(recipe_path),
            "sizes": sizes,
            "modes": list(recipe.modes),
            "combine": recipe.combine,
            "selection": (
                "lowest inner-validation val_task_error on each fold's training ids"
                if recipe.combine == "pick"
                else f"none: the mean of every mode's networks ({recipe.members(opts.seeds)} "
                "in all, scratch as many)"
            ),
            "point_mass_share": recipe.point_mass_share,
            "seeds": opts.seeds,
            "reduced_budget": bool(sizes.get("reduced")),
            "max_epochs_override": opts.max_epochs,
        },
        "model_preset": preset,
        "rf_estimators": opts.rf_estimators,
        "n_featurization_failures": n_bad,
        "data_source": task.source,
        **{k: task.extra[k] for k in ("protocol", "classes") if task.extra.get(k)},
        **{key: _summary(summarize(vals, metric)) for key, vals in scores.items()},
        "folds": fold_info,
        "failed_folds": failed,
        "seconds": time.perf_counter() - start,
    }
    write_outputs(result, pooled, opts.out_dir)
    return result


def _transfer_fold_record(
    k: int,
    task: MatbenchTask,
    recipe: FinetuneRecipe,
    recipe_cfg: dict,
    base: PretrainedBase,
    features: tuple[pd.DataFrame, pd.DataFrame],
    n_train: int,
    opts: Any,
    pool: FitPool,
) -> FoldRecord:
    """Every entry of fold ``k``; a failed network leaves ``info`` with the error record."""
    from foundation_model.workflows.matbench_bench import (
        _baselines,
        _score,
        failed_fold,
        fold_arrays,
    )

    x_model, x_magpie = features
    y = task.table["target"]
    train, test = task.folds[k]
    y_test = y.loc[test].to_numpy()
    seed = opts.seed + k
    rf, dummy = _baselines(x_magpie, y, train, test, task.task_type, opts, seed)
    rf_same, _ = _baselines(x_model, y, train, test, task.task_type, opts, seed, balanced=True)
    record = FoldRecord(
        {
            "rf_scm_magpie": _score(task.task_type, y_test, rf),
            "rf_same_features": _score(task.task_type, y_test, rf_same),
            "dummy": _score(task.task_type, y_test, dummy),
        },
        {"rf_scm_magpie": fold_arrays(y_test, rf)},
    )
    short = task.name.removeprefix("matbench_")
    mass = recipe.point_mass(y.loc[train]) if task.task_type == "regression" else None
    configs = recipe.configs(recipe_cfg, base, short, task.task_type, n_train, mass)
    try:
        scratch, tuned, info = transfer_fold(
            configs, x_model, y, train, test, seed, opts, pool, recipe
        )
    except Exception as err:  # a failed fold is reported, the run goes on
        record.scores |= {"model_scratch": None, "model_pretrained": None}
        record.info = failed_fold(k, err)
        return record
    record.scores["model_scratch"] = _score(task.task_type, y_test, scratch)
    record.scores["model_pretrained"] = _score(task.task_type, y_test, tuned)
    record.pooled["model_pretrained"] = fold_arrays(y_test, tuned)
    record.info = {**info, "point_mass": mass}
    return record


def _summary(s: dict[str, Any]) -> dict[str, Any]:
    """``summarize`` output plus ``folds`` (the per-fold primary scores, as the issue names it)."""
    return {**s, "folds": s["per_fold"]}
