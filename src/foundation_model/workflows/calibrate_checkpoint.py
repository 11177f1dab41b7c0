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

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from foundation_model.utils.checkpoint import check_checkpoint_file


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
    check_checkpoint_file(opts.checkpoint)  # missing, a folder, empty or truncated: one line
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
    """The config's data must be the model's: same tasks, same descriptor columns (put in
    the checkpoint's order)."""
    got = [t.name for t in dm.tasks]
    want = [t.name for t in model.task_specs]
    if got != want:
        raise ValueError(
            f"{config}: its tasks {got[:5]} are not the checkpoint's {want[:5]}; give the "
            "config the model was trained with."
        )
    dm.align_descriptors(model.input_schema, "the checkpoint")  # by name; else one line


def _split_arrays(model: Any, stage: str) -> dict[str, dict[str, np.ndarray]]:
    return dict((getattr(model, "eval_outputs", {}) or {}).get(stage, {}))


def calibration_scores(
    y: np.ndarray, pred: np.ndarray, std: np.ndarray, mask: np.ndarray | None = None
) -> dict[str, float] | None:
    """Coverage of ±1σ / ±2σ, miscalibration area, Spearman of σ vs |error|, MAE and row
    count of the rows (within ``mask``) with a finite label, prediction and σ; None with
    fewer than 5 of them.

    Args:
        y: labels.
        pred: predictions.
        std: predicted σ.
        mask: rows to score (default: all).
    """
    from foundation_model.models.calibration import calibration_metrics

    m = np.isfinite(y) & np.isfinite(pred) & np.isfinite(std)
    if mask is not None:
        m &= np.asarray(mask, dtype=bool)
    if m.sum() < 5:
        return None
    y, pred = y[m], pred[m]
    out = {k: float(v) for k, v in calibration_metrics(y, pred, std[m]).items() if k != "n"}
    return out | {"mae": float(np.abs(y - pred).mean()), "rows": int(m.sum())}


def _test_scores(arrays: dict[str, np.ndarray] | None) -> dict[str, float] | None:
    if arrays is None or "std" not in arrays:
        return None
    return calibration_scores(arrays["target"], arrays["pred"], arrays["std"], arrays["mask"])


def calibrate_checkpoint(opts: CalibrationOptions) -> dict[str, Any]:
    """Fit the distance σ of ``opts.checkpoint`` on its run's validation rows, score it on
    the test rows and write ``opts.output``; returns the report (per task: ``w``, ``a``,
    ``b`` and the test metrics, for every task whose map was fitted: 5 or more validation
    rows with a σ signal).

    Args:
        opts: see :class:`CalibrationOptions`.
    """
    import lightning.pytorch as pl

    from foundation_model.data.split_fingerprint import check_same_split
    from foundation_model.inference.predictor import model_from_checkpoint
    from foundation_model.utils.atomic import save_torch
    from foundation_model.utils.checkpoint import load_checkpoint

    _check_paths(opts)
    ckpt = load_checkpoint(opts.checkpoint)
    overrides: dict[str, Any] = {"sigma_distance_rows": opts.rows, "sigma_distance_k": opts.k}
    if opts.sigma_fit is not None:
        overrides["sigma_fit"] = opts.sigma_fit  # the model checks the name
    # the bank and its weights are rebuilt at the new size; everything else is loaded
    model = model_from_checkpoint(
        ckpt,
        str(opts.checkpoint),
        overrides,
        fresh=("latent_distance.", "sigma_distance_weights"),
    )
    dm = load_datamodule(opts.config, opts.overrides)
    _check_data(model, dm, opts.config)
    if len(dm.splits.val) == 0 or len(dm.splits.train) == 0:
        raise ValueError(
            f"{opts.config}: its split has {len(dm.splits.train)} training and "
            f"{len(dm.splits.val)} validation rows; σ is fitted on validation rows and kept "
            "training rows, so give the config the training run's split."
        )
    for part in ("val", "test"):  # σ is fitted on the run's validation rows, scored on its test
        check_same_split(ckpt.get("fm_split"), dm.split_fingerprint(), part)

    assert model.latent_distance is not None
    trainer = pl.Trainer(
        accelerator="auto",  # one device: the passes are short, and the bank stays whole
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
    )
    fitted = set(model.refit_sigma(trainer, dm))  # the bank: opts.rows of the training rows
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
            "test": _test_scores(test.get(name)),
        }

    out = dict(ckpt)
    out["state_dict"] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    out["hyper_parameters"] = {**(ckpt.get("hyper_parameters") or {}), **overrides}
    report = {
        "checkpoint": str(opts.checkpoint),
        "config": str(opts.config),
        "output": str(opts.output),
        "rows_kept": int(model.latent_distance.count),
        "k": opts.k,
        "sigma_fit": model.hparams.get("sigma_fit", "matched"),
        "split_rows": {s: int(len(getattr(dm.splits, s))) for s in ("train", "val", "test")},
        "tasks": tasks,
    }
    out["fm_calibration"] = report
    save_torch(out, opts.output)
    return report


__all__ = ["CalibrationOptions", "calibrate_checkpoint", "calibration_scores", "load_datamodule"]
