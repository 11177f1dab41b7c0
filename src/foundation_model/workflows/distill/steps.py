"""The seven steps of the distillation workflow as functions of the pipeline and a folder.

Each step reads earlier artifacts through ``pipe.artifact(step, name)``, writes its own
into ``directory`` and returns ``(artifact names, info)``; the pipeline hashes the
artifacts into the state file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundation_model.utils.atomic import write_json
from foundation_model.workflows.distill.dbio import append_structures, count_rows, read_all

if TYPE_CHECKING:
    from foundation_model.workflows.distill.pipeline import DistillPipeline


def _json(path: Path, data: Any) -> None:
    write_json(data, path)  # strict JSON (round 0's missing committee scores are null)


def step_pool(pipe: DistillPipeline, directory: Path) -> tuple[list[str], dict[str, Any]]:
    """Step 1: diverse pool -> ``pool.db``."""
    structures, info = pipe.pool.run(pipe.executor, pipe.seed)
    append_structures(directory / "pool.db", structures)
    _json(directory / "pool.json", info)
    return ["pool.db", "pool.json"], info


def step_active(pipe: DistillPipeline, directory: Path) -> tuple[list[str], dict[str, Any]]:
    """Step 2: committee selection in rounds -> ``oracle_train.db``, ``oracle_test.db``."""
    pool = read_all(pipe.artifact("pool", "pool.db"))
    out = pipe.active_learning.run(
        pool, pipe.oracle, pipe.teacher, directory / "committee", pipe.seed
    )
    append_structures(directory / "oracle_train.db", out["train"])
    append_structures(directory / "oracle_test.db", out["test"])
    _json(directory / "rounds.json", out["rounds"])
    _json(directory / "failures.json", out["failures"])
    info = {
        "oracle_calls": pipe.oracle.calls,
        "oracle_labels_reused": pipe.oracle.reused,
        "train": len(out["train"]),
        "test": len(out["test"]),
        "failures": len(out["failures"]),
        "selected_pool_indices": sorted(a.info["pool_index"] for a in out["train"]),
    }
    names = ["oracle_train.db", "oracle_test.db", "rounds.json", "failures.json"]
    return names, info


def step_teacher(pipe: DistillPipeline, directory: Path) -> tuple[list[str], dict[str, Any]]:
    """Step 3: fine-tune the teacher on the oracle set -> ``teacher.ckpt``."""
    from foundation_model.workflows.distill.evaluation import model_errors
    from foundation_model.workflows.distill.teacher import load_module

    train = read_all(pipe.artifact("active", "oracle_train.db"))
    test = read_all(pipe.artifact("active", "oracle_test.db"))
    path = pipe.teacher.fit(train, directory / "teacher.ckpt", seed=pipe.seed)
    info = {"train": len(train)}
    if test:
        info["test"] = model_errors(load_module(path), test)
    return ["teacher.ckpt"], info


def step_surrogate_md(pipe: DistillPipeline, directory: Path) -> tuple[list[str], dict[str, Any]]:
    """Step 4: guarded teacher MD -> ``surrogate_pool.db`` (MD frames + the pool)."""
    from foundation_model.workflows.datagen.calculators import MLIPSpec

    spec = MLIPSpec(checkpoint=str(pipe.artifact("teacher", "teacher.ckpt")), device="cpu")
    starts = read_all(pipe.artifact("active", "oracle_train.db"))
    frames, trajectories = pipe.surrogate_md.run(starts, spec, pipe.executor, pipe.seed)
    target = directory / "surrogate_pool.db"
    append_structures(target, frames)
    append_structures(target, read_all(pipe.artifact("pool", "pool.db")))
    _json(directory / "trajectories.json", trajectories)
    stopped = sum(1 for t in trajectories if t.get("stopped") or t.get("error"))
    info = {"frames": len(frames), "pool_rows": count_rows(target), "stopped": stopped}
    return ["surrogate_pool.db", "trajectories.json"], info


def step_surrogate_labels(
    pipe: DistillPipeline, directory: Path
) -> tuple[list[str], dict[str, Any]]:
    """Step 5: teacher labels, batch by batch -> ``surrogate.db``."""
    from tqdm.auto import tqdm

    from foundation_model.workflows.datagen.calculators import MLIPSpec
    from foundation_model.workflows.distill.surrogate_labels import label_stream

    source = pipe.artifact("surrogate_md", "surrogate_pool.db")
    spec = MLIPSpec(checkpoint=str(pipe.artifact("teacher", "teacher.ckpt")), device="cpu")
    with tqdm(total=count_rows(source), desc="surrogate labels", disable=not pipe.progress) as bar:
        info = label_stream(
            source, directory / "surrogate.db", spec, pipe.executor, pipe.label_batch_size,
            progress=bar,
        )  # fmt: skip
    _json(directory / "label_failures.json", info["failed"])
    return ["surrogate.db", "label_failures.json"], {
        "labelled": info["labelled"],
        "failed": len(info["failed"]),
    }


def _surrogate_set(pipe: DistillPipeline) -> list:
    rows = read_all(pipe.artifact("surrogate_labels", "surrogate.db"))
    return [a for a in rows if "energy" in a.info and not a.info.get("label_failed")]


def step_student(pipe: DistillPipeline, directory: Path) -> tuple[list[str], dict[str, Any]]:
    """Step 6: linear ACE on the surrogate data -> ``student/student.{yace,yaml,asi,json}``."""
    surrogate = _surrogate_set(pipe)
    student = pipe.student.fit(surrogate, pipe.elements(surrogate))
    info = {"surrogate_structures": len(surrogate)}
    info["active_set"] = _save_student(student, directory / "student", surrogate)
    return ["student"], info


def _save_student(student: Any, directory: Path, structures: list) -> str:
    """Save the potential and its active set; the reason when no active set can be built."""
    from foundation_model.workflows.distill.student import write_active_set

    student.save(directory)
    try:
        write_active_set(student.basis, structures, directory / "student.asi")
    except ValueError as err:  # too few environments of an element for MaxVol
        return f"unavailable: {err}"
    return "student.asi"


def step_delta(pipe: DistillPipeline, directory: Path) -> tuple[list[str], dict[str, Any]]:
    """Step 7: delta learning on the oracle set -> ``student/`` (the final potential)."""
    from foundation_model.workflows.distill.student import ACEStudent

    base = ACEStudent.load(pipe.artifact("student", "student"))
    surrogate = _surrogate_set(pipe)
    oracle = read_all(pipe.artifact("active", "oracle_train.db"))
    corrected = pipe.delta.fit(
        base, pipe.student.rows(base, surrogate), pipe.student.rows(base, oracle)
    )
    info = {"oracle_structures": len(oracle)}
    info["active_set"] = _save_student(corrected, directory / "student", surrogate + oracle)
    return ["student"], info


def step_report(pipe: DistillPipeline, directory: Path) -> tuple[list[str], dict[str, Any]]:
    """Evaluation and report: ``report.json``, ``report.md`` and plots."""
    from foundation_model.workflows.distill.report import write_report

    summary = write_report(pipe, directory)
    return ["report.json", "report.md"], {"files": sorted(summary.get("plots", []))}


STEPS = {
    "pool": step_pool,
    "active": step_active,
    "teacher": step_teacher,
    "surrogate_md": step_surrogate_md,
    "surrogate_labels": step_surrogate_labels,
    "student": step_student,
    "delta": step_delta,
    "report": step_report,
}
