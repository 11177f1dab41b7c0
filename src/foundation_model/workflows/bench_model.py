"""Train a configured model on one fold and predict its test rows.

The config is read by :func:`foundation_model.cli.lightning_cli.load_fit_config`, the
parser of ``fm fit`` itself, so a config that ``fm fit`` accepts works here and one it rejects
fails the same way. Its data sources and splitter are replaced per fold. The model is built
by importing ``model.class_path`` and passing ``init_args`` plus the data-linked arguments
named by the class's ``data_links``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import inspect
import logging
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from foundation_model.workflows.fit_pool import FitCall, FitPool
from foundation_model.workflows.rf_baseline import FoldPrediction, positive_rate

_FACTORY_ARGS = ("optimizer", "lr_scheduler")  # Callable[[params], Optimizer] style arguments


def import_object(class_path: str) -> Any:
    """Import ``package.module.Name``; raises naming the bad path.

    Args:
        class_path: dotted path.
    """
    module_name, _, name = class_path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as err:
        raise ValueError(f"Cannot import {class_path!r} from the config: {err}.") from err


def instantiate(value: Any, as_factory: bool = False) -> Any:
    """Turn ``{class_path, init_args}`` dicts (recursively) into objects.

    Args:
        value: a config value.
        as_factory: return ``functools.partial(cls, **init_args)`` instead of an instance
            (for optimizer/scheduler arguments that the model calls with its parameters).
    """
    if isinstance(value, list):
        return [instantiate(v) for v in value]
    if not (isinstance(value, dict) and "class_path" in value):
        return value
    cls = import_object(value["class_path"])
    kwargs = {k: instantiate(v) for k, v in (value.get("init_args") or {}).items()}
    return functools.partial(cls, **kwargs) if as_factory else cls(**kwargs)


def build_model(model_cfg: dict, dm: Any) -> Any:
    """Build the LightningModule of ``model_cfg`` with data-linked arguments from ``dm``.

    Args:
        model_cfg: the config's ``model`` section (``class_path``, ``init_args``).
        dm: a set-up data module.
    """
    cls = import_object(
        model_cfg.get("class_path", "foundation_model.models.FlexibleMultiTaskModel")
    )
    args = dict(model_cfg.get("init_args") or {})
    kwargs = {k: instantiate(v, as_factory=k in _FACTORY_ARGS) for k, v in args.items()}
    for arg, attr in (getattr(cls, "data_links", None) or {}).items():
        kwargs[arg] = getattr(dm, attr)
    unknown = set(kwargs) - set(inspect.signature(cls.__init__).parameters)
    if unknown:
        raise ValueError(
            f"model.init_args has unknown key(s) {sorted(unknown)} for {cls.__name__}."
        )
    return cls(**kwargs)


def build_trainer(
    trainer_cfg: dict,
    workdir: Path,
    max_epochs: int | None,
    extra_callbacks: list[dict | None] | None = None,
) -> tuple[Any, bool]:
    """A quiet CPU/GPU ``Trainer`` from the config; returns it and whether it checkpoints.

    Loggers are dropped (metrics go to the benchmark JSON); a configured ``ModelCheckpoint``
    writes into ``workdir`` so that the best validation epoch is used for the test rows.

    Args:
        trainer_cfg: the config's ``trainer`` section.
        workdir: scratch folder of this fold.
        max_epochs: override of ``max_epochs``.
        extra_callbacks: the config's top-level ``model_checkpoint``/``early_stopping``
            entries (``None`` entries are skipped).
    """
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import ModelCheckpoint

    cfg = {
        k: v for k, v in trainer_cfg.items() if k not in ("logger", "callbacks", "default_root_dir")
    }
    given = [*(trainer_cfg.get("callbacks") or []), *(extra_callbacks or [])]
    callbacks = instantiate([c for c in given if c])
    has_ckpt = False
    for cb in callbacks:
        if isinstance(cb, ModelCheckpoint):
            cb.dirpath, cb.save_last, has_ckpt = str(workdir), False, True
    if max_epochs is not None:
        cfg["max_epochs"] = max_epochs
    cfg |= {"logger": False, "enable_progress_bar": False, "enable_model_summary": False}
    trainer = pl.Trainer(default_root_dir=str(workdir), callbacks=callbacks, **cfg)
    return trainer, has_ckpt


def _fold_tables(
    features: pd.DataFrame,
    targets: pd.Series,
    train_ids: list[str],
    test_ids: list[str],
    val_fraction: float,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    from foundation_model.features.imputation import MedianImputer

    rng = np.random.default_rng(seed)
    train_ids = list(train_ids)
    n_val = max(1, int(round(val_fraction * len(train_ids))))
    val = set(rng.choice(train_ids, size=n_val, replace=False).tolist())
    ids = train_ids + list(test_ids)
    split = ["val" if i in val else "train" for i in train_ids] + ["test"] * len(test_ids)
    fit_rows = [i for i in train_ids if i not in val]
    x = MedianImputer().fit(features.loc[fit_rows]).transform(features.loc[ids])
    attrs = pd.DataFrame(
        {"target": targets.loc[ids].to_numpy(), "split": split}, index=pd.Index(ids, name="id")
    )
    attrs.loc[attrs["split"] == "test", "target"] = np.nan  # test labels never reach training code
    return x, attrs


@contextlib.contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Hold back Lightning's per-fit info lines (devices, tips, "stopped", "restoring"):
    a benchmark trains hundreds of networks and shows its own progress. Warnings pass,
    except the upstream ones a user cannot act on
    (:mod:`~foundation_model.utils.upstream_warnings`)."""
    from foundation_model.utils.upstream_warnings import hide_upstream_noise

    log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    level = log.level
    log.setLevel(max(logging.WARNING, level))
    try:
        with warnings.catch_warnings():
            hide_upstream_noise()
            yield
    finally:
        log.setLevel(level)


