"""Fit the number of epochs, and the learning-rate schedule, to a wall-clock budget.

A pretraining run is usually limited by time, not by epochs: a GPU lease, a night, the
90 minutes of a CPU. ``TimeBudget`` times the first epochs of the run, then lowers
``max_epochs`` to the number that fits in the budget and stretches (or shrinks) every
cosine schedule to end on that epoch, so the run anneals to ``eta_min`` instead of being
cut off half way as ``trainer.max_time`` would do. The configured ``max_epochs`` is the
ceiling: the budget never adds epochs beyond it.

The plan (epoch count) is part of the callback's checkpoint state, so a resumed run keeps
it and does not time itself again. Add it to ``trainer.callbacks``::

    trainer:
      max_epochs: 1000            # ceiling
      callbacks:
        - class_path: foundation_model.utils.time_budget.TimeBudget
          init_args: {minutes: 60}
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info

_clock = time.monotonic  # the wall clock of the plan (a seam for tests)


class TimeBudget(Callback):
    """Lower ``max_epochs`` so that ``fit`` ends within ``minutes``; rescale cosine schedules.

    Args:
        minutes: wall-clock budget of the whole ``fit`` call (setup and validation included),
            counted from the start of fit.
        timing_epochs: epochs timed before the plan is made; the first epoch (warm-up,
            compilation, caches) is left out of the estimate when there are two or more.
        margin: fraction of the budget kept free for the final checkpoint and the spread of
            epoch times.
    """

    def __init__(self, minutes: float, timing_epochs: int = 2, margin: float = 0.05) -> None:
        if not (math.isfinite(minutes) and minutes > 0):
            raise ValueError(f"TimeBudget: minutes must be a positive number, got {minutes!r}.")
        if timing_epochs < 1:
            raise ValueError(f"TimeBudget: timing_epochs must be >= 1, got {timing_epochs}.")
        if not 0 <= margin < 1:
            raise ValueError(f"TimeBudget: margin must be in [0, 1), got {margin}.")
        self.minutes = float(minutes)
        self.timing_epochs = int(timing_epochs)
        self.margin = float(margin)
        self.planned_epochs: int | None = None
        self.seconds_per_epoch: float | None = None
        self._fit_start = 0.0
        self._epoch_starts: list[float] = []

    # ------------------------------------------------------------------ state (resume)
    def state_dict(self) -> dict[str, Any]:
        """The plan, so that a resumed run keeps its epoch count."""
        return {"planned_epochs": self.planned_epochs, "seconds_per_epoch": self.seconds_per_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the plan of the run being resumed."""
        self.planned_epochs = state_dict.get("planned_epochs")
        self.seconds_per_epoch = state_dict.get("seconds_per_epoch")

    # ------------------------------------------------------------------ hooks
    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        """Start the clock."""
        self._fit_start = _clock()
        self._epoch_starts = []

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        """A resumed run applies the plan it saved (its schedulers were saved rescaled)."""
        if self.planned_epochs is not None:
            trainer.fit_loop.max_epochs = min(self._ceiling(trainer), self.planned_epochs)

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        """Time epochs; after ``timing_epochs`` of them, make the plan."""
        if self.planned_epochs is not None:
            return
        self._epoch_starts.append(_clock())
        if len(self._epoch_starts) <= self.timing_epochs:
            return
        durations = [
            b - a for a, b in zip(self._epoch_starts[:-1], self._epoch_starts[1:], strict=True)
        ]
        if len(durations) > 1:
            durations = durations[1:]  # the first epoch carries the warm-up
        self.seconds_per_epoch = statistics.median(durations)
        self._plan(trainer)

    # ------------------------------------------------------------------ planning
    @staticmethod
    def _ceiling(trainer: Any) -> int:
        """The configured ``max_epochs`` (-1 / None: no ceiling)."""
        ceiling = trainer.fit_loop.max_epochs
        return ceiling if ceiling is not None and ceiling >= 0 else 10**9

    def _plan(self, trainer: Any) -> None:
        """Set ``max_epochs`` from the remaining time and rescale the schedulers."""
        assert self.seconds_per_epoch is not None
        elapsed = _clock() - self._fit_start
        remaining = self.minutes * 60.0 * (1.0 - self.margin) - elapsed
        done = trainer.current_epoch  # epochs finished before this one starts
        more = max(1, math.floor(remaining / max(self.seconds_per_epoch, 1e-9)))
        self.planned_epochs = min(self._ceiling(trainer), done + more)
        trainer.fit_loop.max_epochs = self.planned_epochs
        rescaled = self._rescale_schedules(trainer)
        rank_zero_info(
            f"TimeBudget: {self.seconds_per_epoch:.1f} s per epoch, {elapsed:.0f} s used of "
            f"{self.minutes * 60:.0f} s: training {self.planned_epochs} epochs"
            + (f"; cosine schedule(s) now end on epoch {self.planned_epochs}" if rescaled else "")
        )

    def _rescale_schedules(self, trainer: Any) -> int:
        """Point every cosine schedule's ``T_max`` at the planned last epoch (or step)."""
        count = 0
        for config in getattr(trainer, "lr_scheduler_configs", []) or []:
            scheduler = config.scheduler
            if not hasattr(scheduler, "T_max"):
                continue
            if config.interval == "step":
                steps = trainer.num_training_batches
                if not isinstance(steps, int) or steps <= 0:
                    continue
                total = self.planned_epochs * math.ceil(steps / trainer.accumulate_grad_batches)
                scheduler.T_max = max(1, total // max(1, config.frequency))
            else:
                scheduler.T_max = max(1, self.planned_epochs // max(1, config.frequency))
            count += 1
        return count
