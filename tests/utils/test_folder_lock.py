"""``FolderLock``: one writer per folder; a dead process's lock is taken over."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from foundation_model.utils.folder_lock import LOCK_NAME, FolderLock, is_first_process


def test_a_live_holder_refuses_a_second_writer_and_the_lock_goes_with_the_block(tmp_path):
    folder = tmp_path / "ckpts"
    with FolderLock(folder, "model_checkpoint dirpath"):
        assert (folder / LOCK_NAME).read_text() == str(os.getpid())
        second = FolderLock(folder, "model_checkpoint dirpath")
        with pytest.raises(ValueError, match=r"^model_checkpoint dirpath .*ckpts is in use"):
            second.__enter__()
    assert not folder.exists()  # made for the lock only, and empty: removed
    folder.mkdir()
    (folder / "best.ckpt").write_text("x")
    with FolderLock(folder):
        pass
    assert sorted(p.name for p in folder.iterdir()) == ["best.ckpt"]


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    tmp_path.joinpath(LOCK_NAME).write_text(dead)
    with FolderLock(tmp_path) as lock:
        assert lock.held
    assert not (tmp_path / LOCK_NAME).exists()


def test_only_rank_zero_takes_locks(monkeypatch):
    for key in ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID"):
        monkeypatch.delenv(key, raising=False)
    assert is_first_process()
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert not is_first_process()
