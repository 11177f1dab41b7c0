"""``last.ckpt`` after every validation, so that a resumed run continues from the newest epoch.

Lightning 2.6's ``ModelCheckpoint(save_last=True)`` writes ``last.ckpt`` only on epochs where
it also saved a monitored checkpoint, so with ``monitor`` + ``save_top_k=1`` the "last"
file is the best epoch, and ``--ckpt_path last`` silently restarts there. ``fm fit`` adds
this callback next to every such ``ModelCheckpoint`` and turns that one's own ``save_last``
off, so there is one ``last.ckpt`` (Lightning would otherwise write a second, ``last-v1``).

It saves at the hook where its ``ModelCheckpoint`` saves: the end of the training epoch when
validation runs once per epoch (the loop's counters then say the epoch is done, so a resume
starts the next epoch), else the end of each validation run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Checkpoint, ModelCheckpoint


class LatestCheckpoint(Checkpoint):
    """Write ``<dirpath>/last.ckpt`` of ``source`` at the end of every validation run.

    It is a :class:`~lightning.pytorch.callbacks.Checkpoint`, so Lightning runs it after the
    model callbacks and after ``source`` (added before it): the file holds this epoch's
    early-stopping and best-checkpoint state, and resuming from it is exact.

    Args:
        source: the monitored ``ModelCheckpoint`` whose folder and ``last`` name are used.
    """

    def __init__(self, source: ModelCheckpoint) -> None:
        self.source = source

    @property
    def state_key(self) -> str:
        """Distinct from ``source``'s key (no state is stored)."""
        return f"LatestCheckpoint[{self.source.state_key}]"

    def path(self) -> Path | None:
        """``<dirpath>/last.ckpt`` once ``source`` has resolved its folder."""
        if not self.source.dirpath:
            return None
        name = self.source.CHECKPOINT_NAME_LAST + self.source.FILE_EXTENSION
        return Path(self.source.dirpath) / name

    def _at_epoch_end(self, trainer: Any) -> bool:
        """Whether ``source`` saves at the end of the training epoch (Lightning's rule)."""
        rule = getattr(self.source, "_should_save_on_train_epoch_end", None)
        return bool(rule(trainer)) if callable(rule) else False

    def _save(self, trainer: Any) -> None:
        """Save the newest state (not during the sanity check, fast dev runs or outside fit)."""
        if trainer.sanity_checking or trainer.fast_dev_run or trainer.state.fn != "fit":
            return
        path = self.path()
        if path is not None:
            trainer.save_checkpoint(str(path), weights_only=False)  # full state: resumable

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        """Save here when ``source`` does (validation once per epoch, or none)."""
        if self._at_epoch_end(trainer):
            self._save(trainer)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        """Save here when ``source`` does (validation several times per epoch)."""
        if not self._at_epoch_end(trainer):
            self._save(trainer)


def needs_latest(callback: Any) -> bool:
    """Whether ``callback`` is a monitored ``ModelCheckpoint`` asked for ``save_last=True``."""
    return (
        isinstance(callback, ModelCheckpoint)
        and callback.save_last is True
        and callback.monitor is not None
    )
