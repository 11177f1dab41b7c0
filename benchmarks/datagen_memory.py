"""Late binding: what workers receive and hold as the model grows.

For SchNet backbones of growing width (random weights, through ``MLIPCalculator``), 8 tasks run
on 2 spawn worker processes in two ways:

* late binding (``fm datagen``): each task carries an ``ImportedCalculatorSpec``; a worker
  builds the model once (``cached_calculator``) and reuses it;
* early binding: each task carries the built calculator (the pickled model).

Recorded per model size: pickled bytes per task, and each worker's unique memory (USS) after
its tasks. Writes ``results/bench/datagen_memory.json`` and ``.md``. Run from the repository
root::

    OMP_NUM_THREADS=1 uv run python benchmarks/datagen_memory.py
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np


def schnet_calculator(hidden: int, seed: int = 0) -> Any:
    """An ``MLIPCalculator`` over a SchNet backbone of width ``hidden`` (random weights)."""
    import torch

    from foundation_model.backbones import MLIPCalculator, SchNetBackbone

    torch.manual_seed(seed)
    backbone = SchNetBackbone(
        cutoff=4.0, hidden=hidden, num_interactions=3, num_rbf=16, elements=["Cu", "Al"]
    )
    return MLIPCalculator(backbone, device="cpu")


def _uss() -> float:
    import psutil

    return psutil.Process().memory_full_info().uss / 2**20


def energy_late(task: tuple) -> tuple[int, float, float]:
    """Worker: build (once per process) from the spec, evaluate, report pid and USS (MiB)."""
    from foundation_model.workflows.datagen.calculators import cached_calculator

    atoms, spec = task
    atoms = atoms.copy()
    atoms.calc = cached_calculator(spec)
    return os.getpid(), float(atoms.get_potential_energy()), _uss()


def energy_early(task: tuple) -> tuple[int, float, float]:
    """Worker: use the calculator unpickled with the task."""
    atoms, calc = task
    atoms = atoms.copy()
    atoms.calc = calc
    return os.getpid(), float(atoms.get_potential_energy()), _uss()


def run(hidden: int, n_tasks: int, early: bool) -> dict[str, Any]:
    from ase.build import bulk

    from foundation_model.workflows.datagen.calculators import ImportedCalculatorSpec
    from foundation_model.workflows.datagen.executor import TaskExecutor

    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    if early:
        payload: Any = schnet_calculator(hidden)
        fn = energy_early
    else:
        payload = ImportedCalculatorSpec("datagen_memory.schnet_calculator", {"hidden": hidden})
        fn = energy_late
    tasks = [(atoms, payload) for _ in range(n_tasks)]
    task_bytes = len(pickle.dumps(tasks[0]))
    with TaskExecutor(n_workers=2, progress=False) as ex:
        results = ex.map(fn, tasks)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    per_worker: dict[int, float] = {}
    for r in results:
        pid, _, uss = r.value
        per_worker[pid] = max(per_worker.get(pid, 0.0), uss)
    energies = {round(r.value[1], 6) for r in results}
    return {
        "task_bytes": task_bytes,
        "worker_uss_mib": sorted(per_worker.values()),
        "n_distinct_energies": len(energies),
    }


def main() -> None:
    """Late vs early binding for three model widths."""
    import torch

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--hidden", type=int, nargs="+", default=[64, 512, 1536])
    p.add_argument("--tasks", type=int, default=8)
    p.add_argument("--out", type=Path, default=Path("results/bench/datagen_memory"))
    args = p.parse_args()
    rows = []
    for hidden in args.hidden:
        model = schnet_calculator(hidden).module
        n_params = sum(t.numel() for t in model.parameters())
        row = {"hidden": hidden, "parameters": n_params, "model_mib": n_params * 4 / 2**20}
        for mode in ("late", "early"):
            row[mode] = run(hidden, args.tasks, early=mode == "early")
        rows.append(row)
        print(json.dumps(row))
    result = {"tasks": args.tasks, "workers": 2, "torch": torch.__version__, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    md = [
        "# Late binding: bytes per task and worker memory (fm datagen)",
        "",
        f"{args.tasks} tasks on 2 spawn workers; SchNet (3 interactions) through MLIPCalculator. "
        "Command: `OMP_NUM_THREADS=1 uv run python benchmarks/datagen_memory.py`.",
        "",
        "| hidden | parameters | model MiB | bytes/task late | bytes/task early | "
        "worker USS MiB late | worker USS MiB early |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        late, early = r["late"], r["early"]
        md.append(
            f"| {r['hidden']} | {r['parameters']:,} | {r['model_mib']:.1f} "
            f"| {late['task_bytes']:,} | {early['task_bytes']:,} "
            f"| {np.round(late['worker_uss_mib'], 0).tolist()} "
            f"| {np.round(early['worker_uss_mib'], 0).tolist()} |"
        )
    args.out.with_suffix(".md").write_text("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
