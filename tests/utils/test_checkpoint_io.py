"""``AtomicCheckpointIO``: a failed save leaves the previous checkpoint as it was."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch

from foundation_model.utils.checkpoint_io import AtomicCheckpointIO, use_atomic_checkpoints


def test_a_save_that_fails_midway_keeps_the_previous_file(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    path = tmp_path / "best.ckpt"
    io.save_checkpoint({"step": 1, "w": torch.ones(3)}, path)
    assert io.load_checkpoint(path)["step"] == 1

    def disk_full(obj, f, *args, **kwargs):
        with open(f, "wb") as handle:
            handle.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        io.save_checkpoint({"step": 2, "w": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert io.load_checkpoint(path)["step"] == 1  # still the whole previous checkpoint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.ckpt"]  # no temp file left


def test_a_temporary_file_left_by_a_killed_save_is_removed_by_the_next(tmp_path):
    io = AtomicCheckpointIO()
    left = tmp_path / ".last.ckpt.abc123.tmp"  # what a kill -9 during a save leaves
    left.write_bytes(b"half")
    other = tmp_path / ".best.ckpt.xyz.tmp"  # another checkpoint's: not this save's business
    other.write_bytes(b"half")
    io.save_checkpoint({"step": 3}, tmp_path / "last.ckpt")
    assert not left.exists() and other.exists()
    assert io.load_checkpoint(tmp_path / "last.ckpt")["step"] == 3


def test_the_trainer_gets_it_unless_the_config_chose_another(tmp_path):
    trainer = pl.Trainer(logger=False, default_root_dir=tmp_path, accelerator="cpu")
    use_atomic_checkpoints(trainer)
    assert type(trainer.strategy.checkpoint_io) is AtomicCheckpointIO

    class Mine(AtomicCheckpointIO):
        pass

    chosen = pl.Trainer(logger=False, plugins=[Mine()], default_root_dir=tmp_path)
    use_atomic_checkpoints(chosen)
    assert type(chosen.strategy.checkpoint_io) is Mine
