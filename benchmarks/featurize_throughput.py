"""Featurization throughput (formulas/s), cold and cached, written to results/bench/featurize.json.

Run from the repository root (after ``fm data matbench``, or it builds expt_gap itself)::

    uv run python benchmarks/featurize_throughput.py
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from foundation_model.data.matbench import load_matbench_task, read_matbench_task
from foundation_model.features.pipeline import featurize_table
from foundation_model.features.table_io import write_json


def measure(formulas: list[str], preset: str, n_jobs: int, cache_dir: Path) -> dict[str, float]:
    """Time one cold (empty cache) and one cached featurization of ``formulas``.

    Args:
        formulas: formula strings.
        preset: composition preset.
        n_jobs: worker processes.
        cache_dir: an empty cache folder.
    """
    import pandas as pd

    df = pd.DataFrame({"formula": formulas})
    out: dict[str, float] = {
        "n_formulas": len(formulas),
        "n_unique": len(set(formulas)),
        "n_jobs": n_jobs,
    }
    for label in ("cold", "cached"):
        start = time.perf_counter()
        res = featurize_table(
            df, "formula", preset, cache_dir=cache_dir, n_jobs=n_jobs, progress=False
        )
        seconds = time.perf_counter() - start
        assert res.info["cache_hit"] == (label == "cached")
        out[f"{label}_seconds"] = seconds
        out[f"{label}_formulas_per_s"] = len(formulas) / seconds
    out["n_columns"] = res.features.shape[1]
    out["n_failed"] = len(res.errors)
    return out


def main() -> None:
    """Measure magpie and rich presets on matbench_expt_gap formulas with 1 and 2 processes."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--task", default="matbench_expt_gap")
    p.add_argument("--out", type=Path, default=Path("results/bench/featurize.json"))
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = p.parse_args()
    task = read_matbench_task("data/matbench", args.task) or load_matbench_task(args.task)
    formulas = task.table["formula"].tolist()
    runs = []
    for preset in ("magpie", "rich"):
        for n_jobs in args.jobs:
            with tempfile.TemporaryDirectory() as tmp:
                row = {"preset": preset, **measure(formulas, preset, n_jobs, Path(tmp))}
            print(row)
            runs.append(row)
    write_json(
        {
            "task": task.name,
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "note": "cold = empty cache (incl. worker start-up); cached = same call again",
            "runs": runs,
        },
        args.out,
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
