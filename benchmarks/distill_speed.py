"""Benchmark: MD cost of the ACE student vs the fine-tuned teacher on a 108-atom cell.

On a shared machine wall-clock speed depends on the load, so both are timed in
alternation (``--repeats`` rounds) and reported as wall steps/s (best round) and as CPU
steps/s (``time.process_time``, the process's own compute, insensitive to other jobs).

Usage:
    uv run python benchmarks/distill_speed.py --run RUN --steps 20 --repeats 3
Writes ``results/bench/distill_speed.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path


def timed_md(calc, atoms, steps: int) -> tuple[float, float]:
    """(wall s, CPU s) of ``steps`` Langevin steps at 600 K."""
    from foundation_model.backbones.md import run_md

    wall, cpu = time.perf_counter(), time.process_time()
    run_md(atoms, calc, temperature_K=600, timestep_fs=2.0, steps=steps,
           sample_interval=steps, max_force=1e9, seed=0)  # fmt: skip
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="fm distill output_dir")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--pretrained",
        nargs="*",
        default=[],
        help="also time e.g. sevennet (same cost as fine-tuned)",
    )
    parser.add_argument("--pretrained-steps", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("results/bench/distill_speed"))
    args = parser.parse_args(argv)

    import torch
    from ase.build import bulk

    from foundation_model.backbones.calculator import MLIPCalculator
    from foundation_model.workflows.distill.student import student_calculator
    from foundation_model.workflows.distill.teacher import load_module

    torch.set_num_threads(1)
    atoms = bulk("Cu", "fcc", 3.70, cubic=True) * (3, 3, 3)
    symbols = atoms.get_chemical_symbols()
    for j in range(0, len(atoms), 4):
        symbols[j] = "Al"
    atoms.set_chemical_symbols(symbols)
    teacher_ckpt = sorted(args.run.glob("*_teacher-*"))[-1] / "teacher.ckpt"
    student_dir = sorted(args.run.glob("*_delta-*"))[-1] / "student"
    calcs = {
        "student": student_calculator(student_dir, active_set=False),
        "teacher": MLIPCalculator(load_module(teacher_ckpt), device="cpu"),
    }
    steps = dict.fromkeys(calcs, args.steps)
    for name in args.pretrained:
        calcs[f"pretrained_{name}"] = MLIPCalculator.from_pretrained(name, device="cpu")
        steps[f"pretrained_{name}"] = args.pretrained_steps
    rounds: dict[str, list] = {name: [] for name in calcs}
    for calc in calcs.values():
        timed_md(calc, atoms, 2)  # warm-up
    for _ in range(args.repeats):
        for name, calc in calcs.items():
            rounds[name].append(timed_md(calc, atoms, steps[name]))
    result = {
        name: {
            "wall_steps_per_s_best": max(steps[name] / w for w, _ in r),
            "cpu_steps_per_s": steps[name] * len(r) / sum(c for _, c in r),
        }
        for name, r in rounds.items()
    }
    summary = {
        "atoms": len(atoms),
        "steps_per_round": args.steps,
        "repeats": args.repeats,
        **result,
        "speedup_cpu": result["student"]["cpu_steps_per_s"] / result["teacher"]["cpu_steps_per_s"],
        "speedup_wall_best": result["student"]["wall_steps_per_s_best"]
        / result["teacher"]["wall_steps_per_s_best"],
        "machine": platform.machine(),
        "torch_threads": 1,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    s, t = result["student"], result["teacher"]
    text = (
        f"# MD cost, ACE student vs SchNet teacher ({len(atoms)} atoms, 1 thread)\n\n"
        f"| model | CPU steps/s | wall steps/s (best of {args.repeats}) |\n|---|---|---|\n"
        f"| student | {s['cpu_steps_per_s']:.1f} | {s['wall_steps_per_s_best']:.1f} |\n"
        f"| teacher | {t['cpu_steps_per_s']:.2f} | {t['wall_steps_per_s_best']:.2f} |\n"
        + "".join(
            f"| {n} | {r['cpu_steps_per_s']:.2f} | {r['wall_steps_per_s_best']:.2f} |\n"
            for n, r in result.items()
            if n.startswith("pretrained_")
        )
        + "\n"
        f"Speed-up: x{summary['speedup_cpu']:.1f} (CPU time), "
        f"x{summary['speedup_wall_best']:.1f} (wall, best round).\n"
    )
    args.out.with_suffix(".md").write_text(text)
    print(text)
    return summary


if __name__ == "__main__":
    main()
