"""A lock file that keeps two processes from writing into one folder at once."""

from __future__ import annotations

import os
from pathlib import Path

LOCK_SUFFIX = ".fm.lock"


def lock_path(folder: str | Path) -> Path:
    """The lock file of ``folder``: beside it (``.<name>.fm.lock``), so the folder itself
    holds only what the run writes (Lightning warns about a non-empty checkpoint folder)."""
    folder = Path(folder)
    return folder.parent / f".{folder.name}{LOCK_SUFFIX}"


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
    """``with FolderLock(folder, what):`` holds :func:`lock_path` (this process's id) while
    the block runs; a lock held by a live process is a one-line ``ValueError``, one left by
    a process that died is taken over.

    Args:
        folder: the folder (created when missing).
        what: how the error names the folder, e.g. ``"model_checkpoint dirpath"``.
    """

    def __init__(self, folder: str | Path, what: str = "folder") -> None:
        self.folder = Path(folder)
        self.path = lock_path(folder)
        self.what = what
        self.held = False

    def __enter__(self) -> FolderLock:
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
                        f"{self.what} {self.folder} is in use by another fm process (pid "
                        f"{owner}, in {self.path}): wait for it to finish, or give this run "
                        "another folder; if no fm run writes there (e.g. after a restart), "
                        f"delete {self.path}."
                    ) from None
                self.path.unlink(missing_ok=True)  # left by a process that died
                continue
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            self.held = True
            return self
        raise ValueError(f"{self.what} {self.folder}: could not take {self.path}.")

    def __exit__(self, *exc: object) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False
