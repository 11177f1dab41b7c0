"""Background jobs of the web app: launch a CLI run, find it again after a reload, follow it.

A job is a folder ``<jobs_dir>/<job_id>/`` holding ``job.json`` (command, pids, start and
end, exit code), ``log.txt`` (everything the command printed) and whatever the command
writes (its config, its run folder). The command runs under a small supervisor process
(:mod:`foundation_model.ui.job_runner`) in its own session, so it keeps running when the
browser tab is closed or reloaded, and the supervisor writes the exit code to ``job.json``
when it ends. Pages rebuild everything they show from these files.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from foundation_model.utils.atomic import write_text

STATE_FILE = "job.json"
LOG_FILE = "log.txt"
RUNNER_PID_FILE = "runner.pid"
STOP_FILE = "stop_requested"

# tqdm-style bars: "explore:  40%|####      | 4/10 [00:01<00:02, ...]"
_BAR = re.compile(
    r"(?:(?P<label>[^\r\n|]*?):\s*)?(?P<pct>\d{1,3})%\|[^|]*\|\s*(?P<done>\d+)/(?P<total>\d+)"
)
# plain counters: "[stage 2/4]" or "step 3/10"
_COUNT = re.compile(r"(?P<label>[A-Za-z][\w .-]*?)\s*\[?(?P<done>\d+)\s*/\s*(?P<total>\d+)\]?")


def read_state(path: Path) -> dict:
    """Read a job's ``job.json``."""
    return json.loads(Path(path).read_text())


def write_state(path: Path, state: dict) -> None:
    """Write ``job.json`` atomically (a reader never sees half a file)."""
    write_text(json.dumps(state, indent=2), path)


def update_state(path: Path, **fields) -> dict:
    """Read ``job.json``, set ``fields``, write it back; returns the new state."""
    state = read_state(path)
    state.update(fields)
    write_state(path, state)
    return state


def pid_alive(pid: int | None) -> bool:
    """Whether process ``pid`` exists and is not a zombie (reaped here when it is ours)."""
    if not pid:
        return False
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return True
    return True


@dataclass(frozen=True)
class Progress:
    """Latest progress counter found in a log: ``done`` of ``total`` for ``label``."""

    label: str
    done: int
    total: int

    @property
    def fraction(self) -> float:
        """Completed fraction in [0, 1]."""
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0


def parse_progress(text: str) -> Progress | None:
    """The last progress counter in ``text`` (tqdm bars first, then ``k/N`` counters)."""
    lines = [ln for ln in re.split(r"[\r\n]+", text) if ln.strip()]
    for line in reversed(lines):
        bars = list(_BAR.finditer(line))
        if bars:
            m = bars[-1]
            return Progress((m["label"] or "").strip(), int(m["done"]), int(m["total"]))
    for line in reversed(lines):
        counts = list(_COUNT.finditer(line))
        if counts:
            m = counts[-1]
            if int(m["total"]) > 0 and int(m["done"]) <= int(m["total"]):
                return Progress(m["label"].strip(), int(m["done"]), int(m["total"]))
    return None


