"""Checkpoint files that appear whole or not at all.

Lightning's ``TorchCheckpointIO`` writes through fsspec, whose local "transaction" writes a
temporary file in the system's temp folder and then moves it: across file systems that move
is a copy into the destination, so a full disk or a kill during the copy leaves a truncated
``best.ckpt`` / ``last.ckpt`` in place of the previous good one. :class:`AtomicCheckpointIO`
writes the temporary file beside the destination and renames it (one atomic step).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from foundation_model.utils.atomic import atomic_write


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` that saves local checkpoints through a temporary file in the
    same folder and an atomic rename; remote paths (``s3://`` ...) are saved as Lightning
    does."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        """Save ``checkpoint`` to ``path`` (the previous file stays until the new one is whole).

        Args:
            checkpoint: the state Lightning assembled.
            path: destination file.
            storage_options: not supported (as in ``TorchCheckpointIO``).
        """
        if storage_options is not None or "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        path = Path(path)
        # a process killed mid-save (kill -9) left its temporary file: only this run writes
        # this checkpoint (its own version folder, or a fixed folder under FolderLock)
        for stale in path.parent.glob(f".{path.name}.*.tmp"):
            stale.unlink(missing_ok=True)
        atomic_write(path, lambda tmp: torch.save(checkpoint, tmp))


def use_atomic_checkpoints(trainer: Any) -> None:
    """Give ``trainer`` :class:`AtomicCheckpointIO` where it would use Lightning's default
    (a checkpoint IO chosen in the config, e.g. an async one, is left alone).

    Args:
        trainer: a ``lightning.pytorch.Trainer``.
    """
    strategy = trainer.strategy
    current = getattr(strategy, "_checkpoint_io", None)
    if current is None or type(current) is TorchCheckpointIO:
        strategy.checkpoint_io = AtomicCheckpointIO()
