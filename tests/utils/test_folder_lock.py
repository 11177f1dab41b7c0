"""``FolderLock``: one writer per folder; a dead process's lock is taken over."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from foundation_model.utils.folder_lock import FolderLock, is_first_process, lock_path


def test_a_live_holder_refuses_a_second_writer_and_the_lock_goes_with_the_block(tmp_path):
    folder = tmp_path / "ckpts"
    lock = lock_path(folder)
    assert lock == tmp_path / ".ckpts.fm.lock"  # beside the folder, which stays as the run made it
    with FolderLock(folder, "model_checkpoint dirpath"):
        assert lock.read_text() == str(os.getpid()) and not folder.exists()
        second = FolderLock(folder, "model_checkpoint dirpath")
        with pytest.raises(ValueError, match=r"^model_checkpoint dirpath .*ckpts is in use") as err:
            second.__enter__()
        assert f"delete {lock}" in str(err.value)  # for a pid that is not fm (a restart)
    assert not lock.exists()


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    lock_path(tmp_path / "ckpts").write_text(done.stdout.strip())
    with FolderLock(tmp_path / "ckpts") as lock:
        assert lock.held
    assert not lock_path(tmp_path / "ckpts").exists()


def test_only_rank_zero_takes_locks(monkeypatch):
    for key in ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID"):
        monkeypatch.delenv(key, raising=False)
    assert is_first_process()
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert not is_first_process()
