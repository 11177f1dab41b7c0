"""The orchestrator: all steps end to end, hashed artifacts, state file, resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pipeline_helpers import seed_file, tiny_pipeline

from foundation_model.workflows.distill.dbio import count_rows
from foundation_model.workflows.distill.state import DistillState
from foundation_model.workflows.distill.steps import STEPS

pytest.importorskip("pyace")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("distill")
    seeds = seed_file(root / "seeds.extxyz")
    pipe = tiny_pipeline(root / "run", seeds)
    status = pipe.run()
    assert set(status.values()) == {"done"} and list(status) == list(STEPS)
    return root


def test_full_run_writes_every_artifact(finished_run: Path) -> None:
    pipe = tiny_pipeline(finished_run / "run", finished_run / "seeds.extxyz")
    state = DistillState.load(pipe.output_dir / "state.json")
    active = state.steps["active"].info
    assert active["oracle_calls"] <= 11 and active["test"] == 3
    assert count_rows(pipe.artifact("active", "oracle_train.db")) == active["train"]
    rounds = json.loads(
        pipe.artifact("active", "rounds.json").read_text(), parse_constant=pytest.fail
    )
    assert [r["round"] for r in rounds][:2] == [0, 1]
    assert rounds[0]["test_force_mae"] is None  # strict JSON: no committee in round 0
    assert pipe.artifact("delta", "student").joinpath("student.yace").is_file()
    assert pipe.artifact("delta", "student").joinpath("student.asi").is_file()
    report = json.loads(pipe.artifact("report", "report.json").read_text())
    assert set(report["errors_vs_oracle"]) == {"teacher", "base_student", "student"}
    assert report["student_md"]["steps"] > 0 and report["md_speed"]["speedup"] > 0
    assert len(report["plots"]) == 3
    # every artifact folder is named after the hash of the config that produced it
    for name, record in state.steps.items():
        assert record.directory.endswith(record.config_hash[:10]) and name in record.directory


def test_the_run_folder_names_its_final_student(finished_run: Path, tmp_path: Path) -> None:
    from foundation_model.workflows.distill.student import current_student, student_calculator

    pipe = tiny_pipeline(finished_run / "run", finished_run / "seeds.extxyz")
    final = pipe.artifact("delta", "student")
    assert current_student(pipe.output_dir) == final
    assert current_student(final) == final
    calc = student_calculator(pipe.output_dir)
    assert calc.elements == json.loads((final / "student.json").read_text())["elements"]
    with pytest.raises(FileNotFoundError, match="no fm distill run"):
        current_student(tmp_path)
    unfinished = _copy_run(finished_run, tmp_path)
    state = json.loads((unfinished / "state.json").read_text())
    for step in ("student", "delta"):
        state["steps"][step]["status"] = "running"
    (unfinished / "state.json").write_text(json.dumps(state))
    with pytest.raises(FileNotFoundError, match="no finished student yet"):
        current_student(unfinished)


def _copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src / "run", dst / "run")
    return dst / "run"


# a kill in the middle (teacher) and near the end (delta) run by default; every step with -m slow
FAST_KILLS = ("teacher", "delta")


@pytest.mark.parametrize(
    "killed",
    [k if k in FAST_KILLS else pytest.param(k, marks=pytest.mark.slow) for k in STEPS],
)
def test_resume_after_a_kill_at_each_step(finished_run: Path, tmp_path: Path, killed) -> None:
    run_dir = _copy_run(finished_run, tmp_path)
    state = DistillState.load(run_dir / "state.json")
    names = list(STEPS)
    # what a kill during step `killed` leaves: that step 'running' with partial output,
    # later steps never started
    for name in names[names.index(killed) :]:
        record = state.steps[name]
        if name == killed:
            record.status = "running"
            folder = run_dir / record.directory
            for child in folder.iterdir():
                (shutil.rmtree if child.is_dir() else Path.unlink)(child)
                break
        else:
            del state.steps[name]
    state.save()
    runs_before = {n: r.runs for n, r in state.steps.items()}
    pipe = tiny_pipeline(run_dir, finished_run / "seeds.extxyz")
    with pytest.raises(FileExistsError, match="--resume"):
        pipe.run()
    status = pipe.run(resume=True)
    assert set(status.values()) == {"done"}
    after = DistillState.load(run_dir / "state.json")
    for name in names[: names.index(killed)]:
        assert after.steps[name].runs == runs_before[name]  # verified, not redone
    assert after.steps[killed].runs == runs_before[killed] + 1
    if killed in ("teacher", "report"):
        assert pipe.oracle.calls == after.steps["active"].info["oracle_calls"]


def test_resume_redoes_a_step_whose_artifact_changed(finished_run: Path, tmp_path) -> None:
    run_dir = _copy_run(finished_run, tmp_path)
    pipe = tiny_pipeline(run_dir, finished_run / "seeds.extxyz")
    before = DistillState.load(run_dir / "state.json")
    json_path = pipe.artifact("surrogate_md", "trajectories.json")
    json_path.write_text(json_path.read_text() + " ")
    pipe.run(resume=True)
    after = DistillState.load(run_dir / "state.json")
    assert after.steps["teacher"].runs == before.steps["teacher"].runs
    assert after.steps["surrogate_md"].runs == before.steps["surrogate_md"].runs + 1


def test_resume_after_a_settings_change_pays_no_oracle_call_twice(finished_run, tmp_path) -> None:
    from pipeline_helpers import TINY_SCHNET

    from foundation_model.workflows.distill.oracles.emt import EMTOracle
    from foundation_model.workflows.distill.teacher import TeacherTrainer

    run_dir = _copy_run(finished_run, tmp_path)
    seeds = finished_run / "seeds.extxyz"
    before = DistillState.load(run_dir / "state.json")
    # the teacher's epochs do not enter the committee: active learning stays verified
    longer = TeacherTrainer(TINY_SCHNET, epochs=3, batch_size=4)
    tiny_pipeline(run_dir, seeds, teacher=longer).run(resume=True, stop_after="teacher")
    mid = DistillState.load(run_dir / "state.json")
    assert mid.steps["active"].runs == before.steps["active"].runs
    assert mid.steps["teacher"].runs == before.steps["teacher"].runs + 1
    # a raised budget redoes active learning, with every label served from the run's cache
    pipe = tiny_pipeline(run_dir, seeds, oracle=EMTOracle(budget=12), teacher=longer)
    pipe.run(resume=True, stop_after="active")
    after = DistillState.load(run_dir / "state.json").steps["active"]
    old = before.steps["active"].info
    assert after.runs == before.steps["active"].runs + 1
    assert after.info["oracle_labels_reused"] == old["train"] + old["test"]
    assert after.info["oracle_calls"] == old["oracle_calls"]
    assert after.info["selected_pool_indices"] == old["selected_pool_indices"]


def test_a_slab_pool_distils_end_to_end(tmp_path: Path) -> None:
    """Slabs (pbc partly False) reach the ACE student as their periodic equivalent: every
    step finishes and the corrected student is evaluated on the slab test set."""
    from pipeline_helpers import slab_seed_file

    seeds = slab_seed_file(tmp_path / "slabs.extxyz")
    pipe = tiny_pipeline(tmp_path / "run", seeds)
    status = pipe.run()
    assert set(status.values()) == {"done"}
    report = json.loads(pipe.artifact("report", "report.json").read_text())
    student = report["errors_vs_oracle"]["student"]
    assert 0 < student["force_mae"] < report["errors_vs_oracle"]["teacher"]["force_mae"]
    assert max(report["student_md"]["max_gamma"]) > 0  # graded: the active set was built


def test_the_progress_bar_ends_on_done(finished_run: Path, tmp_path: Path, capfd) -> None:
    from foundation_model.workflows.distill.evaluation import Evaluation

    run_dir = _copy_run(finished_run, tmp_path)
    capfd.readouterr()
    other = Evaluation(md_steps=12, speed_steps=2)  # redoes the report only
    pipe = tiny_pipeline(run_dir, finished_run / "seeds.extxyz", evaluation=other, progress=True)
    pipe.run(resume=True)
    bar = capfd.readouterr().err.split("fm distill:")[-1]
    assert "8/8" in bar and "report: done" in bar and "running" not in bar


def test_ctrl_c_inside_lightning_is_an_interrupt(finished_run, tmp_path, monkeypatch) -> None:
    """Lightning turns Ctrl-C during training into SystemExit(1); the step is recorded as
    interrupted and a KeyboardInterrupt reaches the CLI, which prints how to resume."""
    run_dir = _copy_run(finished_run, tmp_path)
    state = DistillState.load(run_dir / "state.json")
    del state.steps["report"]
    state.save()

    def lightning_like(pipe, directory):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise SystemExit(1) from None

    monkeypatch.setitem(STEPS, "report", lightning_like)
    pipe = tiny_pipeline(run_dir, finished_run / "seeds.extxyz")
    with pytest.raises(KeyboardInterrupt):
        pipe.run(resume=True)
    record = DistillState.load(run_dir / "state.json").steps["report"]
    assert record.status == "failed" and record.error == "interrupted (Ctrl-C)"
