"""Lightning callback saving plots into ``<run dir>/plots`` after ``fit`` and ``test``."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import numpy as np
from lightning.pytorch.callbacks import Callback

from foundation_model.plotting.classification import classification_plot
from foundation_model.plotting.curves import training_curves_plot
from foundation_model.plotting.parity import parity_plot
from foundation_model.plotting.sequence import sequence_plot


def plot_eval_outputs(pl_module: pl.LightningModule, stage: str, out_dir: Path) -> list[Path]:
    """Plot every task of ``pl_module.eval_outputs[stage]``; returns the written files."""
    results = getattr(pl_module, "eval_outputs", {}).get(stage, {})
    written: list[Path] = []
    for spec in getattr(pl_module, "task_specs", []):
        r = results.get(spec.name)
        if r is None or not r["mask"].any():
            continue
        m = r["mask"]
        name = f"{stage}_{spec.name}"
        if spec.task_type == "regression":
            written.append(
                parity_plot(r["target"][m], r["pred"][m], name, out_dir / f"parity_{name}.png")
            )
        elif spec.task_type == "classification":
            names = spec.class_names or [str(i) for i in range(spec.num_classes)]
            y = r["target"][m].astype(int)
            written.append(
                classification_plot(
                    y, r["pred"][m], names, name, out_dir / f"classification_{name}.png"
                )
            )
        else:
            written.append(
                sequence_plot(
                    r["x"],
                    r["target"],
                    r["pred"],
                    m,
                    name,
                    out_dir / f"sequence_{name}.png",
                    xlabel=spec.x_column,
                    ylabel=spec.y_column,
                )
            )
            ok = m & np.isfinite(r["pred"])
            written.append(
                parity_plot(r["target"][ok], r["pred"][ok], name, out_dir / f"parity_{name}.png")
            )
    return written


class PlotCallback(Callback):
    """Save PNG plots after fit (loss/sigma curves, validation parity) and test.

    Args:
        enabled: turn plotting on or off.
        dirname: sub-folder of the run directory for the PNG files.
    """

    def __init__(self, enabled: bool = True, dirname: str = "plots") -> None:
        self.enabled = enabled
        self.dirname = dirname

    def _dir(self, trainer: pl.Trainer) -> Path:
        return Path(trainer.log_dir or trainer.default_root_dir) / self.dirname

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.enabled or trainer.sanity_checking:
            return
        out = self._dir(trainer)
        for logger in trainer.loggers:
            logger.save()
            log_dir = getattr(logger, "log_dir", None)
            if log_dir:
                training_curves_plot(Path(log_dir) / "metrics.csv", out / "training_curves.png")
        plot_eval_outputs(pl_module, "val", out)

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.enabled:
            plot_eval_outputs(pl_module, "test", self._dir(trainer))
