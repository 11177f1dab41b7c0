"""The final report of ``fm distill``: ``report.json``, ``report.md`` and three plots.

* ``plots/error_vs_oracle_calls.png`` - committee force MAE on the oracle test set per round.
* ``plots/parity_forces.png`` - teacher, base student and corrected student vs the oracle.
* ``plots/student_md.png`` - energy and largest extrapolation grade along the student MD.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foundation_model.plotting._figure import new_figure, save
from foundation_model.utils.atomic import json_safe
from foundation_model.workflows.distill.dbio import read_all

if TYPE_CHECKING:
    from foundation_model.workflows.distill.pipeline import DistillPipeline

PARITY_KEYS = ("forces_pred", "forces_true")


def _evaluate(pipe: DistillPipeline) -> dict[str, Any]:
    from foundation_model.backbones.calculator import MLIPCalculator
    from foundation_model.workflows.distill.evaluation import calculator_errors, model_errors
    from foundation_model.workflows.distill.student import student_calculator
    from foundation_model.workflows.distill.teacher import load_module

    test = read_all(pipe.artifact("active", "oracle_test.db"))
    teacher = load_module(pipe.artifact("teacher", "teacher.ckpt"))
    base_dir, final_dir = pipe.artifact("student", "student"), pipe.artifact("delta", "student")
    out: dict[str, Any] = {}
    if test:
        out["errors_vs_oracle"] = {
            "teacher": model_errors(teacher, test),
            "base_student": calculator_errors(student_calculator(base_dir, False), test),
            "student": calculator_errors(student_calculator(final_dir, False), test),
        }
    start = pipe.evaluation.start_structure(test or read_all(pipe.artifact("pool", "pool.db")))
    graded = student_calculator(final_dir, active_set=True)
    out["student_md"] = pipe.evaluation.student_md(graded, start, pipe.seed)
    student_speed = pipe.evaluation.md_speed(student_calculator(final_dir, False), start, 0)
    teacher_speed = pipe.evaluation.md_speed(MLIPCalculator(teacher, device="cpu"), start, 0)
    out["md_speed"] = {
        "atoms": len(start),
        "student_steps_per_s": student_speed,
        "teacher_steps_per_s": teacher_speed,
        "speedup": student_speed / teacher_speed if teacher_speed > 0 else float("nan"),
    }
    return out


def _plots(summary: dict[str, Any], directory: Path) -> list[str]:
    files = []
    rounds = [r for r in summary["rounds"] if r["round"] > 0]
    if rounds:
        fig, (ax,) = new_figure()
        ax.plot([r["oracle_calls"] for r in rounds], [r["test_force_mae"] for r in rounds], "o-")
        ax.set(xlabel="oracle calls (training set)", ylabel="committee force MAE (eV/Å)")
        ax.set_title("error vs oracle calls")
        files.append(save(fig, directory / "plots" / "error_vs_oracle_calls.png"))
    errors = summary.get("errors_vs_oracle")
    if errors:
        fig, (ax,) = new_figure()
        for name, marker in (("teacher", "o"), ("base_student", "x"), ("student", ".")):
            e = errors[name]
            label = f"{name} ({1000 * e['force_mae']:.1f} meV/Å)"
            ax.plot(e["forces_true"], e["forces_pred"], marker, ms=3, alpha=0.5, label=label)
        lims = ax.get_xlim()
        ax.plot(lims, lims, "k--", lw=0.8)
        ax.set(xlabel="oracle force (eV/Å)", ylabel="predicted force (eV/Å)")
        ax.legend(fontsize=7)
        files.append(save(fig, directory / "plots" / "parity_forces.png"))
    md = summary["student_md"]
    if md["frame_steps"]:
        fig, (ax1, ax2) = new_figure(2)
        ax1.plot(md["frame_steps"], md["energy_per_atom"])
        ax1.set(xlabel="MD step", ylabel="energy (eV/atom)", title="student NVT")
        ax2.plot(md["frame_steps"], md["max_gamma"])
        ax2.axhline(1.0, color="k", ls="--", lw=0.8)
        ax2.set(xlabel="MD step", ylabel="max extrapolation grade")
        files.append(save(fig, directory / "plots" / "student_md.png"))
    return [str(Path(f).relative_to(directory)) for f in files]


def _mae_mev(value: float | None) -> str:
    """A force MAE in meV/Å, or ``-`` where there is none (round 0 has no committee yet)."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{1000 * value:.1f}"


