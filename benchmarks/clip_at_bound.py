"""What clipping predictions at a physical bound would change (``RegressionTask(min_value)``).

Reads the pooled official-fold test predictions of one uncertainty run
(``<run>/matbench_<task>_uncertainty.npz``, written by ``fm bench matbench --config
results/bench/calibration/<task>_k5dist.yaml``) and scores them as they are and clipped at
each task's physical lower bound. The bounds are facts about the quantities, declared here
before looking at any prediction, not read from the data: band gaps, yield strengths,
exfoliation energies and phonon frequencies are never negative, a refractive index is at
least 1; the log-moduli and formation energies have no bound. Nothing is retrained: the
clip only moves predictions beyond the bound onto it, which can only lower their errors.

    uv run python benchmarks/clip_at_bound.py     # -> results/bench/clip_at_bound.{json,md}
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

#: physical lower bound of each Matbench regression target (None: unbounded)
LOWER_BOUNDS: dict[str, float | None] = {
    "matbench_expt_gap": 0.0,  # eV
    "matbench_steels": 0.0,  # MPa
    "matbench_jdft2d": 0.0,  # meV/atom
    "matbench_phonons": 0.0,  # cm^-1
    "matbench_dielectric": 1.0,  # refractive index
    "matbench_log_gvrh": None,
    "matbench_log_kvrh": None,
    "matbench_perovskites": None,  # formation energy
}


def score(run: Path) -> dict:
    """Per task: MAE as predicted and clipped, and how many predictions the clip moved."""
    out = {}
    for task, bound in LOWER_BOUNDS.items():
        path = run / f"{task}_uncertainty.npz"
        if not path.is_file():
            continue
        data = np.load(path)
        y, pred = data["y"], data["values"]
        clipped = pred if bound is None else np.maximum(pred, bound)
        out[task] = {
            "bound": bound,
            "n": int(len(y)),
            "n_moved": int((clipped != pred).sum()),
            "mae": float(np.abs(pred - y).mean()),
            "mae_clipped": float(np.abs(clipped - y).mean()),
        }
    return out


def markdown(run: Path, result: dict) -> str:
    lines = [
        "# Clipping predictions at a physical lower bound",
        "",
        f"Pooled official-fold test predictions of `{run}` (no retraining); bounds declared "
        "from physics in `benchmarks/clip_at_bound.py`.",
        "",
        "| task | bound | predictions moved | MAE | MAE clipped |",
        "|---|---|---|---|---|",
    ]
    for task, r in result.items():
        bound = "-" if r["bound"] is None else f"{r['bound']:g}"
        lines.append(
            f"| {task.removeprefix('matbench_')} | {bound} | {r['n_moved']} of {r['n']} | "
            f"{r['mae']:.4g} | {r['mae_clipped']:.4g} |"
        )
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    """Score the run and write the JSON and Markdown reports."""
    from foundation_model.utils.atomic import write_json, write_text

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, default=ROOT / "results/bench/calibration/noise_head/k5dist")
    p.add_argument("--out", type=Path, default=ROOT / "results/bench")
    args = p.parse_args(argv)
    result = score(args.run)
    if not result:
        raise SystemExit(f"clip_at_bound: no *_uncertainty.npz in {args.run}.")
    run = args.run.relative_to(ROOT) if args.run.is_relative_to(ROOT) else args.run
    write_json({"run": str(run), "tasks": result}, args.out / "clip_at_bound.json")
    write_text(markdown(run, result), args.out / "clip_at_bound.md")
    print(markdown(run, result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