#: terminal control sequences (CSI: ESC [ ... letter), e.g. tqdm's cursor-up ``ESC[A``
ANSI_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def tail_text(path: Path, max_bytes: int = 20_000, max_lines: int = 200) -> str:
    """Last lines of a log, with carriage-return redraws collapsed to their final state and
    terminal control sequences (tqdm's cursor moves between its bars) removed."""
    path = Path(path)
    if not path.exists():
        return ""
    with path.open("rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(0, size - max_bytes))
        raw = ANSI_CONTROL.sub("", fh.read().decode("utf-8", errors="replace"))
    lines = [ln.rsplit("\r", 1)[-1] if ln.strip("\r") else ln for ln in raw.split("\n")]
    lines = [ln for ln in (ln.rstrip("\r") for ln in lines)]
    return "\n".join(lines[-max_lines:])


@dataclass
class Job:
    """One background job, as recorded in its folder."""

    folder: Path

    @property
    def state_path(self) -> Path:
        return self.folder / STATE_FILE

    @property
    def log_path(self) -> Path:
        return self.folder / LOG_FILE

    @property
    def job_id(self) -> str:
        return self.folder.name

    def state(self) -> dict:
        """The current ``job.json``."""
        return read_state(self.state_path)

    def status(self) -> str:
        """``running``, ``succeeded``, ``failed``, ``stopped`` or ``lost``.

        ``lost`` means the supervisor disappeared without recording an exit code (the
        machine rebooted or it was killed with SIGKILL).
        """
        state = self.state()
        code = state.get("returncode")
        if code is not None:
            if (self.folder / STOP_FILE).exists() and code != 0:
                return "stopped"
            return "succeeded" if code == 0 else "failed"
        if pid_alive(self.runner_pid()):
            return "running"
        # the supervisor may have just written the code: read once more
        if self.state().get("returncode") is not None:
            return self.status()
        return "lost"

    def runner_pid(self) -> int | None:
        """Pid of the supervisor process (written by the launcher)."""
        try:
            return int((self.folder / RUNNER_PID_FILE).read_text().strip())
        except (OSError, ValueError):
            return None

    def is_running(self) -> bool:
        return self.status() == "running"

    def log_tail(self, max_lines: int = 200) -> str:
        return tail_text(self.log_path, max_lines=max_lines)

    def progress(self) -> Progress | None:
        return parse_progress(tail_text(self.log_path, max_bytes=8_000, max_lines=50))

    def elapsed(self) -> float:
        """Seconds since start (until the end, for a finished job)."""
        state = self.state()
        end = state.get("finished") or time.time()
        return max(0.0, end - state["started"])

    def stop(self) -> bool:
        """Ask the job to stop (SIGTERM to its process group). False if not running."""
        pid = self.runner_pid()
        # a recorded exit code means finished, even while the supervisor is still exiting
        if self.state().get("returncode") is not None or not pid_alive(pid):
            return False
        (self.folder / STOP_FILE).write_text(str(time.time()))
        try:
            os.killpg(os.getpgid(pid), signal.SIGTERM)
        except ProcessLookupError:
            return False
        return True


class JobManager:
    """Starts and lists the background jobs kept under one folder.

    Args:
        jobs_dir: folder of job folders; created on first launch.
    """

    def __init__(self, jobs_dir: Path) -> None:
        self.jobs_dir = Path(jobs_dir)

    def new_job_folder(self, kind: str) -> Path:
        """Create an empty, uniquely named folder for a job of ``kind``."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        folder = self.jobs_dir / f"{kind}-{stamp}-{uuid.uuid4().hex[:6]}"
        folder.mkdir(parents=True)
        return folder

    def launch(self, kind: str, command: list[str], folder: Path | None = None, **extra) -> Job:
        """Start ``command`` in the background and return its job.

        Args:
            kind: job family shown on the pages (``datagen``, ``distill``, ...).
            command: argv of the command; it runs with the job folder as working directory.
            folder: job folder from :meth:`new_job_folder` (made here when omitted).
            **extra: JSON-serialisable fields stored in ``job.json`` (config path, ...).
        """
        folder = Path(folder) if folder is not None else self.new_job_folder(kind)
        job = Job(folder)
        state = {
            "kind": kind,
            "command": [str(c) for c in command],
            "cwd": str(folder),
            "log_path": str(job.log_path),
            "started": time.time(),
            "finished": None,
            "returncode": None,
            **extra,
        }
        (folder / STOP_FILE).unlink(missing_ok=True)
        with job.log_path.open("a") as log:  # a resumed run appends to the same log
            log.write(f"$ {' '.join(state['command'])}\n")
        write_state(job.state_path, state)
        with job.log_path.open("ab") as log:
            runner = subprocess.Popen(
                [sys.executable, "-m", "foundation_model.ui.job_runner", str(job.state_path)],
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        (folder / RUNNER_PID_FILE).write_text(str(runner.pid))
        return job

    def jobs(self, kind: str | None = None) -> list[Job]:
        """Jobs of ``kind`` (all when None), newest first."""
        if not self.jobs_dir.is_dir():
            return []
        found = []
        for folder in self.jobs_dir.iterdir():
            if not (folder / STATE_FILE).is_file():
                continue
            try:
                state = read_state(folder / STATE_FILE)
            except (OSError, json.JSONDecodeError):
                continue
            if kind is None or state.get("kind") == kind:
                found.append((state.get("started", 0.0), Job(folder)))
        return [job for _, job in sorted(found, key=lambda t: t[0], reverse=True)]

    def latest(self, kind: str, running_only: bool = False) -> Job | None:
        """Newest job of ``kind`` (only a running one when ``running_only``)."""
        for job in self.jobs(kind):
            if not running_only or job.is_running():
                return job
        return None