def _largest_gamma(values: list[float]) -> str:
    """The largest extrapolation grade, or ``n/a`` without one (no active set: NaN)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return f"{max(finite):.2f}" if finite else "n/a"


def _markdown(s: dict[str, Any]) -> str:
    lines = [
        "# fm distill report",
        "",
        f"Oracle: `{s['oracle']}`; calls spent {s['oracle_calls']} (budget {s['budget']}"
        + (
            f"; {s['oracle_labels_reused']} of them computed in an earlier attempt and "
            "served from the run's label cache"
            if s.get("oracle_labels_reused")
            else ""
        )
        + "), "
        f"training set {s['oracle_train']}, test set {s['oracle_test']}, "
        f"failures {s['oracle_failures']}.",
        "",
        f"Pool: {s['pool_structures']} structures"
        + (
            f" ({s['pool_duplicates_removed']} identical duplicates removed before the "
            "test/train selection)."
            if s.get("pool_duplicates_removed")
            else "."
        ),
        "",
        "| round | oracle calls so far (training set; the test set's are counted above) "
        "| labelled | committee force MAE (meV/Å) |",
        "|---|---|---|---|",
    ]
    for r in s["rounds"]:
        lines.append(
            f"| {r['round']} | {r['oracle_calls']} | {r['labelled']} | "
            f"{_mae_mev(r['test_force_mae'])} |"
        )
    errors = s.get("errors_vs_oracle", {})
    if errors:
        lines += ["", "| model | energy MAE (meV/atom) | force MAE (meV/Å) |", "|---|---|---|"]
        for name, e in errors.items():
            lines.append(
                f"| {name} | {1000 * e['energy_mae_per_atom']:.2f} | {1000 * e['force_mae']:.1f} |"
            )
    md, speed = s["student_md"], s["md_speed"]
    lines += [
        "",
        f"Student NVT at {s['md_temperature_K']} K: {md['steps']}/{md['requested_steps']} steps "
        f"({md['time_ps']:.3f} ps) on {md['atoms']} atoms; guard: {md['stopped'] or 'none fired'}; "
        f"largest extrapolation grade {_largest_gamma(md['max_gamma'])}.",
        f"MD speed on {speed['atoms']} atoms: student {speed['student_steps_per_s']:.1f} steps/s, "
        f"teacher {speed['teacher_steps_per_s']:.1f} steps/s (x{speed['speedup']:.1f}).",
        "",
        f"Potential: `{s['potential']}` (active set: {s['active_set']}).",
    ]
    lines += [f"![{p}]({p})" for p in s.get("plots", [])]
    return "\n".join(lines) + "\n"


def write_report(pipe: DistillPipeline, directory: Path) -> dict[str, Any]:
    """Evaluate, plot and write ``report.json`` / ``report.md`` into ``directory``."""
    active = pipe.state.steps["active"]
    final_dir = pipe.artifact("delta", "student")
    pool = pipe.state.steps["pool"].info
    summary: dict[str, Any] = {
        "oracle": type(pipe.oracle).__name__,
        "pool_structures": pool.get("pool"),
        "pool_duplicates_removed": pool.get("duplicates_removed", 0),
        "oracle_calls": active.info.get("oracle_calls"),
        "oracle_labels_reused": active.info.get("oracle_labels_reused", 0),
        "budget": pipe.oracle.budget,
        "oracle_train": active.info.get("train"),
        "oracle_test": active.info.get("test"),
        "oracle_failures": active.info.get("failures"),
        "rounds": json.loads(pipe.artifact("active", "rounds.json").read_text()),
        "md_temperature_K": pipe.evaluation.temperature_K,
        "potential": str(final_dir / "student.yace"),
        "active_set": pipe.state.steps["delta"].info.get("active_set", ""),
        "steps": {n: {"seconds": r.seconds, **r.info} for n, r in pipe.state.steps.items()},
    }
    summary.update(_evaluate(pipe))
    summary["plots"] = _plots(summary, directory)
    slim = json_safe(json.loads(json.dumps(summary, default=str)))
    for e in slim.get("errors_vs_oracle", {}).values():
        for key in PARITY_KEYS:
            e.pop(key, None)
    (directory / "report.json").write_text(json.dumps(slim, indent=2, allow_nan=False) + "\n")
    (directory / "report.md").write_text(_markdown(summary))
    return slim
