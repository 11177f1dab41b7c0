"""Benchmark: the distilled ACE student vs the fine-tuned teacher on EMT Cu-Al (108 atoms).

Uses the artifacts of a finished ``fm distill`` run (``samples/distill/cu_al_emt.yaml``):

* accuracy: force MAE vs EMT of the teacher, the base student and the delta-corrected
  student on 108-atom Cu3Al-like cells sampled by EMT MD at 600 K (fresh structures, not
  seen in the run);
* speed: MD steps/s of teacher (``MLIPCalculator``) and student (``PyACECalculator``) on the
  108-atom cell, one thread;
* stability: NVT at 600 K with the student (guards on), ``--stability-ps`` picoseconds,
  largest extrapolation grade along the run.

Usage:
    uv run fm distill run --config samples/distill/cu_al_emt.yaml --output_dir RUN
    uv run python benchmarks/distill_student.py --run RUN --stability-ps 10
Writes ``results/bench/distill_student.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np


def test_cells(n: int, seed: int) -> list:
    """108-atom fcc Cu-Al cells (25% Al) from EMT Langevin MD at 600 K, EMT-labelled."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    from foundation_model.backbones.md import run_md

    rng = np.random.default_rng(seed)
    atoms = bulk("Cu", "fcc", 3.70, cubic=True) * (3, 3, 3)
    symbols = atoms.get_chemical_symbols()
    for j in rng.choice(len(atoms), len(atoms) // 4, replace=False):
        symbols[j] = "Al"
    atoms.set_chemical_symbols(symbols)
    result = run_md(atoms, EMT(), temperature_K=600, timestep_fs=2.0, steps=40 * n,
                    sample_interval=40, seed=seed)  # fmt: skip
    return result.frames


def find_step(run: Path, step: str) -> Path:
    matches = sorted(run.glob(f"*_{step}-*"))
    if not matches:
        raise SystemExit(f"No {step} artifacts under {run}: run fm distill first.")
    return matches[-1]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="fm distill output_dir")
    parser.add_argument("--n-test", type=int, default=10)
    parser.add_argument("--speed-steps", type=int, default=20)
    parser.add_argument("--stability-ps", type=float, default=10.0)
    parser.add_argument("--timestep-fs", type=float, default=2.0)
    parser.add_argument("--out", type=Path, default=Path("results/bench/distill_student"))
    args = parser.parse_args(argv)

    import torch

    from foundation_model.backbones.calculator import MLIPCalculator
    from foundation_model.workflows.distill.evaluation import (
        Evaluation,
        calculator_errors,
        model_errors,
    )
    from foundation_model.workflows.distill.student import student_calculator
    from foundation_model.workflows.distill.teacher import load_module

    torch.set_num_threads(1)
    teacher = load_module(find_step(args.run, "teacher") / "teacher.ckpt")
    base = find_step(args.run, "student") / "student"
    final = find_step(args.run, "delta") / "student"
    cells = test_cells(args.n_test, seed=123)
    errors = {
        "teacher": model_errors(teacher, cells),
        "base_student": calculator_errors(student_calculator(base, False), cells),
        "student": calculator_errors(student_calculator(final, False), cells),
    }
    for e in errors.values():
        e.pop("forces_pred"), e.pop("forces_true")
    start = cells[0]
    steps = int(round(args.stability_ps * 1000 / args.timestep_fs))
    ev = Evaluation(md_steps=steps, temperature_K=600.0, timestep_fs=args.timestep_fs,
                    speed_steps=args.speed_steps)  # fmt: skip
    speed = {
        "student_steps_per_s": ev.md_speed(student_calculator(final, False), start, 0),
        "teacher_steps_per_s": ev.md_speed(MLIPCalculator(teacher, device="cpu"), start, 0),
    }
    speed["speedup"] = speed["student_steps_per_s"] / speed["teacher_steps_per_s"]
    t0 = time.perf_counter()
    stability = ev.student_md(student_calculator(final, True), start, seed=7)
    stability["wall_seconds"] = time.perf_counter() - t0
    ratio = errors["student"]["force_mae"] / errors["teacher"]["force_mae"]
    summary = {
        "run": str(args.run),
        "atoms": len(start),
        "test_cells": len(cells),
        "errors_vs_emt": errors,
        "student_over_teacher_force_mae": ratio,
        "md_speed": speed,
        "stability": stability,
        "machine": platform.machine(),
        "torch_threads": 1,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    write_markdown(summary, args.out.with_suffix(".md"))
    plot(stability, args.out.with_suffix(".png"))
    print(args.out.with_suffix(".md").read_text())
    return summary


def write_markdown(s: dict, path: Path) -> None:
    st, sp = s["stability"], s["md_speed"]
    lines = [
        "# Distilled ACE student vs fine-tuned teacher (EMT Cu-Al, 108 atoms)",
        "",
        f"{s['test_cells']} fresh 108-atom cells from EMT MD at 600 K; run `{s['run']}`.",
        "",
        "| model | energy MAE (meV/atom) | force MAE (meV/Å) |",
        "|---|---|---|",
    ]
    for name, e in s["errors_vs_emt"].items():
        lines.append(
            f"| {name} | {1000 * e['energy_mae_per_atom']:.2f} | {1000 * e['force_mae']:.1f} |"
        )
    lines += [
        "",
        f"Student / teacher force MAE: {s['student_over_teacher_force_mae']:.2f}.",
        f"MD speed ({s['atoms']} atoms, 1 thread): student {sp['student_steps_per_s']:.1f} "
        f"steps/s, teacher {sp['teacher_steps_per_s']:.2f} steps/s (x{sp['speedup']:.1f}).",
        f"Stability: NVT 600 K, {st['steps']}/{st['requested_steps']} steps = "
        f"{st['time_ps']:.2f} ps, "
        f"guard: {st['stopped'] or 'none fired'}, largest extrapolation grade "
        f"{np.nanmax(st['max_gamma']):.2f}, wall {st['wall_seconds']:.0f} s.",
    ]
    path.write_text("\n".join(lines) + "\n")


def plot(stability: dict, path: Path) -> None:
    from foundation_model.plotting._figure import new_figure, save

    fig, (ax1, ax2) = new_figure(2)
    t = np.array(stability["frame_steps"]) * stability["time_ps"] / max(stability["steps"], 1)
    ax1.plot(t, stability["energy_per_atom"])
    ax1.set(xlabel="time (ps)", ylabel="energy (eV/atom)", title="student NVT 600 K")
    ax2.plot(t, stability["max_gamma"])
    ax2.set(xlabel="time (ps)", ylabel="max extrapolation grade")
    save(fig, path)


if __name__ == "__main__":
    main()
