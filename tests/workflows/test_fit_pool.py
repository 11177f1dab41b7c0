"""FitPool: a network trained in a worker process gives what this process gives with the
same thread count."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from foundation_model.cli.lightning_cli import load_fit_config
from foundation_model.workflows.fit_pool import FitCall, FitPool
from synthetic_tables import bench_config


def _config(tmp_path: Path, names: tuple[str, ...] = ("target",)) -> dict:
    cfg = bench_config(names=names)
    cfg["trainer"]["max_epochs"] = 3
    path = tmp_path / f"pool{len(names)}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return load_fit_config(path)


def _data() -> tuple[pd.DataFrame, pd.Series, list[str]]:
    rng = np.random.default_rng(0)
    ids = [f"r{i}" for i in range(120)]
    x = pd.DataFrame(rng.normal(size=(120, 6)), index=ids, columns=[f"d{i}" for i in range(6)])
    return x, pd.Series(x["d0"] * 2.0 + 1.0, index=ids), ids


def test_workers_give_what_one_process_gives_in_call_order(tmp_path, monkeypatch):
    """Also, in the same pool (each pool start imports torch in two workers): a main module
    whose file must not run again (no ``__main__`` guard, or a page script that is gone:
    Streamlit's AppTest leaves one behind) does not reach the workers, and an error in a
    worker reaches the caller."""
    import sys
    import types

    cfg = _config(tmp_path)
    x, y, ids = _data()
    calls = [  # 20, 15 and 10 test rows: a swapped result would show
        FitCall(cfg, x, y, ids[:100], ids[100 + 5 * i :], seed=i) for i in range(3)
    ]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what each of the two workers gets
    try:
        here = FitPool(1).run(calls)
    finally:
        torch.set_num_threads(threads)
    script = tmp_path / "page.py"
    script.write_text("raise SystemExit('the main script ran in a worker')\n")
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", main)
    bad = FitCall(_config(tmp_path, ("a", "b")), x, y, ids[:100], ids[100:], seed=0)
    with FitPool(2, threads=2) as pool:
        assert pool.threads_per_worker == 1
        apart = pool.run(calls)
        with pytest.raises(ValueError, match="exactly one task"):
            pool.run([bad])
    assert sys.modules["__main__"] is main
    for a, b in zip(here, apart, strict=True):  # same network, same threads: same numbers
        np.testing.assert_array_equal(a.prediction.values, b.prediction.values)
        assert a.prediction.val_score == b.prediction.val_score
        assert b.seconds > 0 and b.finished_at > 0
    assert [len(r.prediction.values) for r in apart] == [20, 15, 10]
    assert [r.finished_at for r in here] == sorted(r.finished_at for r in here)


def test_workers_below_one_is_refused():
    with pytest.raises(ValueError, match="--workers must be at least 1"):
        FitPool(0)
    assert FitPool(4, threads=2).threads_per_worker == 1
    assert FitPool(2, threads=8).threads_per_worker == 4
    with pytest.raises(RuntimeError, match="inside `with FitPool"):
        FitPool(2).run([])  # workers are started by the context manager only


_LONG_RUN = """
import sys, threading, time, pathlib
sys.path[:0] = {paths!r}
import numpy as np, pandas as pd, yaml
from foundation_model.cli.lightning_cli import load_fit_config
from foundation_model.workflows.fit_pool import FitCall, FitPool
from synthetic_tables import bench_config

cfg = bench_config()
cfg["trainer"]["max_epochs"] = 100000  # trains until killed
path = pathlib.Path({tmp!r}) / "long.yaml"
path.write_text(yaml.safe_dump(cfg))
cfg = load_fit_config(path)
ids = [f"r{{i}}" for i in range(120)]
x = pd.DataFrame(np.random.default_rng(0).normal(size=(120, 4)), index=ids)
x.columns = [f"d{{i}}" for i in range(4)]
y = pd.Series(x["d0"], index=ids)
with FitPool(2, threads=2) as pool:
    calls = [FitCall(cfg, x, y, ids[:100], ids[100:], seed=s) for s in range(2)]
    threading.Thread(target=pool.run, args=(calls,), daemon=True).start()
    while len(pool._executor._processes or {{}}) < 2:
        time.sleep(0.1)
    print(" ".join(str(p) for p in pool._executor._processes), flush=True)
    time.sleep(3600)
"""


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in state  # exited, not yet reaped by a non-reaping init


def test_workers_do_not_outlive_their_parent(tmp_path):
    """A killed parent leaves no worker behind: one would otherwise train the calls still
    queued for it, or wait on the dead parent's queue forever. The parent is killed while the
    workers may still be importing torch (the subtle case: a parent taken from ``getppid()``
    after it died would be init)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    if not Path("/proc").is_dir():
        pytest.skip("needs /proc to see the workers")
    root = Path(__file__).resolve().parents[2]
    script = tmp_path / "long_run.py"
    paths = [str(root / "src"), str(root / "tests")]
    script.write_text(_LONG_RUN.format(paths=paths, tmp=str(tmp_path)))
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        workers = [int(p) for p in proc.stdout.readline().split()]
        assert len(workers) == 2
        proc.kill()
        deadline = time.monotonic() + 30
        while not all(_gone(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert all(_gone(p) for p in workers), "workers left running after their parent died"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


@dataclass(frozen=True)
class _DyingCall(FitCall):
    """A call whose worker process dies as an out-of-memory kill would end it."""

    def run(self) -> tuple:
        os._exit(9)


def test_a_worker_that_dies_is_said_and_fresh_workers_take_the_next_calls(tmp_path):
    cfg = _config(tmp_path)
    x, y, ids = _data()
    good = FitCall(cfg, x, y, ids[:100], ids[100:], seed=0)
    dying = _DyingCall(cfg, x, y, ids[:100], ids[100:], seed=0)
    with FitPool(2, threads=2) as pool:
        with pytest.raises(RuntimeError, match="A worker process died while training") as err:
            pool.run([dying, good])
        assert "\n" not in str(err.value) and "fewer --workers" in str(err.value)
        (after,) = pool.run([good])  # the next fold of a benchmark still trains
    assert after.prediction.values.shape == (20,)
