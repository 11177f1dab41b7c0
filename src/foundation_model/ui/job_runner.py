"""Supervisor process of one background job: ``python -m foundation_model.ui.job_runner STATE``.

It starts the job's command with its output appended to the job's log, records the child's
pid, waits, and writes the exit code and end time into the state file. Because the record is
on disk, a page opened later (or a restarted server) can tell a finished run from a running
one and show its result.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from foundation_model.ui.jobs import read_state, update_state


def supervise(state_path: Path) -> int:
    """Run the command recorded in ``state_path`` to completion and record the outcome."""
    state = read_state(state_path)
    children: list[subprocess.Popen] = []
    stopped: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        stopped.append(signum)
        for child in children:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    with Path(state["log_path"]).open("ab", buffering=0) as log:
        returncode = _run_child(state_path, state, log, children, stopped)
    update_state(state_path, returncode=returncode, finished=time.time())
    return returncode


def _run_child(state_path: Path, state: dict, log, children: list, stopped: list) -> int:
    """Start the job's command (unless a stop came first) and wait for it."""
    if stopped:
        return -stopped[0]
    try:
        child = subprocess.Popen(
            state["command"],
            cwd=state["cwd"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    except OSError as exc:
        log.write(f"could not start {state['command'][0]!r}: {exc}\n".encode())
        return 127
    children.append(child)
    if stopped:
        child.send_signal(stopped[0])
    update_state(state_path, child_pid=child.pid)
    return child.wait()


def main(argv: list[str] | None = None) -> int:
    """Entry point: one argument, the job's state file."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m foundation_model.ui.job_runner STATE_JSON", file=sys.stderr)
        return 2
    supervise(Path(args[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
