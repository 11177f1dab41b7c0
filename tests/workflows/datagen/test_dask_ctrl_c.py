"""A Ctrl-C of a run on a Dask LocalCluster prints no worker tracebacks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed", reason="dask.distributed not installed: uv sync --extra datagen")

SCRIPT = """
import sys, time
from pathlib import Path
from foundation_model.workflows.datagen.executor import TaskExecutor

def task(i):
    Path(sys.argv[1]).touch()  # a task is running: the cluster is up
    time.sleep(120)
    return i

if __name__ == "__main__":
    try:
        with TaskExecutor(n_workers=1, backend="dask", progress=False) as executor:
            executor.map(task, [0, 1])
    except KeyboardInterrupt:
        print("interrupted in the main process", flush=True)
        sys.exit(130)
"""


def _as_from_a_terminal() -> None:
    """A new process group with the default SIGINT (a background shell ignores it)."""
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_on_a_local_cluster_leaves_it_to_the_main_process(tmp_path: Path) -> None:
    script, started = tmp_path / "run.py", tmp_path / "started"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(started)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        preexec_fn=_as_from_a_terminal,
    )
    try:
        deadline = time.monotonic() + 240
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert started.exists(), "no task started"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted in the main process" in out
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-2000:]
    assert "CancelledError" not in err, err[-2000:]