def fit_predict_fold(
    config: dict | str | Path,
    features: pd.DataFrame,
    targets: pd.Series,
    train_ids: list[str],
    test_ids: list[str],
    seed: int,
    max_epochs: int | None = None,
    val_fraction: float = 0.1,
    defer_sigma: bool = True,
) -> FoldPrediction:
    """Train on ``train_ids`` (an inner validation part held out) and predict ``test_ids``.

    Classification labels are ``p >= positive_rate`` of the ``train_ids`` labels, the rule
    for label-based ROC-AUC (see :mod:`~foundation_model.workflows.rf_baseline`).

    Args:
        config: a YAML path (read with the ``fm fit`` parser) or a parsed config dict
            (``model``, ``data``, ``trainer``).
        features: raw descriptors for all ids (imputed here from the fold's train rows).
        targets: target per id.
        train_ids: the fold's official training ids.
        test_ids: the fold's official test ids.
        seed: seed of this fold (inner split, initialisation, shuffling).
        max_epochs: override of ``trainer.max_epochs``.
        val_fraction: share of the training ids used for validation/early stopping.
        defer_sigma: fit the σ map once, on the kept (best) weights, instead of at every
            validation epoch (:meth:`FlexibleMultiTaskModel.refit_sigma`): the same
            predictions and σ, about a fifth less training time with ``sigma_distance_rows``
            on a few thousand rows. False: the per-epoch refit of ``fm fit``.
    """
    import lightning.pytorch as pl

    from foundation_model.data import CompoundDataModule, PredefinedSplitter
    from foundation_model.data.shared_rows import SharedRowsWarning
    from foundation_model.models.task_head.base import TaskSpec

    if not isinstance(config, dict):
        from foundation_model.cli.lightning_cli import load_fit_config

        config = load_fit_config(config)
    pl.seed_everything(seed, workers=True, verbose=False)
    x, attrs = _fold_tables(features, targets, train_ids, test_ids, val_fraction, seed)
    data_args = dict((config.get("data") or {}).get("init_args") or {})
    tasks = [TaskSpec.from_dict(t) for t in data_args.get("tasks") or []]
    if len(tasks) != 1 or tasks[0].target_columns() != ["target"]:
        raise ValueError(
            "The Matbench config needs exactly one task in data.init_args.tasks "
            "with column: target."
        )
    dm = CompoundDataModule(
        formula_desc_source=x,
        tasks=tasks,
        attributes_source=attrs,
        splitter=PredefinedSplitter("split"),
        batch_size=int(data_args.get("batch_size", 256)),
        predict_split="test",
        drop_last=bool(data_args.get("drop_last", False)),
    )
    with warnings.catch_warnings():  # the protocol's folds are given, duplicates and all
        warnings.simplefilter("ignore", SharedRowsWarning)
        dm.setup("fit")
    model = build_model(config.get("model") or {}, dm)
    model.defer_sigma_fit = defer_sigma
    with tempfile.TemporaryDirectory(prefix="fm-bench-") as tmp, _quiet_lightning():
        extra = [config.get("model_checkpoint"), config.get("early_stopping")]
        trainer, has_ckpt = build_trainer(config.get("trainer") or {}, Path(tmp), max_epochs, extra)
        try:
            trainer.fit(model, dm)
        except SystemExit:
            if trainer.interrupted:  # Lightning turns Ctrl-C into exit(1): a Ctrl-C again
                raise KeyboardInterrupt from None
            raise
        epochs = int(trainer.current_epoch)  # epochs run, early stopping included
        best = trainer.checkpoint_callback.best_model_score if has_ckpt else None
        ckpt_path = "best" if has_ckpt else None
        if defer_sigma:  # loads the kept weights, fits their σ map on the validation rows
            model.refit_sigma(trainer, dm, ckpt_path)
            batches = trainer.predict(model, dm)
        else:
            batches = trainer.predict(model, dm, ckpt_path=ckpt_path)
            if _has_sigma(batches, tasks[0].name):  # the rows the σ map was fitted on
                trainer.validate(model, dm, verbose=False)  # the predicting (best) weights
    val_score = float(best) if best is not None else None
    pred = _fold_prediction(model, dm, batches, tasks[0].name, targets.loc[train_ids], val_score)
    pred.epochs = epochs
    return pred


