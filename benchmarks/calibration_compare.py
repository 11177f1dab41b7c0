"""Compare two uncertainty runs of the same tasks (a base and a variant configuration) on
cross-fitted validation rows, which decide, and on the test rows, read afterwards.

Both runs are ``fm bench matbench`` uncertainty runs (``<dir>/<task>_uncertainty.npz``), e.g.
``*_k5noise.yaml`` and a variant of it. For each task and run the default σ map
(:func:`~foundation_model.models.calibration.fit_sigma_calibration`) is cross-fitted on the
validation rows (fit on one random half of a fold's validation rows, score on the other,
both ways; :func:`~foundation_model.models.calibration.cross_fitted`); the validation MAE is
that of the saved validation predictions. The variant is adopted when, on at least three
quarters of the tasks, its cross-fitted validation miscalibration area is lower **and**, on
at least three quarters, its validation MAE is not higher. Test coverage, area, Spearman and
MAE of both runs (the runs' own σ) are reported beside the decision.

    uv run python benchmarks/calibration_compare.py \\
        --base results/bench/calibration/noise_head/k5 \\
        --variant results/bench/calibration/noise_head/k5log \\
        --tasks jdft2d phonons steels dielectric \\
        --out results/bench/calibration/compare_log
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from foundation_model.models.calibration import (  # noqa: E402
    calibration_metrics,
    cross_fitted,
    fit_sigma_calibration,
    in_coverage_goal,
)


def run_metrics(path: Path, seed: int = 0) -> dict:
    """Cross-fitted validation and test metrics of one run's arrays."""
    a = np.load(path)
    y, mu, spread = a["val_y"], a["val_values"], a["val_spread"]

    def fit_apply(fit_rows: np.ndarray, score_rows: np.ndarray) -> np.ndarray:
        scale, floor = fit_sigma_calibration(y[fit_rows], mu[fit_rows], spread[fit_rows])
        return np.sqrt((scale * spread[score_rows]) ** 2 + floor**2)

    val = calibration_metrics(y, mu, cross_fitted(a["val_fold"], fit_apply, seed))
    val["mae"] = float(np.mean(np.abs(y - mu)))
    test = calibration_metrics(a["y"], a["values"], a["std"])
    test["mae"] = float(np.mean(np.abs(a["y"] - a["values"])))
    test["in_goal"] = in_coverage_goal(test)
    return {"validation": val, "test": test}


def task_name(task: str) -> str:
    """``matbench_<task>`` for a short or full Matbench task name."""
    return task if task.startswith("matbench_") else f"matbench_{task}"


def compare(base: Path, variant: Path, tasks: list[str]) -> dict:
    """Per task both runs' metrics, and the decision."""
    rows = []
    for task in tasks:
        name = task_name(task)
        rows.append(
            {
                "task": name,
                "base": run_metrics(base / f"{name}_uncertainty.npz"),
                "variant": run_metrics(variant / f"{name}_uncertainty.npz"),
            }
        )
    area_wins = [
        r["task"]
        for r in rows
        if r["variant"]["validation"]["miscalibration_area"]
        < r["base"]["validation"]["miscalibration_area"]
    ]
    mae_ok = [
        r["task"]
        for r in rows
        if r["variant"]["validation"]["mae"] <= r["base"]["validation"]["mae"]
    ]
    need = 0.75 * len(rows)
    return {
        "rows": rows,
        "decision": {
            "lower_validation_area": area_wins,
            "validation_mae_not_higher": mae_ok,
            "adopt": len(area_wins) >= need and len(mae_ok) >= need,
        },
    }


def markdown(result: dict, base: Path, variant: Path) -> str:
    """The report."""

    def cov(m: dict) -> str:
        mark = " ✓" if m.get("in_goal") else ""
        return f"{m['coverage_1sigma']:.3f} / {m['coverage_2sigma']:.3f}{mark}"

    lines = [
        f"# Uncertainty runs compared: `{variant}` (variant) vs `{base}` (base)",
        "",
        "Decision on validation rows only: the variant is adopted when its cross-fitted "
        "miscalibration area is lower on at least three quarters of the tasks and its "
        "validation MAE is not higher on at least three quarters. Test columns are the runs' "
        "own σ on the test folds, read after the decision. Goal (issue 7): ±1σ 0.61–0.75 and "
        "±2σ 0.91–0.99. Made by `benchmarks/calibration_compare.py`.",
        "",
        "| task | val area base / variant | val MAE base / variant | test ±1σ / ±2σ base "
        "| test ±1σ / ±2σ variant | test area base / variant | test Spearman base / variant "
        "| test MAE base / variant |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        vb, vv = r["base"]["validation"], r["variant"]["validation"]
        tb, tv = r["base"]["test"], r["variant"]["test"]
        lines.append(
            f"| {r['task'].removeprefix('matbench_')} "
            f"| {vb['miscalibration_area']:.3f} / {vv['miscalibration_area']:.3f} "
            f"| {vb['mae']:.4g} / {vv['mae']:.4g} | {cov(tb)} | {cov(tv)} "
            f"| {tb['miscalibration_area']:.3f} / {tv['miscalibration_area']:.3f} "
            f"| {tb['spearman_error_sigma']:.2f} / {tv['spearman_error_sigma']:.2f} "
            f"| {tb['mae']:.4g} / {tv['mae']:.4g} |"
        )
    d = result["decision"]
    n = len(result["rows"])
    lines += [
        "",
        f"Lower validation area on {len(d['lower_validation_area'])} of {n} tasks; validation "
        f"MAE not higher on {len(d['validation_mae_not_higher'])} of {n} → "
        f"**{'adopt' if d['adopt'] else 'do not adopt'}**.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Compare the runs and write ``<out>.json`` and ``<out>.md``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", type=Path, required=True, help="folder of the base runs")
    p.add_argument("--variant", type=Path, required=True, help="folder of the variant runs")
    p.add_argument("--tasks", nargs="+", required=True, help="Matbench task names")
    p.add_argument("--out", type=Path, required=True, help="report path without suffix")
    args = p.parse_args(argv)
    paths = [
        d / f"{task_name(t)}_uncertainty.npz" for d in (args.base, args.variant) for t in args.tasks
    ]
    missing = [str(f) for f in paths if not f.is_file()]
    if missing:
        print(f"calibration_compare: error: not found: {', '.join(missing)}.")
        return 2
    result = compare(args.base, args.variant, args.tasks)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result, args.base, args.variant)
    args.out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
