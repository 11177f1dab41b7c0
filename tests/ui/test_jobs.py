"""JobManager: real background processes, found again from disk, logs, progress, stop."""

from __future__ import annotations

import sys
import time

import pytest

from foundation_model.ui.jobs import JobManager, Progress, parse_progress, tail_text


def wait_until(predicate, timeout=30.0):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_successful_job_logs_and_records_exit_code(tmp_path):
    manager = JobManager(tmp_path / "jobs")
    script = "import time\nfor i in range(3):\n    print(f'step {i + 1}/3', flush=True)\n"
    job = manager.launch("demo", [sys.executable, "-c", script], config_path="cfg.yaml")
    assert wait_until(lambda: job.status() != "running")
    assert job.status() == "succeeded"
    state = job.state()
    assert state["returncode"] == 0 and state["config_path"] == "cfg.yaml"
    assert state["finished"] >= state["started"]
    assert "step 3/3" in job.log_tail()
    assert job.progress() == Progress("step", 3, 3)
    assert (job.folder / "log.txt").read_text().startswith("$ ")


def test_failed_job_and_a_command_that_does_not_exist(tmp_path):
    manager = JobManager(tmp_path / "jobs")
    bad = manager.launch("demo", [sys.executable, "-c", "raise SystemExit(3)"])
    missing = manager.launch("demo", [str(tmp_path / "no-such-program")])
    assert wait_until(lambda: not bad.is_running() and not missing.is_running())
    assert bad.status() == "failed" and bad.state()["returncode"] == 3
    assert missing.status() == "failed" and missing.state()["returncode"] == 127
    assert "could not start" in missing.log_tail()


def test_running_job_is_found_again_by_a_new_manager_and_stopped(tmp_path):
    job = JobManager(tmp_path / "jobs").launch(
        "long",
        [sys.executable, "-c", "import time\nprint('re' + 'ady', flush=True)\ntime.sleep(60)"],
    )
    assert wait_until(lambda: "ready" in job.log_tail())
    # a fresh manager (as after a page reload) sees the same job as running
    again = JobManager(tmp_path / "jobs")
    found = again.latest("long", running_only=True)
    assert found is not None and found.folder == job.folder
    assert again.latest("other") is None
    assert found.stop()
    assert wait_until(lambda: found.status() != "running")
    assert found.status() == "stopped"
    assert not found.stop()


def test_jobs_are_listed_newest_first_by_kind(tmp_path):
    manager = JobManager(tmp_path / "jobs")
    first = manager.launch("a", [sys.executable, "-c", "pass"])
    time.sleep(0.05)
    second = manager.launch("a", [sys.executable, "-c", "pass"])
    manager.launch("b", [sys.executable, "-c", "pass"])
    assert [j.folder for j in manager.jobs("a")] == [second.folder, first.folder]
    assert len(manager.jobs()) == 3
    assert JobManager(tmp_path / "none").jobs() == []


def test_lost_job_when_supervisor_vanished(tmp_path):
    manager = JobManager(tmp_path / "jobs")
    job = manager.launch("a", [sys.executable, "-c", "pass"])
    assert wait_until(lambda: job.status() == "succeeded")
    # simulate a machine restart: the exit code was never written and the pid is gone
    state = job.state()
    state["returncode"] = None
    (job.folder / "job.json").write_text(__import__("json").dumps(state))
    (job.folder / "runner.pid").write_text("999999999")
    assert job.status() == "lost"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("explore:  40%|####      | 4/10 [00:01<00:02]", Progress("explore", 4, 10)),
        ("a 10%|#  | 1/10\rsample:  50%|##### | 5/10\r", Progress("sample", 5, 10)),
        ("[stage 2/4] exploring\nlog line", Progress("stage", 2, 4)),
        ("nothing here", None),
        ("ratio 7/3 is not progress", None),
    ],
)
def test_parse_progress(text, expected):
    assert parse_progress(text) == expected


def test_tail_collapses_carriage_returns(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("first\nbar 1\rbar 2\rbar 3\nlast\n")
    assert tail_text(log) == "first\nbar 3\nlast\n"
    assert tail_text(log, max_lines=2) == "last\n"
    assert tail_text(tmp_path / "missing") == ""
    # tqdm's nested bars move the cursor up (ESC[A) between redraws: not shown as text
    log.write_text("labels:  50%|#####     | 1/2\x1b[A\x1b[A\rlabels: 100%|##########| 2/2\n")
    assert tail_text(log) == "labels: 100%|##########| 2/2\n"