def _fold_prediction(
    model: Any, dm: Any, batches: list, name: str, y_train: pd.Series, val_score: float | None
) -> FoldPrediction:
    """The test rows' prediction of a trained fold model (σ, spread and signals when the
    model has them)."""
    rows = np.concatenate([b["row_index"].numpy() for b in batches])
    order = np.argsort(rows)
    if dm.tasks[0].task_type == "classification":
        proba = np.concatenate([b[f"{name}_probabilities"].numpy() for b in batches])[order][:, 1]
        threshold = positive_rate(y_train.to_numpy())  # the balanced rule
        return FoldPrediction.from_proba(proba, threshold, val_score)
    values = np.concatenate([b[f"{name}_value"].numpy() for b in batches])[order]
    std = np.concatenate([b[f"{name}_std"].numpy() for b in batches])[order]
    if not np.isfinite(std).any():
        return FoldPrediction(values, val_score=val_score)
    from foundation_model.models.task_head.regression import SPREAD_PARTS

    spread = np.concatenate([b[f"{name}_spread"].numpy() for b in batches])[order]
    signals = {
        key: np.concatenate([b[f"{name}_{key}"].numpy() for b in batches])[order]
        for key in SPREAD_PARTS
        if f"{name}_{key}" in batches[0]
    }
    val = _validation_arrays(model, name)
    if val is not None:  # the best weights are loaded (predict and validate used them)
        val_d, test_d = latent_distances(model, dm)
        signals["latent_distance"] = test_d[np.argsort(dm.splits.test)]
        scored = np.asarray(model.eval_outputs["val"][name]["mask"], dtype=bool)
        val["latent_distance"] = val_d[scored]
    return FoldPrediction(
        values, std=std, val_score=val_score, spread=spread, val=val, signals=signals or None
    )


