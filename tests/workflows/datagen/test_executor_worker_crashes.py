"""Tasks that kill their Dask worker process end as errors; the run never stalls."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("distributed", reason="dask.distributed not installed: uv sync --extra datagen")

TASKS = """
import os, time

def crash_every_third(i):
    time.sleep(0.5 + (i % 3) * 0.3)
    if i % 3 == 0:
        os._exit(3)  # a calculator that segfaults or exits takes its worker with it
    return i
"""

SCRIPT = """
import time
import dask
from crashing_tasks import crash_every_third
from foundation_model.workflows.datagen.executor import TaskExecutor

if __name__ == "__main__":
    # Dask drops a LocalCluster worker's nanny for good when no worker of that name is back
    # this long after one left (15 s by default; 1 s here so the stall, if any, comes fast)
    dask.config.set({"distributed.deploy.lost-worker-timeout": "1s"})
    with TaskExecutor(n_workers=2, backend="dask", progress=False) as executor:
        slow_collect = lambda r: time.sleep(0.5)  # noqa: E731 - a caller storing each result
        results = executor.map(crash_every_third, list(range(12)), on_result=slow_collect)
    for r in results:
        print(r.index, "ok" if r.ok else r.error.split(":")[0], flush=True)
"""


def test_tasks_that_kill_their_worker_are_errors_and_the_others_finish(tmp_path: Path) -> None:
    (tmp_path / "crashing_tasks.py").write_text(textwrap.dedent(TASKS))
    (tmp_path / "run.py").write_text(textwrap.dedent(SCRIPT))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(tmp_path)}
    try:
        proc = subprocess.run(
            [sys.executable, "run.py"], capture_output=True, text=True, env=env, cwd=tmp_path,
            timeout=240,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("the Dask run stalled (no worker left to run the remaining tasks)")
    assert proc.returncode == 0, proc.stderr[-3000:]
    outcome = dict(line.split() for line in proc.stdout.splitlines())
    assert sorted(outcome, key=int) == [str(i) for i in range(12)]  # each task once
    crashed = {str(i) for i in range(0, 12, 3)}
    assert {i for i, o in outcome.items() if o == "KilledWorker"} == crashed
    assert all(outcome[i] == "ok" for i in outcome if i not in crashed)
