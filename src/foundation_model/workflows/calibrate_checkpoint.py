"""Give a trained checkpoint a σ for every regression task, without touching its weights.

A model trained with ``sigma_distance_rows: 0`` and one head per task (as fm-base was)
predicts no ``<task>_std``. :func:`calibrate_checkpoint` adds what
``FlexibleMultiTaskModel(sigma_distance_rows=N)`` would have kept: the shared representation
(``h_task``) of N training rows of the run's own split, and per regression task the σ map
``sqrt((a · w · d)² + b²)`` of the mean distance ``d`` to the ``k`` nearest kept rows,
with ``w``, ``a`` and ``b`` fitted on the split's validation rows by the model's own
recalibration. The split's test rows are then scored (coverage of ±1σ / ±2σ, miscalibration
area, Spearman of σ against the absolute error) and written into the report.

Every weight, scaler and head is copied unchanged, so what was measured with the input
checkpoint (test errors, fine-tuning from its encoder) holds for the output too; a test
checks it. The output is written atomically and never over the input.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class CalibrationOptions:
    """What :func:`calibrate_checkpoint` does.

    Attributes:
        checkpoint: the trained ``FlexibleMultiTaskModel`` checkpoint.
        config: the ``fm fit`` YAML it was trained with (its ``data`` section gives the
            rows and the split; the split must be the training run's).
        output: the new checkpoint (must differ from ``checkpoint``).
        rows: training rows whose representation the output keeps.
        k: nearest kept rows averaged into the distance.
        overrides: extra ``fm fit`` arguments applied to the config.
        overwrite: replace an existing ``output``.
        sigma_fit: how the σ map is fitted (a ``SIGMA_FITS`` name); None keeps the
            checkpoint's own ``sigma_fit``.
    """

    checkpoint: Path
    config: Path
    output: Path
    rows: int = 4096
    k: int = 5
    overrides: tuple[str, ...] = ()
    overwrite: bool = False
    sigma_fit: str | None = None


def _check_paths(opts: CalibrationOptions) -> None:
    if not Path(opts.checkpoint).is_file():
        raise FileNotFoundError(f"Checkpoint {opts.checkpoint} not found.")
    if Path(opts.output).resolve() == Path(opts.checkpoint).resolve():
        raise ValueError(
            f"--output {opts.output} is the input checkpoint; write the calibrated model to "
            "a new file (the input is never overwritten)."
        )
    if Path(opts.output).exists() and not opts.overwrite:
        raise FileExistsError(
            f"{opts.output} exists; pass --overwrite to replace it or choose another --output."
        )
    if opts.rows < 1 or opts.k < 1:
        raise ValueError(f"--rows and --k must be >= 1, got {opts.rows} and {opts.k}.")


def build_distance_model(
    ckpt: dict[str, Any], rows: int, k: int, sigma_fit: str | None = None
) -> Any:
    """The checkpoint's model rebuilt with ``sigma_distance_rows=rows`` (an empty bank)
    and every stored weight loaded; raises when anything else does not fit.

    Args:
        ckpt: the loaded checkpoint dict.
        rows: bank size.
        k: neighbours.
        sigma_fit: replaces the checkpoint's ``sigma_fit`` when given.
    """
    from foundation_model.models import FlexibleMultiTaskModel

    hp = dict(ckpt.get("hyper_parameters") or {})
    if "tasks" not in hp:
        raise ValueError(
            "not a FlexibleMultiTaskModel checkpoint (no tasks in its hyperparameters)."
        )
    params = inspect.signature(FlexibleMultiTaskModel.__init__).parameters
    hp |= {"sigma_distance_rows": rows, "sigma_distance_k": k}
    if sigma_fit is not None:
        hp["sigma_fit"] = sigma_fit  # the model checks the name
    # the weights come from this checkpoint; do not load a fine-tuning source again
    hp |= {"init_from_checkpoint": None, "init_components": None}
    model = FlexibleMultiTaskModel(**{key: v for key, v in hp.items() if key in params})
    model.on_load_checkpoint(ckpt)
    state = {
        key: v
        for key, v in ckpt["state_dict"].items()
        if not key.startswith("latent_distance.") and key != "sigma_distance_weights"
    }
    missing, unexpected = model.load_state_dict(state, strict=False)
    new = {"latent_distance.bank", "latent_distance.count", "sigma_distance_weights"}
    if set(missing) - new or unexpected:
        raise ValueError(
            "the weights do not fit the model its hyperparameters describe "
            f"(missing {sorted(set(missing) - new)[:3]}, unexpected {unexpected[:3]})."
        )
    return model


def load_datamodule(config: Path, overrides: tuple[str, ...] = ()) -> Any:
    """The set-up data module of an ``fm fit`` YAML (its rows, tasks and split).

    Args:
        config: the YAML.
        overrides: extra ``fm fit`` arguments.
    """
    from foundation_model.cli.lightning_cli import load_fit_config
    from foundation_model.workflows.bench_model import instantiate

    dm = instantiate(load_fit_config(config, list(overrides)).get("data"))
    dm.setup("fit")
    return dm


def _check_data(model: Any, dm: Any, config: Path) -> None:
    """The config's data must be the model's: same tasks, same descriptor columns."""
    got = [t.name for t in dm.tasks]
    want = [t.name for t in model.task_specs]
    if got != want:
        raise ValueError(
            f"{config}: its tasks {got[:5]} are not the checkpoint's {want[:5]}; give the "
            "config the model was trained with."
        )
    schema = (model.input_schema or {}).get("formula") or {}
    columns = list(schema.get("columns") or [])
    if columns and list(dm.formula_columns) != columns:
        raise ValueError(
            f"{config}: its descriptor columns differ from the checkpoint's "
            f"({len(dm.formula_columns)} vs {len(columns)}); featurize the data as for "
            "training."
        )


def _split_arrays(model: Any, stage: str) -> dict[str, dict[str, np.ndarray]]:
    return dict((getattr(model, "eval_outputs", {}) or {}).get(stage, {}))


def task_calibration(arrays: dict[str, np.ndarray]) -> dict[str, float] | None:
    """Coverage of ±1σ / ±2σ, miscalibration area, Spearman of σ vs |error|, MAE and row
    count of one task's labelled rows (None without 5 rows with a finite σ)."""
    from foundation_model.models.calibration import calibration_metrics

    std = arrays.get("std")
    if std is None:
        return None
    m = arrays["mask"] & np.isfinite(arrays["pred"]) & np.isfinite(std)
    if m.sum() < 5:
        return None
    y, pred = arrays["target"][m], arrays["pred"][m]
    out = {k: float(v) for k, v in calibration_metrics(y, pred, std[m]).items() if k != "n"}
    return out | {"mae": float(np.abs(y - pred).mean()), "rows": int(m.sum())}


def calibrate_checkpoint(opts: CalibrationOptions) -> dict[str, Any]:
    """Fit the distance σ of ``opts.checkpoint`` on its run's validation rows, score it on
    the test rows and write ``opts.output``; returns the report (per task: ``w``, ``a``,
    ``b`` and the test metrics, for every task whose map was fitted: 5 or more validation
    rows with a σ signal).

    Args:
        opts: see :class:`CalibrationOptions`.
    """
    import lightning.pytorch as pl

    from foundation_model.models.components.latent_distance import LatentDistance
    from foundation_model.utils.atomic import save_torch
    from foundation_model.utils.checkpoint import load_checkpoint

    _check_paths(opts)
    ckpt = load_checkpoint(opts.checkpoint)
    model = build_distance_model(ckpt, opts.rows, opts.k, opts.sigma_fit)
    dm = load_datamodule(opts.config, opts.overrides)
    _check_data(model, dm, opts.config)
    if len(dm.splits.val) == 0 or len(dm.splits.train) == 0:
        raise ValueError(
            f"{opts.config}: its split has {len(dm.splits.train)} training and "
            f"{len(dm.splits.val)} validation rows; σ is fitted on validation rows and kept "
            "training rows, so give the config the training run's split."
        )

    assert model.latent_distance is not None
    kept = LatentDistance.choose_rows(dm.splits.train, opts.rows)
    model.latent_distance.fill(model.encode_rows(dm.tensors, kept))
    trainer = pl.Trainer(
        accelerator="auto",  # one device: the passes are short, and the bank stays whole
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
    )
    trainer.validate(model, dm, verbose=False)
    fitted = set(model._recalibrate(_split_arrays(model, "val")))
    test: dict[str, dict[str, np.ndarray]] = {}
    if len(dm.splits.test):  # without test rows the report has no scores
        trainer.test(model, dm, verbose=False)
        test = _split_arrays(model, "test")

    names = [t.name for t in model.task_specs]
    tasks: dict[str, Any] = {}
    for i, name in enumerate(names):
        if name not in fitted:
            continue  # no σ map (classification) or too few validation rows to fit one
        tasks[name] = {
            "w": float(model.sigma_distance_weights[i]),
            "a": float(model.sigma_scales[i]),
            "b": float(model.sigma_floors[i]),
            "test": task_calibration(test[name]) if name in test else None,
        }

    out = dict(ckpt)
    out["state_dict"] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    hp = dict(ckpt.get("hyper_parameters") or {})
    hp |= {"sigma_distance_rows": opts.rows, "sigma_distance_k": opts.k}
    if opts.sigma_fit is not None:
        hp["sigma_fit"] = opts.sigma_fit
    out["hyper_parameters"] = hp
    report = {
        "checkpoint": str(opts.checkpoint),
        "config": str(opts.config),
        "output": str(opts.output),
        "rows_kept": int(len(kept)),
        "k": opts.k,
        "sigma_fit": model.hparams.get("sigma_fit", "matched"),
        "split_rows": {s: int(len(getattr(dm.splits, s))) for s in ("train", "val", "test")},
        "tasks": tasks,
    }
    out["fm_calibration"] = report
    save_torch(out, opts.output)
    return report


__all__ = [
    "CalibrationOptions",
    "build_distance_model",
    "calibrate_checkpoint",
    "load_datamodule",
    "task_calibration",
]
