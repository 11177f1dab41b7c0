"""Lightning callback saving plots into ``<run dir>/plots`` after ``fit`` and ``test``."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback

from foundation_model.plotting.curves import training_curves_plot


def plot_eval_outputs(pl_module: pl.LightningModule, stage: str, out_dir: Path) -> list[Path]:
    """Plot every task of ``pl_module.eval_outputs[stage]``; returns the written files."""
    results = getattr(pl_module, "eval_outputs", {}).get(stage, {})
    written: list[Path] = []
    for spec in getattr(pl_module, "task_specs", []):
        arrays = results.get(spec.name)
        if arrays is None or not arrays["mask"].any():
            continue
        written.extend(spec.plot(arrays, f"{stage}_{spec.name}", out_dir))
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
        self._fit_plots(trainer, pl_module, Path(trainer.log_dir or trainer.default_root_dir))

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        """An interrupted (Ctrl-C, SIGTERM) or failed fit still gets the plots of the epochs
        it ran; a plot that fails is a warning, never in the way of the original error."""
        if not self.enabled or not trainer.is_global_zero or trainer.state.fn != "fit":
            return
        # trainer.log_dir is a collective call under DDP: the logger's folder instead
        log_dir = next((lg.log_dir for lg in trainer.loggers if getattr(lg, "log_dir", None)), None)
        try:
            self._fit_plots(trainer, pl_module, Path(log_dir or trainer.default_root_dir))
        except Exception as err:  # noqa: BLE001 - the fit's own error is the one to show
            import warnings

            warnings.warn(f"plots of the interrupted fit not written: {err}", stacklevel=1)

    def _fit_plots(self, trainer: pl.Trainer, pl_module: pl.LightningModule, run: Path) -> None:
        out = run / self.dirname
        for logger in trainer.loggers:
            logger.save()
            log_dir = getattr(logger, "log_dir", None)
            if log_dir:
                training_curves_plot(Path(log_dir) / "metrics.csv", out / "training_curves.png")
        plot_eval_outputs(pl_module, "val", out)

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.enabled:
            plot_eval_outputs(pl_module, "test", self._dir(trainer))
