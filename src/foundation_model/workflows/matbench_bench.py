"""The Matbench v0.1 protocol for a configured model, with the RF-SCM/Magpie baseline.

For each official fold: train on the fold's training ids only (an inner validation part is
held out of them for early stopping), predict the fold's test ids, score. The RF baseline
and a Dummy are trained on the same folds in the same run. Results go to
``<out>/<task>.json``, ``<out>/<task>.md`` and ``<out>/<task>.png``.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from foundation_model.data.matbench import (
    MatbenchTask,
    canonical_name,
    load_matbench_task,
    read_matbench_task,
)
from foundation_model.features.presets import COMPOSITION_PRESETS
from foundation_model.workflows.bench_report import (
    classification_scores,
    holdout_share,
    markdown_report,
    paired_comparison,
    plot_results,
    regression_scores,
    summarize,
)
from foundation_model.workflows.fold_store import FoldRecord, FoldStore, source_sha256
from foundation_model.workflows.rf_baseline import FoldPrediction, dummy_fold, rf_fold

CONFIG_DIR = Path("samples/generated_configs")


def config_dir() -> Path:
    """:data:`CONFIG_DIR` of the working folder, else of this source checkout, so that the
    default configs are found when ``fm bench`` runs from another folder."""
    if CONFIG_DIR.is_dir():
        return CONFIG_DIR
    checkout = Path(__file__).resolve().parents[3] / CONFIG_DIR
    return checkout if checkout.is_dir() else CONFIG_DIR


@dataclass
class BenchOptions:
    """Options of one benchmark run.

    Args:
        task: Matbench task (``steels`` or ``matbench_steels``).
        out_dir: where the JSON/Markdown/PNG go.
        config: model YAML (default ``samples/generated_configs/matbench_<task>.yaml``).
        folds: folds to run (default all 5).
        max_epochs: override of ``trainer.max_epochs``.
        preset: model descriptor preset (default: from the config's ``formula_desc_source``
            name ``<task>_<preset>.parquet``, else ``magpie``).
        data_dir: folder of ``fm data matbench`` output (built here when missing).
        wheel_cache: wheel download cache.
        feature_cache: featurization cache.
        rf_estimators: trees of the RF baseline.
        seed: base seed (fold ``k`` uses ``seed + k``).
        n_jobs: featurization processes.
        val_fraction: share of each fold's training ids held out for validation.
        progress: show tqdm bars.
        seeds: networks per model entry; with more than one, the network is trained with
            seeds ``s, s + 1000, ...`` (each also draws its own validation rows) and the
            predictions are averaged (a seed ensemble). With ``pretrained``, scratch and the
            chosen fine-tuning mode get the same number. The RFs are unchanged.
        pretrained: a pretrained checkpoint: run the transfer comparison (scratch vs
            fine-tuned with :class:`~foundation_model.workflows.finetune_recipe.FinetuneRecipe`,
            RF on Magpie and RF on the model's own descriptors); ``config`` is then the
            recipe YAML (default ``samples/generated_configs/finetune_from_base.yaml``).
        resume: read the folds a run with the same settings finished before (from
            ``<out_dir>/<task>.folds/``) instead of training them again.
        workers: processes training a fold's networks side by side (scratch, the
            fine-tuning modes, seed-ensemble members), each with an equal share of the torch
            threads (:class:`~foundation_model.workflows.fit_pool.FitPool`). A network's
            scores depend on its thread count, not on the process that trains it.
        combine: with ``pretrained``, how the recipe's modes make the fine-tuned prediction
            (:attr:`~foundation_model.workflows.finetune_recipe.FinetuneRecipe.combine`:
            ``pick`` or ``all``); None: the recipe's default.
        custom_task: a task built from the user's own table
            (:func:`~foundation_model.data.table_task.table_task`) instead of the Matbench
            task ``task``; a model ``config`` or ``pretrained`` is then required.
    """

    task: str
    out_dir: Path = Path("results/bench")
    config: Path | None = None
    folds: list[int] | None = None
    max_epochs: int | None = None
    preset: str | None = None
    data_dir: Path = Path("data/matbench")
    wheel_cache: Path = Path("data/cache/wheels")
    feature_cache: Path = Path("data/cache/features")
    rf_estimators: int = 500
    seed: int = 0
    n_jobs: int = 1
    val_fraction: float = 0.1
    progress: bool = True
    seeds: int = 1
    pretrained: Path | None = None
    resume: bool = True
    workers: int = 1
    custom_task: MatbenchTask | None = None
    combine: str | None = None

    def __post_init__(self) -> None:
        for flag, value in (
            ("--seeds", self.seeds),
            ("--max-epochs", 1 if self.max_epochs is None else self.max_epochs),
            ("--rf-estimators", self.rf_estimators),
            ("--n-jobs", self.n_jobs),
            ("--workers", self.workers),
        ):
            if value < 1:
                raise ValueError(f"{flag} must be at least 1, got {value}.")
        from foundation_model.workflows.finetune_recipe import COMBINE

        if self.combine is not None and self.combine not in COMBINE:
            raise ValueError(
                f"--combine must be one of {', '.join(COMBINE)}, got {self.combine!r}."
            )

    def check_folders(self) -> None:
        """Create the folders the run writes to, before any work: one that cannot be made
        (a file in the way, no permission) is a one-line error, not a traceback after
        training."""
        from foundation_model.utils.atomic import writable_folder

        for flag, folder in (
            ("--out", self.out_dir),
            ("--data-dir", self.data_dir),
            ("--feature-cache", self.feature_cache),
        ):
            writable_folder(Path(folder), flag)


def load_config(path: Path) -> dict:
    """Read a model YAML with the parser of ``fm fit`` (same schema, same errors).

    Args:
        path: YAML file.
    """
    from foundation_model.cli.lightning_cli import load_fit_config

    if not path.exists():
        raise FileNotFoundError(
            f"Config {path} not found; pass --config or create it (see samples/generated_configs)."
        )
    return load_fit_config(path)


def _preset(opts: BenchOptions, cfg: dict) -> str:
    if opts.preset:
        return opts.preset
    source = str(((cfg.get("data") or {}).get("init_args") or {}).get("formula_desc_source") or "")
    match = re.search(r"_([a-z]+)\.(parquet|csv)$", source)
    return match.group(1) if match and match.group(1) in COMPOSITION_PRESETS else "magpie"


def task_features(task: MatbenchTask, preset: str, opts: BenchOptions) -> tuple[pd.DataFrame, int]:
    """Raw (not imputed) descriptors of every row, cached; also writes the imputed table
    ``<data_dir>/features/<task>_<preset>.parquet`` that the ``fm fit`` config points to.

    Args:
        task: the Matbench task.
        preset: composition preset.
        opts: run options.
    """
    from foundation_model.features.imputation import MedianImputer
    from foundation_model.features.pipeline import featurize_table
    from foundation_model.features.table_io import write_table

    df = task.table.reset_index()
    res = featurize_table(
        df,
        "formula",
        preset,
        id_column="id",
        cache_dir=opts.feature_cache,
        n_jobs=opts.n_jobs,
        impute=False,
        progress=opts.progress,
    )
    raw = res.features.reindex(task.table.index)  # failed rows come back as all-NaN rows
    table = opts.data_dir / "features" / f"{task.name}_{preset}.parquet"
    if not table.exists():
        write_table(MedianImputer().fit_transform(raw), table)
    return raw, len(res.errors)


def _score(task_type: str, y: np.ndarray, p: FoldPrediction) -> dict[str, float]:
    if task_type == "regression":
        scores = regression_scores(y, p.values)
        if p.std is not None:
            from foundation_model.models.calibration import calibration_metrics

            cal = calibration_metrics(y, p.values, p.std)
            scores |= {k: v for k, v in cal.items() if k != "n"}
        return scores
    return classification_scores(y.astype(int), p.values.astype(int), p.proba)


def _baselines(
    x: pd.DataFrame,
    y: pd.Series,
    train: list[str],
    test: list[str],
    task_type: str,
    opts: BenchOptions,
    seed: int,
    balanced: bool = False,
) -> tuple[FoldPrediction, FoldPrediction]:
    """The RF (``balanced``: labelled by the model's rule) and the Dummy of one fold."""
    from foundation_model.features.imputation import MedianImputer

    imp = MedianImputer().fit(x.loc[train])
    rf = rf_fold(
        imp.transform(x.loc[train]).to_numpy(),
        y.loc[train].to_numpy(),
        imp.transform(x.loc[test]).to_numpy(),
        task_type,
        opts.rf_estimators,
        seed,
        balanced=balanced,
    )
    return rf, dummy_fold(y.loc[train].to_numpy(), len(test), task_type)


def _load_task(opts: BenchOptions) -> MatbenchTask:
    if opts.custom_task is not None:
        if opts.config is None and opts.pretrained is None:
            raise ValueError(
                "A benchmark on your own table needs --pretrained CKPT (the transfer "
                "comparison) or --config model.yaml (one model against the RF)."
            )
        return opts.custom_task
    name = canonical_name(opts.task)
    task = read_matbench_task(opts.data_dir, name)
    if task is None:
        from foundation_model.data.matbench import write_matbench

        write_matbench(opts.data_dir, [name], opts.wheel_cache)
        task = read_matbench_task(opts.data_dir, name)
    return task if task is not None else load_matbench_task(name, opts.wheel_cache)


def run_matbench(opts: BenchOptions) -> dict:
    """Run the protocol and write ``<task>.json``, ``<task>.md`` and ``<task>.png``.

    Args:
        opts: run options.
    """
    from tqdm.auto import tqdm

    from foundation_model.features.table_io import write_json, write_text
    from foundation_model.workflows.bench_model import fit_seed_ensemble
    from foundation_model.workflows.fit_pool import FitPool

    start = time.perf_counter()
    opts.check_folders()
    if opts.pretrained is not None:
        from foundation_model.workflows.transfer_bench import run_transfer

        return run_transfer(opts, start)
    task = _load_task(opts)
    config_path = opts.config or config_dir() / f"{task.name}.yaml"
    cfg = load_config(config_path)
    folds = list(range(len(task.folds))) if opts.folds is None else list(opts.folds)
    if any(not 0 <= k < len(task.folds) for k in folds):
        raise ValueError(f"--folds must be in 0..{len(task.folds) - 1}, got {folds}.")
    model_preset = _preset(opts, cfg)
    x_model, n_bad = task_features(task, model_preset, opts)
    x_magpie = x_model if model_preset == "magpie" else task_features(task, "magpie", opts)[0]
    y = task.table["target"]
    scores: dict[str, list] = {"model": [], "rf_scm_magpie": [], "dummy": []}
    pooled: dict[str, dict[str, list]] = {"model": {}, "rf_scm_magpie": {}}
    failed: list[dict] = []
    store = fold_store(opts, task, {"config_text": config_path.read_text(), "preset": model_preset})
    with FitPool(opts.workers) as pool:  # worker processes start once per run
        for k in tqdm(folds, desc=f"{task.name} folds", disable=not opts.progress):
            record = store.load(k)
            if record is None:
                train, test = task.folds[k]
                y_test = y.loc[test].to_numpy()
                rf, dummy = _baselines(
                    x_magpie, y, train, test, task.task_type, opts, opts.seed + k
                )
                record = FoldRecord(
                    {
                        "rf_scm_magpie": _score(task.task_type, y_test, rf),
                        "dummy": _score(task.task_type, y_test, dummy),
                    },
                    {"rf_scm_magpie": fold_arrays(y_test, rf)},
                )
                try:
                    pred = fit_seed_ensemble(
                        cfg,
                        x_model,
                        y,
                        train,
                        test,
                        opts.seed + k,
                        opts.seeds,
                        opts.max_epochs,
                        opts.val_fraction,
                        pool=pool,
                    )
                except Exception as err:  # a failed fold is reported, the run goes on
                    failed.append(failed_fold(k, err))
                    record.scores["model"] = None
                else:
                    record.scores["model"] = _score(task.task_type, y_test, pred)
                    record.pooled["model"] = fold_arrays(y_test, pred, fold=k)
                    store.save(k, record)
            elif opts.progress:
                tqdm.write(f"fold {k}: finished before, read from {store.folder}")
            add_fold(record, scores, pooled)
            if opts.progress and record.scores.get("model"):
                m, r = record.scores["model"], record.scores["rf_scm_magpie"]
                key = "mae" if task.task_type == "regression" else "roc_auc"
                tqdm.write(f"fold {k}: model {key} {m[key]:.4f} | RF {r[key]:.4f}")
    metric = "mae" if task.task_type == "regression" else "roc_auc"
    result = {
        "task": task.name,
        "metric": metric,
        "unit": task.unit,
        "task_type": task.task_type,
        "n_rows": len(task.table),
        "folds_run": folds,
        "holdout_share": holdout_share(task.folds, folds),
        "config": str(config_path),
        "seeds": opts.seeds,
        "max_epochs_override": opts.max_epochs,
        "rf_estimators": opts.rf_estimators,
        "model_preset": model_preset,
        "n_featurization_failures": n_bad,
        "data_source": task.source,
        **{k: task.extra[k] for k in ("protocol", "classes") if task.extra.get(k)},
        **{key: summarize(vals, metric) for key, vals in scores.items()},
        "failed_folds": failed,
        "seconds": time.perf_counter() - start,
    }
    arrays = write_outputs(result, pooled, opts.out_dir)
    model = arrays.get("model", {})
    if "std" in model:
        _calibration_outputs(result, model, opts.out_dir / f"{task.name}_calibration.png")
        if write_uncertainty_arrays(model, opts.out_dir / f"{task.name}_uncertainty.npz"):
            result["calibration"]["arrays"] = f"{task.name}_uncertainty.npz"
        write_json(result, opts.out_dir / f"{task.name}.json")
        write_text(markdown_report(result), opts.out_dir / f"{task.name}.md")
    return result


def _calibration_outputs(result: dict, model: dict[str, np.ndarray], path: Path) -> None:
    """Pooled test-fold calibration of the model's σ (recalibrated on validation rows only)."""
    from foundation_model.models.calibration import calibration_metrics
    from foundation_model.plotting.calibration import calibration_plot

    result["calibration"] = {
        "pooled_test_folds": calibration_metrics(model["y"], model["values"], model["std"]),
        "plot": path.name,
        "method": "the model's sigma (ensemble spread, noise head and/or latent distance, "
        "as configured), recalibrated on each fold's inner validation rows",
    }
    calibration_plot(model["y"], model["values"], model["std"], result["task"], path)


def write_outputs(
    result: dict, pooled: dict[str, dict[str, list]], out_dir: Path
) -> dict[str, dict[str, np.ndarray]]:
    """Write ``<task>.json``, ``<task>.md`` and the pooled parity/ROC ``<task>.png``; the
    network's fold-by-fold comparison with each control is added to ``result`` as ``paired``.

    Args:
        result: the benchmark JSON dict.
        pooled: per entry, the test-fold arrays collected by :func:`_pool`.
        out_dir: destination folder.

    Returns:
        The pooled arrays, concatenated over folds.
    """
    from foundation_model.features.table_io import write_json, write_text

    out_dir.mkdir(parents=True, exist_ok=True)
    result["paired"] = paired_comparison(result)
    write_json(result, out_dir / f"{result['task']}.json")
    write_text(markdown_report(result), out_dir / f"{result['task']}.md")
    arrays = {key: {a: np.concatenate(v) for a, v in p.items()} for key, p in pooled.items() if p}
    if arrays:
        plot_results(result, arrays, out_dir / f"{result['task']}.png")
    return arrays


def failed_fold(fold: int, err: BaseException) -> dict[str, object]:
    """The JSON record of a fold whose model failed (the run goes on without it).

    Args:
        fold: fold index.
        err: the exception, raised inside an ``except`` block.
    """
    return {
        "fold": fold,
        "error": f"{type(err).__name__}: {err}",
        "traceback": traceback.format_exc(limit=3),
    }


def fold_arrays(y: np.ndarray, p: FoldPrediction, fold: int | None = None) -> dict[str, np.ndarray]:
    """The test-fold arrays of one entry that the pooled plots need; with ``fold`` also
    what a study of σ recalibration needs (``spread``, the signals, the validation rows
    ``val_*``, and the fold of every row, ``fold`` / ``val_fold``), when the prediction has
    them.

    Args:
        y: true test values.
        p: the entry's prediction.
        fold: the fold's index.
    """
    arrays = {"y": np.asarray(y), "values": np.asarray(p.values)}
    if p.proba is not None:
        arrays["proba"] = np.asarray(p.proba)
    if p.std is not None:
        arrays["std"] = np.asarray(p.std)
    if fold is not None and p.spread is not None and p.val is not None:
        arrays["spread"] = np.asarray(p.spread)
        for key, value in (p.signals or {}).items():
            arrays[key] = np.asarray(value)
        arrays["fold"] = np.full(len(arrays["y"]), fold)
        for key, value in p.val.items():
            arrays[f"val_{key}"] = np.asarray(value)
        arrays["val_fold"] = np.full(len(arrays["val_y"]), fold)
    return arrays


UNCERTAINTY_KEYS = (
    *("y", "values", "std", "spread", "fold"),
    *("val_y", "val_values", "val_spread", "val_fold"),
)
#: saved too, with their ``val_`` twins, when the run has them (see ``FoldPrediction.signals``)
SIGNAL_KEYS = ("spread_ensemble", "spread_noise", "latent_distance")


def write_uncertainty_arrays(model: dict[str, np.ndarray], path: Path) -> bool:
    """Save the pooled arrays a recalibration study reads (``benchmarks/calibration_methods.py``)
    to ``path`` (``.npz``); False (nothing written) when the model had no σ.

    Args:
        model: the model entry's pooled arrays (:func:`fold_arrays` with ``fold``).
        path: destination ``.npz``.
    """
    from foundation_model.utils.atomic import atomic_write

    if not all(k in model for k in UNCERTAINTY_KEYS):
        return False

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            keys = [*UNCERTAINTY_KEYS]
            for key in SIGNAL_KEYS:
                if key in model and f"val_{key}" in model:
                    keys += [key, f"val_{key}"]
            np.savez(fh, **{k: model[k] for k in keys})

    atomic_write(path, save)
    return True


def add_fold(
    record: FoldRecord, scores: dict[str, list], pooled: dict[str, dict[str, list]]
) -> None:
    """Append one fold's scores (every entry of ``scores``) and arrays to the run's lists.

    Args:
        record: the fold (computed now or read from the fold store).
        scores: per entry, the list of per-fold scores (``None`` for a failed fold).
        pooled: per entry, the lists of test-fold arrays.
    """
    for entry, values in scores.items():
        values.append(record.scores.get(entry))
    for entry, arrays in record.pooled.items():
        if entry in pooled:
            for name, value in arrays.items():
                pooled[entry].setdefault(name, []).append(value)


def table_sha256(table: pd.DataFrame) -> str:
    """Hash of a task's ids, formulas and targets (part of the fold-store key, so a table
    edited in place is never read back from an older run's folds)."""
    hashed = pd.util.hash_pandas_object(table, index=True).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def fold_store(opts: BenchOptions, task: MatbenchTask, settings: dict) -> FoldStore:
    """The store of this run's finished folds, keyed by everything that decides a fold.

    Args:
        opts: run options (``resume=False`` turns the store off).
        task: the task (its fold ids are part of the key).
        settings: the caller's own settings (config text, checkpoint hash, ...).
    """
    folds = json.dumps([[sorted(tr), sorted(te)] for tr, te in task.folds])
    return FoldStore(
        opts.out_dir,
        task.name,
        {
            **settings,
            "task": task.name,
            "n_rows": len(task.table),
            "folds_sha256": hashlib.sha256(folds.encode()).hexdigest(),
            "table_sha256": table_sha256(task.table),
            "seed": opts.seed,
            "seeds": opts.seeds,
            "max_epochs": opts.max_epochs,
            "val_fraction": opts.val_fraction,
            "rf_estimators": opts.rf_estimators,
            "source_sha256": source_sha256(),
        },
        enabled=opts.resume,
    )
