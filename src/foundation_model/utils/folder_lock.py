"""A lock file that keeps two processes from writing into one folder at once."""

from __future__ import annotations

import os
from pathlib import Path

LOCK_NAME = ".fm.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def is_first_process() -> bool:
    """Whether this is rank 0 of a (possibly distributed) run, read from the launchers'
    environment variables: the other ranks write through rank 0 and take no lock."""
    keys = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID")
    return all(os.environ.get(k, "0") in ("", "0") for k in keys)


class FolderLock:
    """``with FolderLock(folder, what):`` holds ``folder/.fm.lock`` (this process's id)
    while the block runs; a lock held by a live process is a one-line ``ValueError``, one
    left by a process that died is taken over.

    Args:
        folder: the folder (created when missing).
        what: how the error names the folder, e.g. ``"model_checkpoint dirpath"``.
    """

    def __init__(self, folder: str | Path, what: str = "folder") -> None:
        self.path = Path(folder) / LOCK_NAME
        self.what = what
        self.held = False
        self.created = False

    def __enter__(self) -> FolderLock:
        self.created = not self.path.parent.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):  # a second try after removing a dead process's lock
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    owner = int(self.path.read_text().strip() or 0)
                except (OSError, ValueError):
                    owner = 0
                if owner and _alive(owner):
                    raise ValueError(
                        f"{self.what} {self.path.parent} is in use by another fm process "
                        f"(pid {owner}), which writes its checkpoints there: wait for it to "
                        "finish or give this run another folder."
                    ) from None
                self.path.unlink(missing_ok=True)  # left by a process that died
                continue
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            self.held = True
            return self
        raise ValueError(f"{self.what} {self.path.parent}: could not take {self.path}.")

    def __exit__(self, *exc: object) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False
            if self.created and not any(self.path.parent.iterdir()):
                self.path.parent.rmdir()  # made for the lock only: leave no empty folder
