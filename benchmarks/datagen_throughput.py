"""Exploration throughput of ``fm datagen`` (EMT): 2 worker processes vs 1.

Writes ``results/bench/datagen_throughput.json`` and ``.md``. Run from the repository root::

    OMP_NUM_THREADS=1 uv run python benchmarks/datagen_throughput.py [--trajectories 8 --steps 300]

Other processes share this machine's two cores, so the ratio depends on their load: the load
average is recorded with each measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from foundation_model.workflows.datagen.calculators import EMTSpec
from foundation_model.workflows.datagen.executor import TaskExecutor
from foundation_model.workflows.datagen.explore.explorer import MDExplorer, run_trajectory
from foundation_model.workflows.datagen.generators import AlloyGenerator


def measure(n_workers: int, tasks: list, warm: bool) -> dict[str, float]:
    """Wall time of exploring ``tasks`` on ``n_workers`` processes (pool start included unless
    ``warm``: then the pool first runs a throw-away map)."""
    with TaskExecutor(n_workers=n_workers, progress=False) as ex:
        if warm:
            ex.map(run_trajectory, tasks[:n_workers])
        load = os.getloadavg()[0]
        start = time.perf_counter()
        results = ex.map(run_trajectory, tasks)
        seconds = time.perf_counter() - start
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    steps = sum(r.value.steps for r in results)
    return {"seconds": seconds, "md_steps": steps, "steps_per_s": steps / seconds, "load1": load}


def main() -> None:
    """1 vs 2 workers, cold and warm pools."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--trajectories", type=int, default=8)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--out", type=Path, default=Path("results/bench/datagen_throughput"))
    args = p.parse_args()
    seeds = AlloyGenerator(
        ["Cu", "Al"], [0.75, 0.25], supercell=(3, 3, 3), n_structures=args.trajectories
    ).generate(0)
    explorer = MDExplorer(
        EMTSpec(), temperatures=[800.0], steps=args.steps, sample_interval=50, ensemble="nvt"
    )
    tasks = explorer.tasks(seeds, seed=0)
    rows = {}
    for warm in (False, True):
        for n in (1, 2):
            rows[f"{n}_workers_{'warm' if warm else 'cold'}"] = measure(n, tasks, warm)
    ratio_cold = rows["2_workers_cold"]["steps_per_s"] / rows["1_workers_cold"]["steps_per_s"]
    ratio_warm = rows["2_workers_warm"]["steps_per_s"] / rows["1_workers_warm"]["steps_per_s"]
    result = {
        "trajectories": len(tasks),
        "atoms": len(seeds[0]),
        "steps": args.steps,
        "runs": rows,
        "speedup_2_vs_1_cold": ratio_cold,
        "speedup_2_vs_1_warm": ratio_warm,
        "cpu_count": os.cpu_count(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    md = [
        "# Exploration throughput (fm datagen, EMT)",
        "",
        f"{len(tasks)} NVT trajectories x {args.steps} steps of {len(seeds[0])}-atom Cu-Al cells. "
        "Command: `OMP_NUM_THREADS=1 uv run python benchmarks/datagen_throughput.py "
        f"--trajectories {args.trajectories} --steps {args.steps}`.",
        "1 worker runs in-process; 2 workers are a spawn `ProcessPoolExecutor` (cold: pool start "
        "included; warm: pool already running).",
        "",
        "| run | seconds | MD steps/s | load average (1 min) at start |",
        "|---|---|---|---|",
    ]
    for name, r in rows.items():
        md.append(f"| {name} | {r['seconds']:.1f} | {r['steps_per_s']:.1f} | {r['load1']:.2f} |")
    md += [
        "",
        f"Speed-up 2 vs 1 worker: cold {ratio_cold:.2f}x, warm {ratio_warm:.2f}x. The machine "
        "has 2 cores shared with other jobs (see the load averages), so the second worker "
        "competes with them.",
    ]
    args.out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
