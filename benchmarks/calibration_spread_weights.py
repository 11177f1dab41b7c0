"""Weigh the two parts of the spread before the σ map: does it calibrate σ better?

A model with an ensemble and a noise head has two sources of spread: the members'
disagreement and the noise head's predicted std. ``spread^2`` is their plain sum of squares.
Here the noise part gets its own weight ``w`` (Gaussian likelihood on validation rows,
:func:`~foundation_model.models.calibration.fit_spread_weight`), the default σ map
(``matched``) is fitted on ``sqrt(ensemble^2 + (w noise)^2)``, and the result is compared
with the default map on the plain spread. Inputs are the ``<task>_uncertainty.npz`` files
of uncertainty runs of ``fm bench matbench`` made with code that keeps the two parts
(``spread_ensemble``, ``spread_noise``).

Decision on validation rows only: per fold, the validation rows are split in two halves at
random (seed 0); each method is fitted on one half and scored on the other, both ways, and
the miscalibration area of the pooled cross-fitted validation rows decides. The test rows
are scored with maps fitted on all of a fold's validation rows, and reported beside.

    uv run python benchmarks/calibration_spread_weights.py \\
        results/bench/calibration/noise_head/k5/matbench_*_uncertainty.npz \\
        --out results/bench/calibration/spread_weights
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
    SigmaMapFit,
    fit_one_part,
    fit_two_part,
    fold_sigmas,
    scored_calibration,
)

PARTS = ("spread_ensemble", "spread_noise")

#: ``matched``: the model's default, the default map on the plain spread
#: ``hypot(ensemble, noise)``; ``reweighted``: the default map on ``hypot(ensemble, w noise)``
#: with ``w`` by likelihood on the same rows
METHODS: dict[str, SigmaMapFit] = {"matched": fit_one_part, "reweighted": fit_two_part}


def _signals(a: np.lib.npyio.NpzFile, prefix: str, method: str) -> tuple[np.ndarray, np.ndarray]:
    """``(first, second)`` of a method: the plain spread for ``matched``, else the parts."""
    ens, noise = a[f"{prefix}spread_ensemble"], a[f"{prefix}spread_noise"]
    return (np.hypot(ens, noise), noise) if method == "matched" else (ens, noise)


def evaluate(path: Path, seed: int = 0) -> dict:
    """Cross-fitted validation and test calibration of every method on one run's arrays."""
    a = np.load(path)
    missing = [f"{p}{k}" for p in ("", "val_") for k in PARTS if f"{p}{k}" not in a.files]
    if missing:
        raise ValueError(
            f"{path}: no {', '.join(missing)}; rerun the task with an ensemble and a noise "
            "head using code that keeps the spread's parts."
        )
    val_sigma, test_sigma, weights = {}, {}, []
    for name, fit in METHODS.items():
        vf, vs = _signals(a, "val_", name)
        tf, ts = _signals(a, "", name)
        val = {"y": a["val_y"], "mu": a["val_values"], "first": vf, "second": vs}
        val["fold"] = a["val_fold"]
        test = {"first": tf, "second": ts, "fold": a["fold"]}
        val_sigma[name], test_sigma[name], w = fold_sigmas(fit, val, test, seed)
        if name == "reweighted":
            weights = w
    return {
        "file": str(path),
        "task": path.name.removesuffix("_uncertainty.npz"),
        "n_val": int(a["val_y"].size),
        "n_test": int(a["y"].size),
        "noise_weights": weights,
        "validation": {
            n: scored_calibration(a["val_y"], a["val_values"], s) for n, s in val_sigma.items()
        },
        "test": {n: scored_calibration(a["y"], a["values"], s) for n, s in test_sigma.items()},
    }


def decision(rows: list[dict]) -> dict:
    """Tasks where ``reweighted`` has the lower cross-fitted validation miscalibration area;
    it is adopted when that holds on at least three quarters of them."""
    wins = [
        r["task"]
        for r in rows
        if r["validation"]["reweighted"]["miscalibration_area"]
        < r["validation"]["matched"]["miscalibration_area"]
    ]
    return {"wins": wins, "tasks": len(rows), "adopt": len(wins) >= 0.75 * len(rows)}


def markdown(rows: list[dict]) -> str:
    """The report: validation areas (the decision), then test coverage."""

    def cov(m: dict) -> str:
        return f"{m['coverage_1sigma']:.3f} / {m['coverage_2sigma']:.3f}" + (
            " ✓" if m["in_goal"] else ""
        )

    d = decision(rows)
    lines = [
        "# Weighing the two parts of the spread (members, noise head) before the σ map",
        "",
        "`reweighted`: the noise head's std gets a weight `w` fitted by Gaussian likelihood on "
        "validation rows, then the default `matched` map is fitted on "
        "`sqrt(ensemble^2 + (w noise)^2)`. `matched`: the default map on the plain spread. "
        "Rule, fixed before any result: adopt `reweighted` if its miscalibration area on "
        "cross-fitted validation rows (fit on one half of a fold's validation rows, score on "
        "the other, both ways) is lower on at least three quarters of the tasks. Test rows "
        "are scored with maps fitted on all validation rows. Goal (issue 7): ±1σ 0.61–0.75 "
        "and ±2σ 0.91–0.99. Made by `benchmarks/calibration_spread_weights.py`.",
        "",
        "| task | val area matched | val area reweighted | w per fold | test ±1σ / ±2σ "
        "matched | test ±1σ / ±2σ reweighted | test area matched / reweighted | test Spearman "
        "matched / reweighted |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        v, t = r["validation"], r["test"]
        lines.append(
            f"| {r['task'].removeprefix('matbench_')} "
            f"| {v['matched']['miscalibration_area']:.3f} "
            f"| {v['reweighted']['miscalibration_area']:.3f} "
            f"| {', '.join(f'{w:.2g}' for w in r['noise_weights'])} "
            f"| {cov(t['matched'])} | {cov(t['reweighted'])} "
            f"| {t['matched']['miscalibration_area']:.3f} / "
            f"{t['reweighted']['miscalibration_area']:.3f} "
            f"| {t['matched']['spearman_error_sigma']:.2f} / "
            f"{t['reweighted']['spearman_error_sigma']:.2f} |"
        )
    verdict = "adopt" if d["adopt"] else "do not adopt"
    lines += [
        "",
        f"Validation decides: `reweighted` has the lower area on {len(d['wins'])} of "
        f"{d['tasks']} tasks ({', '.join(w.removeprefix('matbench_') for w in d['wins']) or '-'})"
        f" → **{verdict}**.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Evaluate every run and write ``<out>.json`` and ``<out>.md``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", type=Path, nargs="+", help="<task>_uncertainty.npz files")
    p.add_argument("--out", type=Path, default=ROOT / "results/bench/calibration/spread_weights")
    args = p.parse_args(argv)
    missing = [f for f in args.runs if not f.is_file()]
    if missing:
        print(f"calibration_spread_weights: error: not found: {', '.join(map(str, missing))}.")
        return 2
    try:
        rows = [evaluate(f) for f in args.runs]
    except ValueError as err:
        print(f"calibration_spread_weights: error: {err}")
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {"runs": rows, "decision": decision(rows)}
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(rows)
    args.out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