def latent_distances(model: Any, dm: Any, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Mean distance of every validation and test row (in ``dm.splits`` order) to its ``k``
    nearest training rows, all of them, in the model's shared representation (``h_task``).

    Args:
        model: a trained :class:`~foundation_model.models.FlexibleMultiTaskModel`.
        dm: its data module (set up).
        k: neighbours.
    """
    from foundation_model.models.components.latent_distance import LatentDistance

    train = model.encode_rows(dm.tensors, dm.splits.train)
    bank = LatentDistance(max(len(train), 1), train.shape[1], k).to(train.device)
    bank.fill(train)
    return tuple(
        bank(model.encode_rows(dm.tensors, rows)).cpu().numpy()
        for rows in (dm.splits.val, dm.splits.test)
    )


def _validation_arrays(model: Any, name: str) -> dict[str, np.ndarray] | None:
    """The validation rows of the model's last validation pass (``y``, ``values``,
    ``spread`` and its parts when the model has them, original units), or None when it had
    none."""
    arrays = (getattr(model, "eval_outputs", {}) or {}).get("val", {}).get(name)
    if not arrays or "spread" not in arrays:
        return None
    from foundation_model.models.task_head.regression import SPREAD_PARTS

    m = np.asarray(arrays["mask"], dtype=bool)
    out = {
        "y": np.asarray(arrays["target"])[m],
        "values": np.asarray(arrays["pred"])[m],
        "spread": np.asarray(arrays["spread"])[m],
    }
    for key in SPREAD_PARTS:
        if key in arrays:
            out[key] = np.asarray(arrays[key])[m]
    return out


def _has_sigma(batches: list[dict], name: str) -> bool:
    key = f"{name}_std"
    return bool(batches) and key in batches[0] and bool(np.isfinite(batches[0][key].numpy()).any())


SEED_STRIDE = 1000  # member j of a seed ensemble trains with seed + j * SEED_STRIDE


def fit_seed_ensemble(
    config: dict | str | Path,
    features: pd.DataFrame,
    targets: pd.Series,
    train_ids: list[str],
    test_ids: list[str],
    seed: int,
    seeds: int,
    max_epochs: int | None = None,
    val_fraction: float = 0.1,
    pool: FitPool | None = None,
) -> FoldPrediction:
    """:func:`fit_predict_fold` with ``seeds`` networks, predictions averaged
    (:meth:`FoldPrediction.mean_of`); member ``j`` uses ``seed + j * SEED_STRIDE``, which
    also draws its own validation rows.

    Args:
        config: as in :func:`fit_predict_fold`.
        features: as in :func:`fit_predict_fold`.
        targets: as in :func:`fit_predict_fold`.
        train_ids: as in :func:`fit_predict_fold`.
        test_ids: as in :func:`fit_predict_fold`.
        seed: the fold's seed (member 0).
        seeds: networks in the ensemble (1: a single network).
        max_epochs: as in :func:`fit_predict_fold`.
        val_fraction: as in :func:`fit_predict_fold`.
        pool: trains the members (default: one after the other in this process).
    """
    if not isinstance(config, dict):
        from foundation_model.cli.lightning_cli import load_fit_config

        config = load_fit_config(config)
    base = FitCall(
        config, features, targets, list(train_ids), list(test_ids), seed, max_epochs, val_fraction
    )
    results = (pool or FitPool(1)).run(seed_members(base, range(seeds)))
    return FoldPrediction.mean_of([r.prediction for r in results])


def seed_members(base: FitCall, members: range) -> list[FitCall]:
    """Seed-ensemble members ``members`` of ``base`` (member ``j`` trains with
    ``base.seed + j * SEED_STRIDE``; member 0 is ``base``)."""
    return [dataclasses.replace(base, seed=base.seed + j * SEED_STRIDE) for j in members]
